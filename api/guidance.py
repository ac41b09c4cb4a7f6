"""API: the growth-guidance station 成长指导工作站 (docs/API.md, docs/GUIDANCE.md).

The same reads and the same one write path as the station's pages:

- stations, their five areas and mentors, a mentor's public profile and free
  slots are public (``guidance.selectors``: ``stations_active``,
  ``station_areas``, ``mentors_for``, ``mentor_public``, ``free_slots``);
- booking is ``guidance.services.consultation_book`` — the function the web
  form calls — so the family's limits at the station (at most N open, M per
  term, held by the database in the booking's transaction) hold on this
  channel too; cancelling is ``consultation_cancel``. Writes take an
  ``Idempotency-Key``;
- "my consultations" is the family's view (``consultations_visible_to``
  narrowed to the caller's own family): the slot, the status, the area, the
  referrals offered and the shared summary. A consultation that is not the
  caller family's is 404 ``consultation_missing``, the same body as a missing
  id — a mentor's or the chief mentor's cases are on the station's desk pages,
  never here.

What no answer ever holds: the need written when booking, the private and the
restricted notes (not even for the mentors: this API only has the
family-visible parts), a mentor's phone, login or volunteer record, another
family or its children.
"""

import datetime
from typing import Literal

from django.db.models import F
from ninja import Path, Query, Router, Schema
from pydantic import Field

from guidance import selectors, services
from guidance.errors import GuidanceError
from guidance.models import Consultation, Mentor, Note, Referral, Slot, SlotKind, Station
from members.models import Child, SchoolStage
from members.selectors import family_for_user
from parent_school.models import GuidanceArea
from parent_school.selectors import term_current

from .auth import require_scope, signed_in
from .catalogue import MAX_ID, object_id
from .core import register_rule_errors
from .errors import ApiError
from .idempotency import idempotent
from .pagination import cursor_make, cursor_read, keyset_page
from .schemas import ErrorOut

register_rule_errors(GuidanceError)

router = Router(tags=["guidance"])

STATION_LIMIT = 20
MENTOR_LIMIT = 20
SLOT_LIMIT = 20
CONSULTATION_LIMIT = 20
MAX_LIMIT = 50
# A mentor card shows their next few free slots (one windowed query for the page).
CARD_SLOTS = 3
# A mentor's free slots are read in one query up to this many (a pattern makes
# GUIDANCE_PATTERN_WEEKS weeks of slots: a few dozen), then paged.
FREE_SLOTS_READ = 300

READ_ANSWERS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ANSWERS = {**READ_ANSWERS, 503: ErrorOut}

StationId = Path(..., ge=1, le=MAX_ID, description="指导站的 id")
MentorId = Path(..., ge=1, le=MAX_ID, description="导师的 id")
ConsultationId = Path(..., ge=1, le=MAX_ID, description="咨询预约的 id（见“我的咨询”）")

Area = Literal.__getitem__(tuple(GuidanceArea.values))
Audience = Literal.__getitem__(tuple(Mentor.Audience.values))
ForWhom = Literal.__getitem__(tuple(Consultation.ForWhom.values))

AREA_LABELS = dict(GuidanceArea.choices)
AUDIENCE_LABELS = dict(Mentor.Audience.choices)
MODE_LABELS = dict(Mentor.Mode.choices)
STAGE_LABELS = dict(SchoolStage.choices)


class ChoiceOut(Schema):
    value: str
    label: str


def _labelled(values, labels: dict) -> list[ChoiceOut]:
    return [ChoiceOut(value=v, label=str(labels.get(v, v))) for v in (values or ()) if v in labels]


def _list_page(items: list, *, key, size: int, cursor: str | None, limit: int, scope: str):
    """Keyset paging of a list already read whole in one query (a station's mentors,
    a mentor's free slots): the same signed cursors as ``keyset_page``; ``key``
    gives a row's ``size`` order values."""
    rows = sorted(items, key=key)
    if cursor:
        after = tuple(cursor_read(cursor, scope=scope, size=size))
        try:
            rows = [row for row in rows if key(row) > after]
        except TypeError:  # a signed cursor of another shape of the same list
            raise ApiError("bad_cursor", status=400, field="cursor") from None
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = cursor_make(list(key(rows[-1])), scope=scope)
    return rows, next_cursor


