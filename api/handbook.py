"""API: the growth handbook (智慧家长成长手册) for a family and for its verifiers (docs/API.md).

The same selectors and services as the handbook pages: a family reads its
handbook (``handbook.selectors.handbook_for_family``) and this term's progress
(``family_progress``), claims an item (``handbook.services.claim_submit``, with an
optional photo as ``multipart/form-data`` or without one as JSON, and an
``Idempotency-Key``), withdraws a claim or answers a verifier's question. The
limits are the database's (``ClaimTally``), so neither the API nor a new token
lifts what the page refused. Verifiers (staff who see the claim's unit) page
through the queue (``claims_queue``; lists show the family's label, never a
child's name), open a claim, decide it, and approve attendance-backed claims in
bulk. Another family's or another unit's claim is 404, like a missing one.
"""

import datetime
import json
from contextlib import contextmanager
from typing import Annotated, Literal

import pydantic
from django.core.exceptions import SuspiciousOperation
from django.http import Http404
from django.http.multipartparser import MultiPartParserError
from ninja import Path, Query, Router, Schema
from ninja.errors import ValidationError as SchemaValidationError
from pydantic import Field

from courses.services import family_of
from handbook import selectors, services
from handbook.errors import HandbookError
from handbook.models import Claim, HandbookItem, ItemKind
from members.access import can_view_unit
from parent_school.selectors import term_current
from recognition import selectors as recognition_selectors

from .auth import require_scope, signed_in
from .catalogue import MAX_ID, object_id
from .core import register_rule_errors
from .idempotency import idempotent
from .pagination import keyset_page
from .schemas import ErrorOut
from .staff import UnitOut

register_rule_errors(HandbookError)

router = Router(tags=["handbook"])
STAFF_TAGS = ["handbook", "staff"]  # verifier operations: called with a coordinator's token

CLAIM_LIMIT = 20
CLAIM_MAX_LIMIT = 50
MAX_BULK = 100
NOTE_MAX = 500
REASON_MAX = 200
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")

READ_ANSWERS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ANSWERS = {**READ_ANSWERS, 503: ErrorOut}

ClaimStatus = Literal.__getitem__(tuple(Claim.Status.values))
ClaimSource = Literal.__getitem__(tuple(Claim.Source.values))
Kind = Literal.__getitem__(tuple(ItemKind.values))
ClaimId = Annotated[int, Field(ge=1, le=MAX_ID)]


# The services name the pages' form fields; the API's bodies name the ids.
API_FIELDS = {"item": "item_id", "child": "child_id"}


@contextmanager
def _api_fields():
    """A refusal naming a form field names the body's field instead (``item`` → ``item_id``)."""
    try:
        yield
    except HandbookError as error:
        if error.field in API_FIELDS:
            error.fields = {API_FIELDS[error.field]: str(error.message)}
        raise


def _family(request):
    family = family_of(request.user)
    if family is None:
        raise HandbookError("no_family")
    return family


# Bodies: JSON, or a form with a photo ----------------------------------------------


def _form_schema(model: type[Schema]) -> dict:
    """The model's fields as form fields (no nulls in a form: leave it out), plus the photo."""
    schema = model.model_json_schema()
    properties = {}
    for name, prop in schema.get("properties", {}).items():
        options = [o for o in prop.get("anyOf", []) if o.get("type") != "null"]
        if options:
            prop = {**{k: v for k, v in prop.items() if k != "anyOf"}, **options[0]}
            prop.pop("default", None)
        properties[name] = prop
    properties["photo"] = {
        "type": "string",
        "format": "binary",
        "title": "Photo",
        "description": "照片（JPG、PNG 或 WebP；项目要求照片时必填）",
    }
    return {
        "type": "object",
        "title": f"{schema.get('title', model.__name__)}Form",
        "properties": properties,
        "required": schema.get("required", []),
    }


