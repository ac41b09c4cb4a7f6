"""API: the family: guardians, children (with the children's-information
consent), and the family's calendar feed URL (docs/API.md).

The same rules as the /family/ pages, through the same code: children are
added, changed and removed by ``members.services.child_add`` / ``child_update``
/ ``child_delete`` after ``members.forms.ChildForm`` has checked the fields,
so a wrong field gets the page's Chinese message under its own name. A child is
looked up inside the caller's own family, so another family's id is a 404. A
guardian's phone number is shown masked, as on the family page.
"""

import datetime

from django.http import Http404
from django.urls import reverse
from ninja import Router, Schema

from events import services as event_services
from members import selectors, services
from members.errors import MembersError
from members.forms import ChildForm, GuardianForm
from members.models import ConsentRecord
from members.privacy import mask_phone, person_name

from .auth import require_scope, signed_in
from .errors import ApiError
from .idempotency import idempotent
from .ratelimit import client_ip
from .schemas import ErrorOut

router = Router(tags=["family"], auth=signed_in)

CHILDREN_INFO = ConsentRecord.Document.CHILDREN_INFO
ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


# --- shapes ---------------------------------------------------------------------------


class GuardianOut(Schema):
    id: int
    name: str
    relation: str
    relation_label: str
    phone_masked: str
    is_me: bool


class ChildOut(Schema):
    id: int
    nickname: str
    birth_year: int
    stage: str
    stage_label: str
    school_id: int | None
    school_name: str | None


class ConsentOut(Schema):
    """The children's-information rules: has the caller agreed to the current version?"""

    document: str
    version: str
    agreed: bool
    rules_url: str


class FamilyOut(Schema):
    id: int
    home_community: str | None
    guardians: list[GuardianOut]
    children: list[ChildOut]
    children_consent: ConsentOut


class ChildIn(Schema):
    nickname: str
    birth_year: int
    stage: str = ""
    school_id: int | None = None


class ChildPatch(Schema):
    nickname: str | None = None
    birth_year: int | None = None
    stage: str | None = None
    school_id: int | None = None


class ConsentIn(Schema):
    agree: bool


class CalendarFeedOut(Schema):
    url: str
    created_at: datetime.datetime


# --- helpers --------------------------------------------------------------------------


def form_error(form, *, renamed: dict[str, str] | None = None) -> ApiError:
    """A page form's errors as the API's 400: each message under its (API) field name."""
    renamed = renamed or {}
    fields = {
        renamed.get(name, name if name != "__all__" else "body"): " ".join(str(m) for m in errors)
        for name, errors in form.errors.items()
    }
    return ApiError("invalid", status=400, fields=fields)


def _guardian(request):
    guardian = selectors.guardian_for_user(request.user)
    if guardian is None:
        raise ApiError("no_family", status=404)
    return guardian


def _own_child(request, child_id: int):
    guardian = _guardian(request)
    # Inside the caller's own family: another family's child is "not found".
    child = selectors.family_children(family=guardian.family).filter(pk=child_id).first()
    if child is None:
        raise Http404
    return guardian, child


def _child_out(child) -> ChildOut:
    return ChildOut(
        id=child.pk,
        nickname=child.nickname,
        birth_year=child.birth_year,
        stage=child.stage,
        stage_label=str(child.get_stage_display()),
        school_id=child.school_id,
        school_name=child.school.name if child.school_id else None,
    )


def _consent_out(request) -> ConsentOut:
    return ConsentOut(
        document=CHILDREN_INFO,
        version=selectors.current_version(CHILDREN_INFO),
        agreed=selectors.consent_is_current(user=request.user, document=CHILDREN_INFO),
        rules_url=request.build_absolute_uri(reverse("members:children_rules")),
    )


def _checked_child_fields(values: dict) -> dict:
    """The page's ChildForm decides what is a valid child; its cleaned values go
    to the service."""
    form = ChildForm(
        data={
            "nickname": values.get("nickname") or "",
            "birth_year": "" if values.get("birth_year") is None else str(values["birth_year"]),
            "stage": values.get("stage") or "",
            "school": "" if values.get("school_id") is None else str(values["school_id"]),
        }
    )
    if not form.is_valid():
        raise form_error(form, renamed={"school": "school_id"})
    return form.cleaned_data


# --- the family -----------------------------------------------------------------------


def _family_out(request, guardian) -> FamilyOut:
    family = guardian.family
    guardians = [
        GuardianOut(
            id=g.pk,
            name=person_name(g.user),
            relation=g.relation,
            relation_label=str(g.get_relation_display()),
            phone_masked=mask_phone(g.phone),
            is_me=g.pk == guardian.pk,
        )
        for g in selectors.family_guardians(family=family)
    ]
    return FamilyOut(
        id=family.pk,
        home_community=str(guardian.home_community) if guardian.home_community_id else None,
        guardians=guardians,
        children=[_child_out(c) for c in selectors.family_children(family=family)],
        children_consent=_consent_out(request),
    )


@router.get("", response={200: FamilyOut, **ERRORS}, summary="我的家庭：监护人与孩子")
def family_detail(request):
    require_scope(request, "read")
    return _family_out(request, _guardian(request))


