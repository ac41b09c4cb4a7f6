"""Service hours: recorded from the portal's records (volunteers.services.
service_hours_record), entered by hand and verified (hours_enter, hours_decide),
read as a volunteer's record per term (volunteers.selectors.volunteer_record)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone

from courses.services import course_session_cancel
from courses.tests.factories import CourseFactory, make_session
from events.models import Event, Notice
from events.tests.factories import make_event
from guidance.models import Consultation
from guidance.tests.factories import ConsultationFactory, SlotFactory
from members.tests.factories import UserFactory
from parent_school.tests.factories import InstructorFactory, ParentSchoolFactory
from volunteers import selectors, services
from volunteers.errors import VolunteerError
from volunteers.models import ServiceHour
from volunteers.tests.factories import ServiceHourFactory

pytestmark = pytest.mark.django_db


def _volunteer(world, **extra):
    user = UserFactory(display_name="何老师")
    return InstructorFactory(name="何老师", user=user, unit=world.unit, is_volunteer=True, **extra)


def _course(world, *instructors):
    school = ParentSchoolFactory(host_unit=world.school, name="澥浦中学家长学校")
    course = CourseFactory(parent_school=school, term=world.term, title="青春期亲子沟通")
    course.instructors.set(instructors)
    return course


def _past_session(course, *, minutes: int, hours_ago: int = 5):
    session = make_session(course, starts_in=-dt.timedelta(hours=hours_ago), hours=1)
    offering = session.offering
    offering.ends_at = offering.starts_at + dt.timedelta(minutes=minutes)
    offering.save(update_fields=["ends_at"])
    return session


def test_the_nightly_beat_entry_runs_the_hours_task():
    entry = settings.CELERY_BEAT_SCHEDULE["volunteers-hours-record"]
    assert entry["task"] == "volunteers.tasks.hours_record"
    assert entry["schedule"].hour == {2} and entry["schedule"].minute == {10}


def test_sessions_events_and_consultations_she_led_are_recorded_once(station_world):
    # given a volunteer who taught two ended sessions, led an ended event and held
    # a consultation, and a colleague on the course who is not a volunteer
    w = station_world
    vol = _volunteer(w)
    staff = InstructorFactory(unit=w.school, is_volunteer=False)
    course = _course(w, vol, staff)
    ninety = _past_session(course, minutes=90)
    hundred_ten = _past_session(course, minutes=110, hours_ago=30)
    make_session(course)  # still to come
    cancelled = _past_session(course, minutes=60, hours_ago=50)
    course_session_cancel(session=cancelled, cancelled_by=None)
    start = timezone.now() - dt.timedelta(days=2)
    event = make_event(
        organiser_unit=w.unit, starts_at=start, ends_at=start + dt.timedelta(minutes=45)
    )
    event.led_by.add(vol)
    draft = make_event(organiser_unit=w.unit, starts_at=start, status=Event.Status.DRAFT)
    draft.led_by.add(vol)
    w.psych.instructor = vol
    w.psych.save(update_fields=["instructor"])
    slot = SlotFactory(
        mentor=w.psych,
        offering__starts_at=start,
        offering__ends_at=start + dt.timedelta(minutes=50),
        offering__capacity=3,
    )
    ConsultationFactory(slot=slot, status=Consultation.Status.HELD)
    ConsultationFactory(slot=slot, status=Consultation.Status.HELD)  # a small group
    booked = SlotFactory(mentor=w.psych, offering__starts_at=start)
    ConsultationFactory(slot=booked, status=Consultation.Status.BOOKED)

    # when the term's hours are recorded
    written = services.service_hours_record(term=w.term)

    # then one row per volunteer and offering, hours rounded to the half hour
    rows = {
        h.offering_id: h for h in ServiceHour.objects.filter(status=ServiceHour.Status.RECORDED)
    }
    assert written == 4
    assert set(rows) == {
        ninety.offering_id,
        hundred_ten.offering_id,
        event.offering_id,
        slot.offering_id,
    }
    assert rows[ninety.offering_id].hours == Decimal("1.5")
    assert rows[hundred_ten.offering_id].hours == Decimal("2.0")
    assert rows[event.offering_id].hours == Decimal("1.0")  # 45 min → 1.0 (to the half hour)
    assert rows[slot.offering_id].hours == Decimal("1.0")
    session_row = rows[ninety.offering_id]
    assert (session_row.source, session_row.unit, session_row.parent_school) == (
        "session",
        w.school,
        course.parent_school,
    )
    assert session_row.served_on == timezone.localtime(ninety.offering.starts_at).date()
    assert (rows[event.offering_id].source, rows[event.offering_id].unit) == ("event", w.unit)
    assert rows[slot.offering_id].source == "consultation"
    assert {h.instructor_id for h in rows.values()} == {vol.pk}

    # and a second run changes nothing
    assert services.service_hours_record(term=w.term) == 0
    assert ServiceHour.objects.count() == 4


def test_a_row_whose_source_no_longer_holds_goes_and_manual_entries_stay(station_world):
    w = station_world
    vol = _volunteer(w)
    course = _course(w, vol)
    session = _past_session(course, minutes=60)
    manual = ServiceHourFactory(instructor=vol, term=w.term, unit=w.unit)
    services.service_hours_record(term=w.term)
    assert ServiceHour.objects.filter(offering=session.offering).exists()

    # when she is taken off the course and the session is moved (longer)
    course.instructors.clear()
    services.service_hours_record(term=w.term)

    # then her automatic row goes; the manual entry stays
    assert not ServiceHour.objects.filter(offering=session.offering).exists()
    assert ServiceHour.objects.filter(pk=manual.pk).exists()


def test_a_changed_session_updates_its_row(station_world):
    w = station_world
    vol = _volunteer(w)
    session = _past_session(_course(w, vol), minutes=60)
    services.service_hours_record(term=w.term)
    offering = session.offering
    offering.ends_at = offering.starts_at + dt.timedelta(hours=3)
    offering.save(update_fields=["ends_at"])
    assert services.service_hours_record(term=w.term) == 1
    assert ServiceHour.objects.get(offering=offering).hours == Decimal("3.0")


# --- manual entries -----------------------------------------------------------------


def test_she_enters_her_own_hours_and_a_coordinator_verifies_them(station_world):
    w = station_world
    vol = _volunteer(w)
    today = timezone.localdate()
    entry = services.hours_enter(
        user=vol.user, instructor_id=vol.pk, served_on=today, hours="2.5", description="社区讲座"
    )
    assert (entry.status, entry.term, entry.unit, entry.hours) == (
        "pending",
        w.term,
        w.unit,
        Decimal("2.5"),
    )
    record = selectors.volunteer_record(vol, w.term)
    assert record["total"] == 0 and record["pending"]["hours"] == Decimal("2.5")

    # another centre's coordinator does not see it
    with pytest.raises(VolunteerError) as caught:
        services.hours_decide(user=w.other_coordinator, hour_id=entry.pk, verify=True)
    assert caught.value.code == "hour_missing"

    services.hours_decide(user=w.coordinator, hour_id=entry.pk, verify=True)
    entry.refresh_from_db()
    assert (entry.status, entry.verified_by) == ("verified", w.coordinator)
    assert Notice.objects.filter(key=f"volunteers.hours:{entry.pk}:verified").exists()
    record = selectors.volunteer_record(vol, w.term)
    manual = next(r for r in record["by_source"] if r["label"] == "其他服务（手工登记）")
    assert record["total"] == Decimal("2.5") and manual["hours"] == Decimal("2.5")

    with pytest.raises(VolunteerError) as caught:
        services.hours_decide(user=w.coordinator, hour_id=entry.pk, verify=False)
    assert caught.value.code == "hour_decided"


def test_a_coordinator_enters_hours_for_her_but_a_stranger_cannot(station_world):
    w = station_world
    vol = _volunteer(w)
    entry = services.hours_enter(
        user=w.coordinator,
        instructor_id=vol.pk,
        served_on=timezone.localdate(),
        hours=1,
        description="志愿者培训",
    )
    assert entry.entered_by == w.coordinator
    with pytest.raises(VolunteerError) as caught:
        services.hours_enter(
            user=w.other_coordinator,
            instructor_id=vol.pk,
            served_on=timezone.localdate(),
            hours=1,
            description="x",
        )
    assert caught.value.code == "instructor_missing"


def test_a_coordinator_cannot_verify_her_own_hours(station_world):
    w = station_world
    vol = InstructorFactory(user=w.coordinator, unit=w.unit, is_volunteer=True)
    entry = services.hours_enter(
        user=w.coordinator,
        instructor_id=vol.pk,
        served_on=timezone.localdate(),
        hours=1,
        description="讲座",
    )
    with pytest.raises(VolunteerError) as caught:
        services.hours_decide(user=w.coordinator, hour_id=entry.pk, verify=True)
    assert caught.value.code == "own_entry"


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"hours": "0.3"}, "hours_invalid", "hours"),
        ({"hours": "25"}, "hours_invalid", "hours"),
        ({"hours": "abc"}, "hours_invalid", "hours"),
        ({"hours": "NaN"}, "hours_invalid", "hours"),
        ({"served_on": None}, "served_on_required", "served_on"),
        ({"served_on": "future"}, "served_on_future", "served_on"),
        ({"served_on": dt.date(1990, 1, 1)}, "served_on_no_term", "served_on"),
        ({"description": " "}, "description_required", "description"),
    ],
)
def test_bad_manual_entries_are_refused_naming_the_field(station_world, fields, code, field):
    w = station_world
    vol = _volunteer(w)
    values = {"served_on": timezone.localdate(), "hours": "1.5", "description": "讲座", **fields}
    if values["served_on"] == "future":
        values["served_on"] = timezone.localdate() + dt.timedelta(days=1)
    with pytest.raises(VolunteerError) as caught:
        services.hours_enter(user=vol.user, instructor_id=vol.pk, **values)
    assert (caught.value.code, caught.value.field) == (code, field)
    assert not ServiceHour.objects.exists()
