"""Every guidance and volunteers page, asked with this station's ids by people
who have no business with them, refuses and changes nothing (issue 17).

The world (guidance/tests/world.py) is filled through the real services: 陈妈妈
(mum) books 林老师 for her child with a need; 林老师 writes a summary, a private
and a restricted note, refers the case to 郑老师 and sets a follow-up; a second
slot stays free; someone applies to volunteer at the station's unit and a
volunteer of the unit enters hours.

Then, as **another family** (李爸爸), **another station's mentor** (孙老师) and
**another station's coordinator** (钱主任), every ``guidance:`` and
``volunteers:`` URL in the resolver is requested — GET, and POST with plausible
form data — with the id of every seeded row its parameters name. The routes come
from the resolver when the test runs, so a page added later is walked too; a
parameter with no ids fails the test (add them to ``_ids``). For every answer:

- never a 500, and no page or redirect shows mum's phone (whole or masked), her
  child's nickname, the need, a note, the referral's or the follow-up's words;
- a consultation, follow-up, booked offering, slot to cancel, station dashboard,
  application or hour entry that is not the visitor's is refused: 403, 404, 405
  or a redirect (to the login or back to a page);
- and nothing changed: consultations, notes, follow-ups, referrals, bookings,
  slots, quotas, lifts, applications and hours are as before, and no sealed text
  was read on the visitor's behalf (no audit row of a read).
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from bookings.models import Booking, Offering
from guidance import selectors
from guidance import services as guidance_services
from guidance.models import (
    Consultation,
    FollowUp,
    GuidanceQuota,
    LimitLift,
    Mentor,
    Note,
    Referral,
    Slot,
    Station,
)
from guidance.tests.world import build_station_world
from members.models import AuditLog
from members.privacy import mask_phone
from members.tests.factories import UserFactory
from parent_school.tests.factories import InstructorFactory
from volunteers import services as volunteer_services
from volunteers.models import ServiceHour, VolunteerApplication

pytestmark = pytest.mark.django_db

NAMESPACES = ("guidance", "volunteers")
REFUSED = {302, 403, 404, 405}

NEED = "孩子说班里有同学一直孤立她"
SUMMARY = "约定每周和孩子一起复盘一次在校的开心事"
PRIVATE = "母亲提到自己近期情绪低落"
RESTRICTED = "孩子透露曾有轻微自伤念头"
REFERRAL = "建议和郑老师谈谈家里的作息安排"
FOLLOWUP = "十天后回访孩子的交友情况"
TEXTS = [NEED, SUMMARY, PRIVATE, RESTRICTED, REFERRAL, FOLLOWUP]

# Plausible form data: a view that forgot to check who asks would act on it.
POST_DATA = {
    "area": "mental_health",
    "for_whom": "parent",
    "need": "我也想咨询一下",
    "held": "1",
    "to_area": "family_education",
    "message": "改由我来接手",
    "level": "summary",
    "body": "被改写的摘要",
    "due_at": (timezone.localtime() + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"),
    "extra_open": "3",
    "extra_term": "3",
    "reason": "特批",
    "approve": "1",
    "verify": "1",
    "tier": "lecturer",
    "serves_as": "instructor",
    "note": "同意",
}


def _seed():
    w = build_station_world()
    now = timezone.now()
    slot = guidance_services.slot_create(
        user=w.psych.user,
        mentor_id=w.psych.pk,
        starts_at=now + dt.timedelta(days=2),
        minutes=50,
        kind="one_to_one",
        capacity=1,
        mode="in_person",
        venue="咨询室",
    )
    free = guidance_services.slot_create(
        user=w.psych.user,
        mentor_id=w.psych.pk,
        starts_at=now + dt.timedelta(days=3),
        minutes=50,
        kind="one_to_one",
        capacity=1,
        mode="online",
        online_url="https://meeting.example.cn/lin",
    )
    consultation = guidance_services.consultation_book(
        user=w.mum.user,
        slot_id=slot.pk,
        area="mental_health",
        for_whom="child",
        need=NEED,
        child_id=w.mum_child.pk,
    )
    for level, body in (("summary", SUMMARY), ("private", PRIVATE), ("restricted", RESTRICTED)):
        guidance_services.note_write(
            user=w.psych.user, consultation_id=consultation.pk, level=level, body=body
        )
    guidance_services.referral_create(
        user=w.psych.user,
        consultation_id=consultation.pk,
        to_area="family_education",
        to_mentor_id=w.family_mentor.pk,
        message=REFERRAL,
    )
    guidance_services.followup_schedule(
        user=w.psych.user,
        consultation_id=consultation.pk,
        due_at=now + dt.timedelta(days=10),
        message=FOLLOWUP,
    )
    applicant = UserFactory(username="walk-applicant", display_name="申请人甲")
    volunteer_services.application_submit(
        user=applicant,
        centre_id=w.unit.pk,
        name="申请人甲",
        background="中学心理教师",
        expertise="青春期情绪",
        areas=["mental_health"],
        availability="周末",
    )
    volunteer = InstructorFactory(
        unit=w.unit, name="志愿者乙", is_volunteer=True, user=UserFactory(username="walk-vol")
    )
    volunteer_services.hours_enter(
        user=volunteer.user,
        instructor_id=volunteer.pk,
        served_on=timezone.localdate() - dt.timedelta(days=1),
        hours=2,
        description="社区讲座",
    )
    w.consultation, w.free_slot = consultation, free
    return w


def _ids(w) -> dict[str, list]:
    """Every seeded row, by the URL parameter that names it."""
    return {
        "station_id": list(Station.objects.values_list("pk", flat=True)),
        "area": ["mental_health"],
        "mentor_id": list(Mentor.objects.values_list("pk", flat=True)),
        "slot_id": list(Slot.objects.values_list("pk", flat=True)),
        "offering_id": list(
            Offering.objects.filter(guidance_slot__isnull=False).values_list("pk", flat=True)
        ),
        "consultation_id": list(Consultation.objects.values_list("pk", flat=True)),
        "followup_id": list(FollowUp.objects.values_list("pk", flat=True)),
        "application_id": list(VolunteerApplication.objects.values_list("pk", flat=True)),
        "hour_id": list(ServiceHour.objects.values_list("pk", flat=True)),
    }


def _foreign(visitor, route: str, name: str, value) -> bool:
    """Is the row named by ``name`` one the visitor has no business with on ``route``?"""
    if name in ("area", "mentor_id"):
        return False  # the station's public pages
    if name == "station_id":
        if route == "guidance:dashboard":
            return not selectors.stations_managed_by(visitor).filter(pk=value).exists()
        return False
    if name == "slot_id":
        if route == "guidance:book":
            return False  # any family may book a slot
        slot = Slot.objects.select_related("mentor__station").get(pk=value)
        return not (
            slot.mentor.user_id == visitor.pk
            or selectors.can_manage_station(visitor, slot.mentor.station)
        )
    if name == "offering_id":
        return not Booking.objects.filter(
            offering_id=value, family__guardians__user=visitor
        ).exists()
    if name == "consultation_id":
        return not selectors.consultations_visible_to(visitor).filter(pk=value).exists()
    if name == "followup_id":
        consultation_id = FollowUp.objects.get(pk=value).consultation_id
        return not selectors.consultations_visible_to(visitor).filter(pk=consultation_id).exists()
    if name == "application_id":
        application = VolunteerApplication.objects.get(pk=value)
        return (
            application.user_id != visitor.pk
            and not volunteer_services.applications_decidable_by(visitor).filter(pk=value).exists()
        )
    if name == "hour_id":
        entry = ServiceHour.objects.select_related("instructor").get(pk=value)
        return (
            entry.instructor.user_id != visitor.pk
            and not volunteer_services.hours_decidable_by(visitor).filter(pk=value).exists()
        )
    raise AssertionError(f"the walk has no rule for {name!r}: add it to _foreign and _ids")


def _routes(patterns=None, namespace=""):
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _routes(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            name = f"{namespace}{pattern.name}"
            if name.split(":")[0] in NAMESPACES:
                yield name, tuple(pattern.pattern.converters)


def _fingerprint():
    return (
        sorted(Consultation.objects.values_list("pk", "status", "mentor_id", "held_at")),
        sorted(Note.objects.values_list("pk", "level", "body", "body_sealed", "updated_at")),
        sorted(FollowUp.objects.values_list("pk", "status", "due_at", "message")),
        sorted(Referral.objects.values_list("pk", "status", "to_area")),
        sorted(Booking.objects.values_list("pk", "status", "attendance")),
        sorted(Offering.objects.values_list("pk", "status", "places_taken")),
        sorted(GuidanceQuota.objects.values_list("key", "used", "max_used")),
        LimitLift.objects.count(),
        sorted(Station.objects.values_list("pk", "open_bookings_max", "term_bookings_max")),
        Mentor.objects.count(),
        Slot.objects.count(),
        sorted(VolunteerApplication.objects.values_list("pk", "status", "tier")),
        sorted(ServiceHour.objects.values_list("pk", "status", "hours")),
    )


def _secrets(w) -> list[str]:
    phone = w.mum.user.phone
    return [phone, mask_phone(phone), w.mum_child.nickname, *TEXTS]


def _body(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode(errors="replace")


@pytest.fixture
def walk_world(db):
    return _seed()


@pytest.mark.parametrize("visitor_name", ["dad", "other_mentor", "other_coordinator"])
def test_no_guidance_or_volunteers_page_opens_this_stations_rows_to_an_outsider(
    client, walk_world, visitor_name
):
    w = walk_world
    visitor = {
        "dad": w.dad.user,
        "other_mentor": w.other_mentor.user,
        "other_coordinator": w.other_coordinator,
    }[visitor_name]
    client.force_login(visitor)
    secrets = _secrets(w)
    ids = _ids(w)
    routes = sorted(set(_routes()))
    assert {"guidance:consultation", "guidance:note_write", "volunteers:decide"} <= {
        r for r, _ in routes
    }
    audit_before = AuditLog.objects.order_by("-pk").values_list("pk", flat=True).first()
    before = _fingerprint()
    problems: list[str] = []
    requested = refused = 0

    for name, params in routes:
        missing = [p for p in params if p not in ids]
        assert not missing, f"{name}: the walk has no ids for {missing} (add them to _ids)"
        for values in itertools.product(*(ids[p] for p in params)):
            kwargs = dict(zip(params, values, strict=True))
            url = reverse(name, kwargs=kwargs)
            foreign = any(_foreign(visitor, name, p, v) for p, v in kwargs.items())
            # A route with no foreign id is the visitor's own business (booking a
            # free slot, applying): it is read, not posted.
            methods = ("get", "post") if foreign else ("get",)
            for method in methods:
                data = POST_DATA if method == "post" else None
                response = getattr(client, method)(url, data) if data else client.get(url)
                requested += 1
                status = response.status_code
                where = f"{method.upper()} {name} {kwargs} → {status}"
                if status >= 500:
                    problems.append(f"{where}: server error")
                    continue
                body = _body(response)
                location = response.get("Location", "")
                problems += [f"{where}: shows {s!r}" for s in secrets if s in body or s in location]
                if foreign:
                    refused += 1
                    if status not in REFUSED:
                        problems.append(f"{where}: a foreign id must be refused")

    assert requested > 40 and refused > 20, (requested, refused)
    assert problems == [], "\n".join(problems)
    assert _fingerprint() == before
    # nothing sealed was read for the visitor, nothing written in their name
    assert (
        not AuditLog.objects.filter(pk__gt=audit_before or 0, actor=visitor)
        .exclude(action__startswith="members.")
        .exists()
    )