class FamilyIn(Schema):
    """The /family/ page's set-up form: the caller becomes the family's first guardian."""

    relation: str
    display_name: str = ""
    phone: str = ""
    home_community_id: int | None = None


@router.post("", response={201: FamilyOut, **ERRORS}, summary="建立家庭（自己是第一位监护人）")
@idempotent
def family_create(request, payload: FamilyIn):
    # A parent who signed up (or in, from the mini-program) without a family sets
    # it up here, through the page's form and service, before booking.
    require_scope(request, "write")
    form = GuardianForm(
        {
            "relation": payload.relation,
            "display_name": payload.display_name,
            "phone": payload.phone or request.user.phone or "",
            "home_community": payload.home_community_id or "",
        }
    )
    if not form.is_valid():
        raise form_error(form, renamed={"home_community": "home_community_id"})
    services.family_create_for_user(
        user=request.user,
        relation=form.cleaned_data["relation"],
        phone=form.cleaned_data["phone"] or "",
        home_community=form.cleaned_data["home_community"],
        display_name=form.cleaned_data["display_name"],
    )
    return 201, family_detail(request)


@router.get("/consent", response={200: ConsentOut, **ERRORS}, summary="儿童个人信息保护规则")
def consent_detail(request):
    require_scope(request, "read")
    return _consent_out(request)


@router.post("/consent", response={200: ConsentOut, **ERRORS}, summary="同意儿童个人信息保护规则")
def consent_agree(request, payload: ConsentIn):
    require_scope(request, "write")
    if not payload.agree:
        raise ApiError(
            "consent_agree_required",
            status=400,
            fields={"agree": str(ApiError("consent_agree_required").message)},
        )
    if not selectors.consent_is_current(user=request.user, document=CHILDREN_INFO):
        services.consent_record(
            user=request.user,
            document=CHILDREN_INFO,
            family=selectors.family_for_user(request.user),
            ip_address=client_ip(request),
        )
    return _consent_out(request)


# --- children -------------------------------------------------------------------------


@router.post("/children", response={201: ChildOut, **ERRORS}, summary="添加孩子")
@idempotent
def child_create(request, payload: ChildIn):
    require_scope(request, "write")
    guardian = _guardian(request)
    # As the page: the rules come before the form.
    if not selectors.consent_is_current(user=request.user, document=CHILDREN_INFO):
        raise MembersError("consent_required")
    values = _checked_child_fields(payload.model_dump())
    child = services.child_add(
        family=guardian.family,
        actor=request.user,
        nickname=values["nickname"],
        birth_year=values["birth_year"],
        stage=values["stage"],
        school=values["school"],
        ip_address=client_ip(request),
    )
    return 201, _child_out(child)


@router.get("/children/{child_id}", response={200: ChildOut, **ERRORS}, summary="一个孩子")
def child_detail(request, child_id: int):
    require_scope(request, "read")
    _guardian_row, child = _own_child(request, child_id)
    return _child_out(child)


@router.patch("/children/{child_id}", response={200: ChildOut, **ERRORS}, summary="修改孩子信息")
def child_change(request, child_id: int, payload: ChildPatch):
    require_scope(request, "write")
    _guardian_row, child = _own_child(request, child_id)
    values = {
        "nickname": child.nickname,
        "birth_year": child.birth_year,
        "stage": child.stage,
        "school_id": child.school_id,
    }
    values.update(payload.model_dump(exclude_unset=True))
    cleaned = _checked_child_fields(values)
    child = services.child_update(
        child=child,
        actor=request.user,
        nickname=cleaned["nickname"],
        birth_year=cleaned["birth_year"],
        stage=cleaned["stage"],
        school=cleaned["school"],
    )
    return _child_out(child)


@router.delete("/children/{child_id}", response={204: None, **ERRORS}, summary="删除孩子信息")
def child_remove(request, child_id: int):
    require_scope(request, "write")
    _guardian_row, child = _own_child(request, child_id)
    services.child_delete(child=child, actor=request.user, ip_address=client_ip(request))
    return 204, None


# --- the calendar feed ----------------------------------------------------------------


def _feed_out(request, feed) -> CalendarFeedOut:
    path = reverse("events:calendar_feed", kwargs={"token": feed.token})
    return CalendarFeedOut(url=request.build_absolute_uri(path), created_at=feed.created_at)


@router.get("/calendar-feed", response={200: CalendarFeedOut, **ERRORS}, summary="家庭日历订阅链接")
def calendar_feed(request):
    require_scope(request, "read")
    guardian = _guardian(request)
    return _feed_out(request, event_services.calendar_feed_get_or_create(family=guardian.family))


@router.post(
    "/calendar-feed/renew",
    response={200: CalendarFeedOut, **ERRORS},
    summary="停用旧的日历订阅链接并换一个新的",
)
def calendar_feed_renew(request):
    require_scope(request, "write")
    guardian = _guardian(request)
    feed = event_services.calendar_feed_revoke(
        family=guardian.family, revoked_by=request.user, renew=True
    )
    return _feed_out(request, feed)