def _json_or_form(model: type[Schema]) -> dict:
    """OpenAPI for a body that is either JSON (no photo) or a form with a photo."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": model.model_json_schema()},
                "multipart/form-data": {"schema": _form_schema(model)},
            },
        }
    }


def _invalid(loc: str, kind: str = "value_error"):
    return SchemaValidationError([{"loc": ("body", loc), "type": kind, "msg": ""}])


def _read_body(request, model: type[Schema]):
    """(payload, photo): the body as JSON, or as a form with an optional ``photo`` file."""
    photo = None
    if request.content_type in FORM_TYPES:
        try:
            data = {name: request.POST.get(name) for name in request.POST}
            photo = request.FILES.get("photo")
        except (MultiPartParserError, SuspiciousOperation):
            raise _invalid("body") from None
        # A form has no null: an empty optional field is left out.
        data = {name: value for name, value in data.items() if value != ""}
    else:
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            raise _invalid("body") from None
        if not isinstance(data, dict):
            raise _invalid("body")
    try:
        payload = model.model_validate(data)
    except pydantic.ValidationError as error:
        raise SchemaValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False)]
        ) from None
    return payload, photo


# The handbook -------------------------------------------------------------------------


class ItemOut(Schema):
    id: int
    kind: str
    kind_label: str
    name: str
    description: str
    points: int
    evidence: str = Field(
        description="none 无需凭证 · note 文字说明 · photo 照片 · attendance 签到记录（自动生成，"
        "不能手动申报） · cosign 老师或讲师确认"
    )
    evidence_label: str
    claimable: bool = Field(description="可以手动申报（签到记录项目自动生成）")
    limit_per_day: int | None = None
    limit_per_week: int | None = None
    limit_per_term: int | None = None
    is_sample: bool = Field(description="示例名称，待联盟确认")


def _item_out(item: HandbookItem) -> ItemOut:
    return ItemOut(
        id=item.pk,
        kind=item.kind,
        kind_label=item.get_kind_display(),
        name=item.name,
        description=item.description,
        points=item.points,
        evidence=item.evidence,
        evidence_label=item.get_evidence_display(),
        claimable=item.evidence != HandbookItem.Evidence.ATTENDANCE,
        limit_per_day=item.limit_per_day,
        limit_per_week=item.limit_per_week,
        limit_per_term=item.limit_per_term,
        is_sample=item.is_sample,
    )


class KindOut(Schema):
    kind: str
    label: str
    target: int | None = Field(
        None, description="本类要完成的项目数（10 项在家、4 种在校；好行为不限）"
    )
    items: list[ItemOut]


class HandbookOut(Schema):
    has_family: bool = Field(description="还没有家庭信息时为 false（先完善家庭信息）")
    alliance: str | None = Field(None, description="联盟的手册；null 为全区默认手册")
    kinds: list[KindOut] = Field(default_factory=list)


def _kind_label(kind: str) -> str:
    return str(ItemKind(kind).label)


@router.get(
    "/",
    auth=signed_in,
    response={200: HandbookOut, **READ_ANSWERS},
    summary="本家庭的成长手册：各类项目、积分、凭证与次数上限",
)
def handbook(request):
    require_scope(request, "read")
    family = family_of(request.user)
    if family is None:
        return HandbookOut(has_family=False)
    book = selectors.handbook_for_family(family=family)
    return HandbookOut(
        has_family=True,
        alliance=book.alliance.name if book.alliance is not None else None,
        kinds=[
            KindOut(
                kind=kind,
                label=_kind_label(kind),
                target=book.targets.get(kind),
                items=[_item_out(item) for item in book.items.get(kind, [])],
            )
            for kind in ItemKind.values
        ],
    )


# The family's claims ---------------------------------------------------------------


class ClaimOut(Schema):
    """A claim of the caller's family."""

    id: int
    item_id: int
    item: str
    kind: str
    kind_label: str
    child_id: int | None = None
    child: str | None = Field(None, description="孩子的昵称（本家庭）")
    occurred_on: datetime.date
    note: str
    has_photo: bool
    source: str = Field(description="parent 家长申报 · attendance 签到记录自动生成")
    status: str = Field(
        description="pending 待审核 · more_info 需补充 · approved 已通过 · rejected 未通过 · "
        "withdrawn 已撤回"
    )
    status_label: str
    points: int = Field(description="通过后获得的积分")
    decision_reason: str = Field(description="不通过的原因，或需要补充的内容")
    created_at: datetime.datetime
    decided_at: datetime.datetime | None = None
    can_withdraw: bool
    can_respond: bool