# Shapes ------------------------------------------------------------------------------


class GuidanceStationOut(Schema):
    id: int
    name: str
    description: str
    unit: str = Field(description="所属单位")
    open_bookings_max: int = Field(description="每个家庭同时未完成的预约上限")
    term_bookings_max: int = Field(description="每个家庭每学期预约上限")


def _station_out(station: Station) -> dict:
    return {
        "id": station.pk,
        "name": station.name,
        "description": station.description,
        "unit": station.unit.name,
        "open_bookings_max": station.open_bookings_max,
        "term_bookings_max": station.term_bookings_max,
    }


class GuidanceAreaOut(Schema):
    value: str = Field(
        description="patriotism 家国情怀培育 · study 学业升学指导 · career 生涯职业引导 · "
        "mental_health 心理健康辅导 · family_education 家庭教育指导"
    )
    label: str
    mentors: int = Field(description="本站负责这个领域的在岗导师人数")


class GuidanceLimitsOut(Schema):
    """The caller's family's tallies at the station (what the database enforces)."""

    open_used: int = Field(description="未完成的预约（已预约、候补中）")
    open_max: int
    term_used: int = Field(description="本学期已预约的次数（取消不退回）")
    term_max: int


class GuidanceStationDetailOut(GuidanceStationOut):
    areas: list[GuidanceAreaOut]
    my_limits: GuidanceLimitsOut | None = Field(
        None, description="登录且已建立家庭时：本家庭在本站的预约次数"
    )


class GuidanceStationListOut(Schema):
    items: list[GuidanceStationOut]
    next_cursor: str | None = None
    limit: int


class GuidanceSlotOut(Schema):
    """A slot families may book. The online link is given to the booked family only
    (in “我的咨询”)."""

    id: int
    mentor_id: int
    title: str = Field(description="如“心理健康辅导 · 林老师”")
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    minutes: int
    kind: str = Field(description="one_to_one 一对一 · small_group 小组")
    kind_label: str
    mode: str = Field(description="in_person 面谈 · phone 电话 · online 线上")
    mode_label: str
    venue: str = Field(description="面谈的地点")
    capacity: int
    free_places: int