def _child_nickname(claim: Claim) -> str | None:
    return claim.child.nickname if claim.child_id and claim.child is not None else None


def _claim_out(claim: Claim) -> ClaimOut:
    status = claim.status
    return ClaimOut(
        id=claim.pk,
        item_id=claim.item_id,
        item=claim.item.name,
        kind=claim.item.kind,
        kind_label=claim.item.get_kind_display(),
        child_id=claim.child_id,
        child=_child_nickname(claim),
        occurred_on=claim.occurred_on,
        note=claim.note,
        has_photo=bool(claim.photo),
        source=claim.source,
        status=status,
        status_label=claim.get_status_display(),
        points=claim.points,
        decision_reason=claim.decision_reason,
        created_at=claim.created_at,
        decided_at=claim.decided_at,
        can_withdraw=status in (Claim.Status.PENDING, Claim.Status.MORE_INFO),
        can_respond=status == Claim.Status.MORE_INFO,
    )


def _family_claim_out(request, claim_id: int) -> ClaimOut:
    """The claim as its family reads it now; another family's is 404, like a missing one."""
    return _claim_out(selectors.claim_for_family(user=request.user, claim_id=claim_id))


class KindProgressOut(Schema):
    kind: str
    label: str
    points: int
    done: int = Field(description="已通过的不同项目数")
    items: int = Field(description="本类在用的项目数")
    target: int | None = Field(
        None, description="要完成的项目数（10 项、4 种；好行为为 null：不限）"
    )


class TermOut(Schema):
    id: int
    name: str
    starts_on: datetime.date
    ends_on: datetime.date


def _term_out(term) -> TermOut:
    return TermOut(id=term.pk, name=str(term), starts_on=term.starts_on, ends_on=term.ends_on)


class ProgressOut(Schema):
    term: TermOut | None = Field(None, description="当前学期；没有进行中的学期时为 null")
    points: int = Field(0, description="本学期已通过的积分")
    kinds: list[KindProgressOut] = Field(default_factory=list)
    pending: list[ClaimOut] = Field(default_factory=list)
    more_info: list[ClaimOut] = Field(default_factory=list, description="审核人要求补充的申报")
    rejected: list[ClaimOut] = Field(default_factory=list, description="未通过的申报（附原因）")


@router.get(
    "/progress/",
    auth=signed_in,
    response={200: ProgressOut, **READ_ANSWERS},
    summary="本学期进度：各类积分与完成项目数，待审核、需补充与未通过（附原因）",
)
def progress(request):
    require_scope(request, "read")
    family = _family(request)
    term = term_current()
    if term is None:
        return ProgressOut()
    done = selectors.family_progress(family=family, term=term)
    return ProgressOut(
        term=_term_out(term),
        points=done.points_total,
        kinds=[
            KindProgressOut(
                kind=k.kind,
                label=k.label,
                points=k.points,
                done=k.items_done,
                items=k.items_total,
                target=k.target,
            )
            for k in done.kinds
        ],
        pending=[_claim_out(c) for c in done.pending],
        more_info=[_claim_out(c) for c in done.more_info],
        rejected=[_claim_out(c) for c in done.rejected],
    )


class ClaimListOut(Schema):
    items: list[ClaimOut]
    next_cursor: str | None = None
    limit: int


class ClaimListQuery(Schema):
    status: ClaimStatus | None = Field(None, description="只看这个状态的申报")
    cursor: str | None = Field(None, description="上一页答复的 next_cursor")
    limit: int = Field(CLAIM_LIMIT, ge=1, le=CLAIM_MAX_LIMIT)


@router.get(
    "/claims/",
    auth=signed_in,
    response={200: ClaimListOut, **READ_ANSWERS},
    summary="本家庭的申报（新的在前，按游标翻页）",
)
def claim_list(request, query: Query[ClaimListQuery]):
    require_scope(request, "read")
    family = _family(request)
    status = query.status or ""
    claims = selectors.family_claims(family=family, term=None)
    if status:
        claims = claims.filter(status=status)
    rows, next_cursor = keyset_page(
        claims,
        order=("-created_at", "-pk"),
        cursor=query.cursor,
        limit=query.limit,
        scope=f"handbook.claims:{family.pk}:{status}",
    )
    return ClaimListOut(
        items=[_claim_out(c) for c in rows], next_cursor=next_cursor, limit=query.limit
    )


class ClaimIn(Schema):
    item_id: int = object_id(description="手册项目的 id（见 GET /handbook/）")
    occurred_on: datetime.date = Field(description="哪一天（本学期内，不晚于今天）")
    child_id: int | None = object_id(default=None, description="哪个孩子（可不选）")
    note: str = Field("", max_length=NOTE_MAX, description="说明（项目要求文字说明时必填）")


@router.post(
    "/claims/",
    auth=signed_in,
    response={201: ClaimOut, **WRITE_ANSWERS},
    summary="申报一个项目（JSON；要附照片时用 multipart/form-data 的 photo）",
    openapi_extra=_json_or_form(ClaimIn),
)
@idempotent
def claim_submit(request):
    require_scope(request, "write")
    payload, photo = _read_body(request, ClaimIn)
    with _api_fields():
        claim = services.claim_submit(
            user=request.user,
            item_id=payload.item_id,
            occurred_on=payload.occurred_on,
            child_id=payload.child_id,
            note=payload.note,
            photo=photo,
        )
    return 201, _family_claim_out(request, claim.pk)


@router.get(
    "/claims/{claim_id}/",
    auth=signed_in,
    response={200: ClaimOut, **READ_ANSWERS},
    summary="本家庭的一条申报",
)
def claim_detail(request, claim_id: int = Path(..., ge=1, le=MAX_ID)):
    require_scope(request, "read")
    return _family_claim_out(request, claim_id)


@router.post(
    "/claims/{claim_id}/withdraw/",
    auth=signed_in,
    response={200: ClaimOut, **WRITE_ANSWERS},
    summary="撤回待审核或需补充的申报（释放次数上限）",
)
@idempotent
def claim_withdraw(request, claim_id: int = Path(..., ge=1, le=MAX_ID)):
    require_scope(request, "write")
    services.claim_withdraw(user=request.user, claim_id=claim_id)
    return 200, _family_claim_out(request, claim_id)


class RespondIn(Schema):
    note: str = Field("", max_length=NOTE_MAX, description="补充的说明")


@router.post(
    "/claims/{claim_id}/respond/",
    auth=signed_in,
    response={200: ClaimOut, **WRITE_ANSWERS},
    summary="回应审核人的补充要求（说明，或 multipart/form-data 的 photo），重新待审核",
    openapi_extra=_json_or_form(RespondIn),
)
@idempotent
def claim_respond(request, claim_id: int = Path(..., ge=1, le=MAX_ID)):
    require_scope(request, "write")
    payload, photo = _read_body(request, RespondIn)
    services.claim_respond(user=request.user, claim_id=claim_id, note=payload.note, photo=photo)
    return 200, _family_claim_out(request, claim_id)


# 学习型家庭 ---------------------------------------------------------------------------


class RuleLineOut(Schema):
    name: str = Field(description="条件的代码（min_points、min_home_items …）")
    text: str = Field(description="条件，用平常话说")
    value: str = Field(description="本家庭目前的情况")
    met: bool