def _slot_out(slot: Slot) -> GuidanceSlotOut:
    offering = slot.offering
    return GuidanceSlotOut(
        id=slot.pk,
        mentor_id=slot.mentor_id,
        title=offering.title,
        starts_at=offering.starts_at,
        ends_at=offering.ends_at,
        minutes=int((offering.ends_at - offering.starts_at).total_seconds() // 60),
        kind=slot.kind,
        kind_label=str(SlotKind(slot.kind).label),
        mode=slot.mode,
        mode_label=str(MODE_LABELS.get(slot.mode, slot.mode)),
        venue=slot.venue,
        capacity=offering.capacity,
        free_places=offering.free_places,
    )


class GuidanceMentorOut(Schema):
    """A mentor's public profile: never a phone, a login or a volunteer record."""

    id: int
    station_id: int
    name: str
    title: str
    areas: list[ChoiceOut]
    audiences: list[ChoiceOut] = Field(description="服务对象：学生、家长、教师")
    stages: list[ChoiceOut] = Field(description="学段（空表示各学段）")
    modes: list[ChoiceOut] = Field(description="咨询方式：面谈、电话、线上")
    bio: str
    is_chief: bool = Field(description="首席导师")
    is_invented: bool = Field(description="演示数据中虚构的人物（页面上标明“示例”）")


def _mentor_fields(mentor: Mentor) -> dict:
    return {
        "id": mentor.pk,
        "station_id": mentor.station_id,
        "name": mentor.name,
        "title": mentor.title,
        "areas": _labelled(mentor.areas, AREA_LABELS),
        "audiences": _labelled(mentor.audiences, AUDIENCE_LABELS),
        "stages": _labelled(mentor.stages, STAGE_LABELS),
        "modes": _labelled(mentor.modes, MODE_LABELS),
        "bio": mentor.bio,
        "is_chief": mentor.is_chief,
        "is_invented": mentor.is_invented,
    }


class GuidanceMentorCardOut(GuidanceMentorOut):
    next_slots: list[GuidanceSlotOut] = Field(
        default_factory=list, description=f"最近的空闲时段（最多 {CARD_SLOTS} 个）"
    )


class GuidanceMentorListOut(Schema):
    items: list[GuidanceMentorCardOut]
    next_cursor: str | None = None
    limit: int


class GuidanceMentorDetailOut(GuidanceMentorOut):
    station: str = Field(description="指导站名称")


class GuidanceSlotListOut(Schema):
    items: list[GuidanceSlotOut]
    next_cursor: str | None = None
    limit: int


class GuidanceRefMentorOut(Schema):
    id: int
    name: str
    title: str
    is_invented: bool


def _mentor_ref(mentor: Mentor | None) -> GuidanceRefMentorOut | None:
    if mentor is None:
        return None
    return GuidanceRefMentorOut(
        id=mentor.pk, name=mentor.name, title=mentor.title, is_invented=mentor.is_invented
    )


class GuidanceReferralOut(Schema):
    """A referral the mentor offered the family: book it with ``referral_id`` (the
    booking does not count against the family's limits)."""

    id: int
    to_area: str
    to_area_label: str
    to_mentor: GuidanceRefMentorOut | None = Field(None, description="指定的导师（可为空）")
    message: str = Field(description="导师写给家庭的说明")
    status: str = Field(description="open 待预约 · booked 已预约 · closed 已关闭")
    status_label: str
    created_at: datetime.datetime


def _referral_out(referral: Referral) -> GuidanceReferralOut:
    return GuidanceReferralOut(
        id=referral.pk,
        to_area=referral.to_area,
        to_area_label=str(AREA_LABELS.get(referral.to_area, referral.to_area)),
        to_mentor=_mentor_ref(referral.to_mentor),
        message=referral.message,
        status=referral.status,
        status_label=referral.get_status_display(),
        created_at=referral.created_at,
    )


class GuidanceSummaryOut(Schema):
    """The summary the mentor shares with the family (the only note the API has)."""

    body: str
    updated_at: datetime.datetime


class ConsultationSlotOut(Schema):
    id: int
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    kind: str
    kind_label: str
    mode: str
    mode_label: str
    venue: str
    online_url: str = Field(description="线上咨询的链接（已预约时才有）")


class ConsultationOut(Schema):
    """One of the family's consultations, as the family sees it."""

    id: int
    status: str = Field(
        description="booked 已预约 · waiting 候补中 · held 已咨询 · missed 未到 · cancelled 已取消"
    )
    status_label: str
    area: str
    area_label: str
    for_whom: str = Field(description="parent 家长本人 · child 孩子 · teacher 教师")
    for_whom_label: str
    child_id: int | None = Field(None, description="为孩子预约时：本家庭的孩子")
    child: str | None = Field(None, description="孩子的昵称（本家庭）")
    station: GuidanceStationOut
    mentor: GuidanceRefMentorOut
    slot: ConsultationSlotOut
    booking_id: int = Field(description="名额的报名 id（取消请用本接口的 cancel）")
    from_referral_id: int | None = Field(None, description="这次预约回应的转介")
    created_at: datetime.datetime
    held_at: datetime.datetime | None = None
    cancelled_at: datetime.datetime | None = None
    can_cancel: bool
    summary: GuidanceSummaryOut | None = Field(None, description="导师共享的咨询摘要")
    referrals: list[GuidanceReferralOut] = Field(
        default_factory=list, description="导师为这次咨询提出的转介"
    )


class ConsultationListOut(Schema):
    items: list[ConsultationOut]
    next_cursor: str | None = None
    limit: int


def _summaries(consultation_ids: list[int]) -> dict[int, Note]:
    """The shared summaries of these consultations, in one query. Only the summary
    level is read: private and restricted notes never reach an API answer (their
    text is sealed anyway, and nobody unseals it here)."""
    if not consultation_ids:
        return {}
    rows = Note.objects.filter(consultation_id__in=consultation_ids, level=Note.Level.SUMMARY).only(
        "pk", "consultation_id", "body", "updated_at"
    )
    return {row.consultation_id: row for row in rows}


def _referrals(consultation_ids: list[int]) -> dict[int, list[Referral]]:
    found: dict[int, list[Referral]] = {}
    if not consultation_ids:
        return found
    rows = (
        Referral.objects.filter(consultation_id__in=consultation_ids)
        .select_related("to_mentor")
        .order_by("-created_at", "-pk")
    )
    for row in rows:
        found.setdefault(row.consultation_id, []).append(row)
    return found


def _consultation_out(
    consultation: Consultation, *, summary: Note | None, referrals: list[Referral]
) -> ConsultationOut:
    slot, offering = consultation.slot, consultation.slot.offering
    child = consultation.child if consultation.child_id else None
    booked = consultation.status == Consultation.Status.BOOKED
    return ConsultationOut(
        id=consultation.pk,
        status=consultation.status,
        status_label=consultation.get_status_display(),
        area=consultation.area,
        area_label=consultation.get_area_display(),
        for_whom=consultation.for_whom,
        for_whom_label=consultation.get_for_whom_display(),
        child_id=child.pk if child is not None else None,
        child=child.nickname if child is not None else None,
        station=GuidanceStationOut(**_station_out(consultation.station)),
        mentor=_mentor_ref(consultation.mentor),
        slot=ConsultationSlotOut(
            id=slot.pk,
            starts_at=offering.starts_at,
            ends_at=offering.ends_at,
            kind=slot.kind,
            kind_label=str(SlotKind(slot.kind).label),
            mode=slot.mode,
            mode_label=str(MODE_LABELS.get(slot.mode, slot.mode)),
            venue=slot.venue,
            online_url=slot.online_url if booked else "",
        ),
        booking_id=consultation.booking_id,
        from_referral_id=consultation.referral_id,
        created_at=consultation.created_at,
        held_at=consultation.held_at,
        cancelled_at=consultation.cancelled_at,
        can_cancel=consultation.status in Consultation.OPEN_STATUSES,
        summary=GuidanceSummaryOut(body=summary.body, updated_at=summary.updated_at)
        if summary is not None
        else None,
        referrals=[_referral_out(r) for r in referrals],
    )


def _consultations_out(rows: list[Consultation]) -> list[ConsultationOut]:
    ids = [c.pk for c in rows]
    summaries, referrals = _summaries(ids), _referrals(ids)
    return [
        _consultation_out(c, summary=summaries.get(c.pk), referrals=referrals.get(c.pk, []))
        for c in rows
    ]


# Stations ------------------------------------------------------------------------------


class StationListQuery(Schema):
    cursor: str | None = Field(None, description="上一页答复的 next_cursor")
    limit: int = Field(STATION_LIMIT, ge=1, le=MAX_LIMIT)


@router.get(
    "/stations",
    response={200: GuidanceStationListOut, **READ_ANSWERS},
    summary="成长指导工作站（公开）",
)
def station_list(request, query: Query[StationListQuery]):
    rows, next_cursor = keyset_page(
        selectors.stations_active(),
        order=("name", "pk"),
        cursor=query.cursor,
        limit=query.limit,
        scope="guidance.stations",
    )
    return GuidanceStationListOut(
        items=[GuidanceStationOut(**_station_out(s)) for s in rows],
        next_cursor=next_cursor,
        limit=query.limit,
    )


def _station(station_id: int) -> Station:
    station = selectors.station_active(station_id)
    if station is None:
        raise GuidanceError("station_missing")
    return station


@router.get(
    "/stations/{station_id}",
    response={200: GuidanceStationDetailOut, **READ_ANSWERS},
    summary="一个指导站：五大指导领域（各有几位导师）、本家庭的预约次数",
)
def station_detail(request, station_id: int = StationId):
    station = _station(station_id)
    family = family_for_user(request.user)
    limits = None
    if family is not None:
        limits = GuidanceLimitsOut(**selectors.family_limits(station, family, term_current()))
    return GuidanceStationDetailOut(
        **_station_out(station),
        areas=[
            GuidanceAreaOut(value=a["value"], label=str(a["label"]), mentors=a["mentors"])
            for a in selectors.station_areas(station)
        ],
        my_limits=limits,
    )


# Mentors and their slots ---------------------------------------------------------------


class MentorListQuery(Schema):
    area: Area | None = Field(None, description="指导领域（不填：全部在岗导师）")
    audience: Audience | None = Field(None, description="服务对象：student · parent · teacher")
    cursor: str | None = Field(None, description="上一页答复的 next_cursor")
    limit: int = Field(MENTOR_LIMIT, ge=1, le=MAX_LIMIT)


def _mentor_order(mentor: Mentor) -> tuple:
    # The pages' order: the chief mentor first, then by name.
    return (0 if mentor.is_chief else 1, mentor.name, mentor.pk)


@router.get(
    "/stations/{station_id}/mentors",
    response={200: GuidanceMentorListOut, **READ_ANSWERS},
    summary="指导站的导师（可按领域、服务对象筛选），附最近的空闲时段（公开）",
)
def mentor_list(request, query: Query[MentorListQuery], station_id: int = StationId):
    station = _station(station_id)
    if query.area:
        mentors = selectors.mentors_for(station, query.area, query.audience)
    else:
        # Every area: the station's active mentors, with the same audience filter.
        mentors = [
            m
            for m in Mentor.objects.filter(station=station, is_active=True)
            if not query.audience or query.audience in (m.audiences or ())
        ]
    rows, next_cursor = _list_page(
        mentors,
        key=_mentor_order,
        size=3,
        cursor=query.cursor,
        limit=query.limit,
        scope=f"guidance.mentors:{station.pk}:{query.area or ''}:{query.audience or ''}",
    )
    slots = selectors.free_slots_by_mentor(rows, limit=CARD_SLOTS)
    return GuidanceMentorListOut(
        items=[
            GuidanceMentorCardOut(
                **_mentor_fields(m), next_slots=[_slot_out(s) for s in slots.get(m.pk, [])]
            )
            for m in rows
        ],
        next_cursor=next_cursor,
        limit=query.limit,
    )


def _mentor(mentor_id: int) -> Mentor:
    mentor = selectors.mentor_public(mentor_id)
    if mentor is None:
        raise GuidanceError("mentor_missing")
    return mentor


@router.get(
    "/mentors/{mentor_id}",
    response={200: GuidanceMentorDetailOut, **READ_ANSWERS},
    summary="导师的公开资料：姓名、职称、领域、服务对象、咨询方式、简介（公开）",
)
def mentor_detail(request, mentor_id: int = MentorId):
    mentor = _mentor(mentor_id)
    return GuidanceMentorDetailOut(**_mentor_fields(mentor), station=mentor.station.name)


class SlotListQuery(Schema):
    cursor: str | None = Field(None, description="上一页答复的 next_cursor")
    limit: int = Field(SLOT_LIMIT, ge=1, le=MAX_LIMIT)


@router.get(
    "/mentors/{mentor_id}/slots",
    response={200: GuidanceSlotListOut, **READ_ANSWERS},
    summary="导师还有空位的咨询时段，最早的在前（公开）",
)
def mentor_slots(request, query: Query[SlotListQuery], mentor_id: int = MentorId):
    mentor = _mentor(mentor_id)
    slots = selectors.free_slots(mentor, limit=FREE_SLOTS_READ)
    rows, next_cursor = _list_page(
        slots,
        key=lambda s: (s.offering.starts_at, s.pk),
        size=2,
        cursor=query.cursor,
        limit=query.limit,
        scope=f"guidance.slots:{mentor.pk}",
    )
    return GuidanceSlotListOut(
        items=[_slot_out(s) for s in rows], next_cursor=next_cursor, limit=query.limit
    )


# The family's consultations ------------------------------------------------------------


class ConsultationListQuery(Schema):
    which: Literal["all", "open", "closed"] = Field(
        "all",
        description="all 全部（默认） · open 已预约与候补中 · closed 已咨询、未到、已取消",
    )
    cursor: str | None = Field(None, description="上一页答复的 next_cursor")
    limit: int = Field(CONSULTATION_LIMIT, ge=1, le=MAX_LIMIT)


def _family_consultations(user):
    """The caller family's own consultations, through the station's access rule
    (a mentor's cases are not in the family view)."""
    family = family_for_user(user)
    if family is None:
        return Consultation.objects.none()
    return (
        selectors.consultations_visible_to(user)
        .filter(family_id=family.pk)
        .select_related("slot", "slot__offering", "mentor", "station", "station__unit", "child")
    )


def _own_consultation(user, consultation_id: int) -> Consultation:
    consultation = selectors.consultation_for(user, consultation_id)
    if consultation is None or not selectors.is_family_of(user, consultation):
        raise GuidanceError("consultation_missing")
    return consultation


def _one_out(consultation: Consultation) -> ConsultationOut:
    return _consultations_out([consultation])[0]


@router.get(
    "/consultations",
    auth=signed_in,
    response={200: ConsultationListOut, **READ_ANSWERS},
    summary="我的咨询：时段、状态、领域、导师共享的摘要和转介（最近的时段在前）",
)
def consultation_list(request, query: Query[ConsultationListQuery]):
    require_scope(request, "read")
    user = request.user
    rows = _family_consultations(user).annotate(starts_at=F("slot__offering__starts_at"))
    if query.which == "open":
        rows = rows.filter(status__in=Consultation.OPEN_STATUSES)
    elif query.which == "closed":
        rows = rows.exclude(status__in=Consultation.OPEN_STATUSES)
    page, next_cursor = keyset_page(
        rows,
        order=("-starts_at", "-pk"),
        cursor=query.cursor,
        limit=query.limit,
        scope=f"guidance.consultations:{user.pk}:{query.which}",
    )
    return ConsultationListOut(
        items=_consultations_out(page), next_cursor=next_cursor, limit=query.limit
    )


@router.get(
    "/consultations/{consultation_id}",
    auth=signed_in,
    response={200: ConsultationOut, **READ_ANSWERS},
    summary="我的一次咨询",
)
def consultation_detail(request, consultation_id: int = ConsultationId):
    require_scope(request, "read")
    return _one_out(_own_consultation(request.user, consultation_id))


class ConsultationIn(Schema):
    slot_id: int = object_id(description="咨询时段的 id（见导师的空闲时段）")
    area: Area = Field(description="指导领域（须是这位导师负责的）")
    for_whom: ForWhom = Field(
        description="parent 家长本人 · child 孩子（须填 child_id） · teacher 教师（教师账号）"
    )
    child_id: int | None = object_id(default=None, description="为孩子预约时：本家庭的孩子")
    need: str = Field(
        description="想咨询的问题，几句话即可（只有接待的导师能看到，任何答复里都不会出现）",
        max_length=2000,
    )
    referral_id: int | None = object_id(
        default=None, description="回应导师的转介时填写（这次预约不占用家庭的预约次数）"
    )


def _own_child(user, child_id: int | None) -> None:
    """Another family's child is refused before anything else, whatever ``for_whom``
    says (naming one must never make a booking go through)."""
    if child_id is None:
        return
    family = family_for_user(user)
    if family is None or not Child.objects.filter(pk=child_id, family=family).exists():
        raise GuidanceError("child_invalid", field="child_id")


@router.post(
    "/consultations",
    auth=signed_in,
    response={201: ConsultationOut, **WRITE_ANSWERS},
    summary="预约咨询（与网页同一规则：每个家庭的预约次数有上限；满员时进入候补）",
)
@idempotent
def consultation_book(request, payload: ConsultationIn):
    require_scope(request, "write")
    _own_child(request.user, payload.child_id)
    consultation = services.consultation_book(
        user=request.user,
        slot_id=payload.slot_id,
        area=payload.area,
        for_whom=payload.for_whom,
        need=payload.need,
        child_id=payload.child_id,
        referral_id=payload.referral_id,
    )
    return 201, _one_out(_own_consultation(request.user, consultation.pk))


@router.post(
    "/consultations/{consultation_id}/cancel",
    auth=signed_in,
    response={200: ConsultationOut, **WRITE_ANSWERS},
    summary="取消咨询预约（候补名单上的下一位家庭会递补）",
)
@idempotent
def consultation_cancel(request, consultation_id: int = ConsultationId):
    require_scope(request, "write")
    consultation = _own_consultation(request.user, consultation_id)
    services.consultation_cancel(user=request.user, consultation_id=consultation.pk)
    return 200, _one_out(_own_consultation(request.user, consultation.pk))