class LearningFamilyAllianceOut(Schema):
    alliance_id: int
    alliance: str
    met: bool = Field(description="全部条件都已达到")
    lines: list[RuleLineOut]
    published: bool = Field(description="本学期的名单已公布")
    on_list: bool = Field(description="本家庭在已公布的名单上")


class LearningFamilyOut(Schema):
    term: TermOut | None = Field(None, description="当前学期；没有进行中的学期时为 null")
    alliances: list[LearningFamilyAllianceOut] = Field(
        default_factory=list, description="本家庭所在的、本学期定了评选条件的联盟"
    )


@router.get(
    "/learning-family/",
    auth=signed_in,
    response={200: LearningFamilyOut, **READ_ANSWERS},
    summary="学习型家庭：本学期各联盟的评选条件与本家庭的进度",
)
def learning_family(request):
    require_scope(request, "read")
    family = _family(request)
    term = term_current()
    if term is None:
        return LearningFamilyOut()
    return LearningFamilyOut(
        term=_term_out(term),
        alliances=[
            LearningFamilyAllianceOut(
                alliance_id=p.alliance.pk,
                alliance=p.alliance.name,
                met=p.met,
                lines=[
                    RuleLineOut(
                        name=line.name, text=str(line.text), value=str(line.value), met=line.met
                    )
                    for line in p.lines
                ],
                published=p.published,
                on_list=p.on_list,
            )
            for p in recognition_selectors.learning_family_progress(family=family, term=term)
        ],
    )


# Verifiers ---------------------------------------------------------------------------


class ReviewCardOut(Schema):
    """A claim in the verifier's queue: the family's label, never a child's name."""

    id: int
    family: str = Field(description="家庭的标识（列表中从不显示孩子的名字）")
    item_id: int
    item: str
    kind: str
    kind_label: str
    points: int = Field(description="项目的积分（通过后获得）")
    occurred_on: datetime.date
    source: str
    status: str
    status_label: str
    unit: UnitOut
    has_note: bool
    has_photo: bool
    flag_burst: bool = Field(description="这户家庭短时间内大量申报")
    flag_reused_photo: bool = Field(description="同一张照片已用于另一条申报")
    created_at: datetime.datetime


def _card_fields(claim: Claim) -> dict:
    return {
        "id": claim.pk,
        "family": selectors.family_label(claim.family_id),
        "item_id": claim.item_id,
        "item": claim.item.name,
        "kind": claim.item.kind,
        "kind_label": claim.item.get_kind_display(),
        "points": claim.item.points,
        "occurred_on": claim.occurred_on,
        "source": claim.source,
        "status": claim.status,
        "status_label": claim.get_status_display(),
        "unit": UnitOut(id=claim.unit_id, name=claim.unit.name),
        "has_note": bool(claim.note),
        "has_photo": bool(claim.photo),
        "flag_burst": claim.flag_burst,
        "flag_reused_photo": claim.flag_reused_photo,
        "created_at": claim.created_at,
    }


class ReviewListOut(Schema):
    items: list[ReviewCardOut]
    next_cursor: str | None = None
    limit: int


class ReviewQuery(Schema):
    status: ClaimStatus = Field(Claim.Status.PENDING, description="默认只看待审核的")
    unit_id: int | None = object_id(default=None, description="只看这个审核单位的")
    kind: Kind | None = Field(None, description="只看这一类项目")
    source: ClaimSource | None = Field(None, description="只看家长申报或签到记录生成的")
    cursor: str | None = Field(None, description="上一页答复的 next_cursor")
    limit: int = Field(CLAIM_LIMIT, ge=1, le=CLAIM_MAX_LIMIT)


@router.get(
    "/review/",
    auth=signed_in,
    tags=STAFF_TAGS,
    response={200: ReviewListOut, **READ_ANSWERS},
    summary="审核队列：本人可审核单位的申报（最早的在前，按游标翻页）",
)
def review_queue(request, query: Query[ReviewQuery]):
    require_scope(request, "read")
    unit_id = query.unit_id
    if unit_id is not None and not can_view_unit(request.user, unit_id):
        raise Http404  # another unit's queue is not there for this caller, like a missing unit
    rows, next_cursor = keyset_page(
        selectors.claims_queue(
            user=request.user,
            status=query.status,
            unit_id=unit_id,
            kind=query.kind,
            source=query.source,
        ),
        order=("created_at", "pk"),
        cursor=query.cursor,
        limit=query.limit,
        scope=(
            f"handbook.review:{request.user.pk}:{query.status}:{unit_id or ''}:"
            f"{query.kind or ''}:{query.source or ''}"
        ),
    )
    return ReviewListOut(
        items=[ReviewCardOut(**_card_fields(c)) for c in rows],
        next_cursor=next_cursor,
        limit=query.limit,
    )


# Declared before /review/{claim_id}/, whose pattern would take "bulk-approve" too.
class BulkApproveIn(Schema):
    claim_ids: list[ClaimId] = Field(
        min_length=1,
        max_length=MAX_BULK,
        description="根据签到记录生成的待审核申报的 id（都须是本人可审核的）",
    )


class BulkApproveOut(Schema):
    approved: int


@router.post(
    "/review/bulk-approve/",
    auth=signed_in,
    tags=STAFF_TAGS,
    response={200: BulkApproveOut, **WRITE_ANSWERS},
    summary="批量通过根据签到记录生成的申报",
)
@idempotent
def review_bulk_approve(request, payload: BulkApproveIn):
    require_scope(request, "write")
    ids = sorted(set(payload.claim_ids))
    # Every id must be a claim this verifier sees: another unit's is 404, like a missing one.
    seen = set(
        selectors.claims_verifiable_by(request.user).filter(pk__in=ids).values_list("pk", flat=True)
    )
    if seen != set(ids):
        raise HandbookError("claim_missing", field="claim_ids")
    approved = services.claims_bulk_approve(user=request.user, claim_ids=ids)
    return 200, BulkApproveOut(approved=approved)


class ReviewClaimOut(ReviewCardOut):
    """One claim as its verifier opens it: the child's nickname and the note too."""

    child: str | None = Field(None, description="孩子的昵称（只在审核详情中显示）")
    note: str
    decision_reason: str
    decided_at: datetime.datetime | None = None


def _review_out(request, claim_id: int) -> ReviewClaimOut:
    claim = selectors.claim_for_verifier(user=request.user, claim_id=claim_id)
    return ReviewClaimOut(
        **_card_fields(claim),
        child=_child_nickname(claim),
        note=claim.note,
        decision_reason=claim.decision_reason,
        decided_at=claim.decided_at,
    )


@router.get(
    "/review/{claim_id}/",
    auth=signed_in,
    tags=STAFF_TAGS,
    response={200: ReviewClaimOut, **READ_ANSWERS},
    summary="审核一条申报：详情",
)
def review_detail(request, claim_id: int = Path(..., ge=1, le=MAX_ID)):
    require_scope(request, "read")
    return _review_out(request, claim_id)


class DecisionIn(Schema):
    decision: Literal["approve", "reject", "more"] = Field(
        description="approve 通过 · reject 不通过 · more 需补充"
    )
    reason: str = Field("", max_length=REASON_MAX, description="不通过或需补充时必填")


@router.post(
    "/review/{claim_id}/decision/",
    auth=signed_in,
    tags=STAFF_TAGS,
    response={200: ReviewClaimOut, **WRITE_ANSWERS},
    summary="审核：通过、不通过（附原因）或要求补充",
)
@idempotent
def review_decide(request, payload: DecisionIn, claim_id: int = Path(..., ge=1, le=MAX_ID)):
    require_scope(request, "write")
    services.claim_decide(
        user=request.user, claim_id=claim_id, decision=payload.decision, reason=payload.reason
    )
    return 200, _review_out(request, claim_id)
