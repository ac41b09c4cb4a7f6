"""Every figure the dashboards show, for a small term built by hand through the
portal's own services (booking, waiting list, cancelling, attendance marking with
its credits and corrections, event registration and check-in, cancelling a
session and an event), rolled up by the real roll-up and read off the rendered
pages. The expected numbers are worked out by hand in the comments.

The term (2026-03-01 … 2026-06-30), rolled up "now" = 2026-06-15 12:00:

Families: F1 = g1 + k1, F2 = g2 + k2 + k3, F3 = g3, F4 = g4 + k4.
Units: U1 hosts A (target 2; a volunteer and a staff instructor; 1 credit) and
B (no target → 10; no instructor; 2 credits); U2 hosts C (target 1; a volunteer;
1.5 credits) and D (active, nothing held). E is inactive.

  A1 03-10 19:00 2 h    F1 {g1 k1} present · F2 {g2 k2 k3} absent · F3 {g3} present
                        · F4 booked and cancelled
  A2 04-05 10:00 1.5 h  3 places: F3 {g3} · F2 {g2 k2} (full) · F1 {g1 k1} waits;
                        F2 cancels → F1 promoted; F3 and F1 present
  A3 04-20              F4 booked; the session is cancelled
  A4 06-20 (after now)  F2 {g2} · F4 {g4 k4} confirmed
  B1 03-15 14:00 2 h    F3 {g3} present · F4 {g4 k4} not marked
  C1 05-01 09:00 1 h    F1 {g1} present · F2 {g2 k3} marked present, corrected to absent
  E1 (U1) 04-10         F2 {g2 k2} present · F3 {g3} not marked · F4 cancelled
  E2 (U1) 05-05 draft   E3 (U2) 07-15, after the term: F1   E4 (U2) 05-20: F1, then cancelled
  A lesson of A completed by F1 on 04-12; F2 at 40 %.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest
from django.urls import reverse

from bookings.models import Booking
from bookings.services import booking_cancel, booking_create
from courses import services as course_services
from courses.models import CreditEntry, LessonProgress, OnlineLesson
from events import services as event_services
from events.models import Event
from members.demo import demo_clock
from members.models import ConsentRecord, RoleAssignment
from members.services import child_add, consent_record, family_create_for_user
from members.tests.factories import (
    AllianceFactory,
    MembershipFactory,
    MemberUnitFactory,
    RoleAssignmentFactory,
    UserFactory,
)
from reports.services import participation_rollup
from volunteers.models import ServiceHour
from volunteers.tests.factories import ServiceHourFactory

from .factories import (
    CourseFactory,
    InstructorFactory,
    ParentSchoolFactory,
    TargetFactory,
    TermFactory,
    local,
)

pytestmark = pytest.mark.django_db

NOW = local(2026, 6, 15, 12)


def _family(name: str, children: list[str]):
    user = UserFactory(display_name=name)
    guardian = family_create_for_user(user=user, relation="mother")
    kids = []
    if children:
        consent_record(user=user, document=ConsentRecord.Document.CHILDREN_INFO)
        kids = [
            child_add(family=guardian.family, actor=user, nickname=nick, birth_year=2016)
            for nick in children
        ]
    return guardian, kids


def _book(offering_id, guardian, children=()):
    return booking_create(
        offering_id=offering_id,
        family=guardian.family,
        booked_by=guardian.user,
        guardian_ids=[guardian.pk],
        child_ids=[c.pk for c in children],
    )


def _session(course, starts_at, hours, capacity=10):
    return course_services.course_session_create(
        course=course,
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(hours=hours),
        capacity=capacity,
        venue="多功能厅",
    )


def _event(unit, starts_at, status=Event.Status.PUBLISHED):
    return event_services.event_create(
        created_by=None,
        title=f"家庭教育讲座 {starts_at:%m-%d}",
        kind=Event.Kind.LECTURE,
        organiser_unit=unit,
        audience=Event.Audience.PARENTS,
        venue="报告厅",
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(hours=2),
        capacity=50,
        status=status,
    )


def _mark(session, booking, present):
    course_services.session_attendance_mark(
        session=session, booking_id=booking.pk, present=present, marked_by=None
    )


@pytest.fixture
def term(db):
    d = SimpleNamespace()
    d.term = TermFactory(code="2025-2026-2", is_current=True)
    d.alliance = AllianceFactory()
    d.u1 = MemberUnitFactory(name="第一小学")
    d.u2 = MemberUnitFactory(name="第二社区")
    d.u3 = MemberUnitFactory(name="联盟外学校")  # not in the alliance: never counted
    MembershipFactory(alliance=d.alliance, unit=d.u1)
    MembershipFactory(alliance=d.alliance, unit=d.u2)
    d.coordinator = UserFactory(username="alliance_coordinator")
    RoleAssignmentFactory(
        user=d.coordinator,
        role=RoleAssignment.Role.ALLIANCE_COORDINATOR,
        unit=None,
        alliance=d.alliance,
    )

    d.ps_a = ParentSchoolFactory(name="A家长学校", host_unit=d.u1)
    d.ps_b = ParentSchoolFactory(name="B家长学校", host_unit=d.u1)
    d.ps_c = ParentSchoolFactory(name="C家长学校", host_unit=d.u2)
    d.ps_d = ParentSchoolFactory(name="D家长学校", host_unit=d.u2)
    ParentSchoolFactory(name="E家长学校", host_unit=d.u2, is_active=False)
    TargetFactory(parent_school=d.ps_a, term=d.term, sessions_required=2)
    TargetFactory(parent_school=d.ps_c, term=d.term, sessions_required=1)
    volunteer = InstructorFactory(unit=d.u1, is_volunteer=True)
    staff = InstructorFactory(unit=d.u1, is_volunteer=False)
    course_a = CourseFactory(parent_school=d.ps_a, term=d.term, credits=Decimal("1"))
    course_a.instructors.add(volunteer, staff)
    course_b = CourseFactory(parent_school=d.ps_b, term=d.term, credits=Decimal("2"))
    course_c = CourseFactory(parent_school=d.ps_c, term=d.term, credits=Decimal("1.5"))
    course_c.instructors.add(volunteer)

    with demo_clock(local(2026, 2, 20, 9)):
        (g1, (k1,)) = _family("F1", ["k1"])
        (g2, (k2, k3)) = _family("F2", ["k2", "k3"])
        (g3, ()) = _family("F3", [])
        (g4, (k4,)) = _family("F4", ["k4"])
        a1 = _session(course_a, local(2026, 3, 10, 19), 2)
        a2 = _session(course_a, local(2026, 4, 5, 10), 1.5, capacity=3)
        a3 = _session(course_a, local(2026, 4, 20, 19), 2)
        a4 = _session(course_a, local(2026, 6, 20, 10), 2)
        b1 = _session(course_b, local(2026, 3, 15, 14), 2)
        c1 = _session(course_c, local(2026, 5, 1, 9), 1)
        e1 = _event(d.u1, local(2026, 4, 10, 14))
        _event(d.u1, local(2026, 5, 5, 14), status=Event.Status.DRAFT)
        e3 = _event(d.u2, local(2026, 7, 15, 14))
        e4 = _event(d.u2, local(2026, 5, 20, 14))
        _event(d.u3, local(2026, 4, 1, 14))

    with demo_clock(local(2026, 3, 1, 10)):
        bk_a1 = {
            "f1": _book(a1.offering_id, g1, [k1]),
            "f2": _book(a1.offering_id, g2, [k2, k3]),
            "f3": _book(a1.offering_id, g3),
            "f4": _book(a1.offering_id, g4, [k4]),
        }
        bk_b1_f3 = _book(b1.offering_id, g3)
        _book(b1.offering_id, g4, [k4])
        bk_a2_f3 = _book(a2.offering_id, g3)
        bk_a2_f2 = _book(a2.offering_id, g2, [k2])
        bk_a2_f1 = _book(a2.offering_id, g1, [k1])
        _book(a3.offering_id, g4)
        _book(a4.offering_id, g2)
        _book(a4.offering_id, g4, [k4])
        bk_c1_f1 = _book(c1.offering_id, g1)
        bk_c1_f2 = _book(c1.offering_id, g2, [k3])
        reg_e1_f2 = event_services.event_register(
            event_id=e1.pk,
            family=g2.family,
            booked_by=g2.user,
            guardian_ids=[g2.pk],
            child_ids=[k2.pk],
        )
        for event, guardian in ((e1, g3), (e1, g4), (e3, g1), (e4, g1)):
            event_services.event_register(
                event_id=event.pk,
                family=guardian.family,
                booked_by=guardian.user,
                guardian_ids=[guardian.pk],
            )
    assert bk_a2_f1.status == Booking.Status.WAITING

    with demo_clock(local(2026, 3, 5, 10)):
        booking_cancel(booking_id=bk_a1["f4"].pk, family=g4.family, cancelled_by=g4.user)
    with demo_clock(local(2026, 3, 10, 21, 10)):
        _mark(a1, bk_a1["f1"], True)
        _mark(a1, bk_a1["f2"], False)
        _mark(a1, bk_a1["f3"], True)
    with demo_clock(local(2026, 3, 15, 16, 10)):
        _mark(b1, bk_b1_f3, True)
    with demo_clock(local(2026, 4, 1, 10)):
        booking_cancel(booking_id=bk_a2_f2.pk, family=g2.family, cancelled_by=g2.user)
        event_services.event_registration_cancel(
            event_id=e1.pk, family=g4.family, cancelled_by=g4.user
        )
    bk_a2_f1.refresh_from_db()
    assert bk_a2_f1.status == Booking.Status.CONFIRMED and bk_a2_f1.promoted_at
    with demo_clock(local(2026, 4, 5, 11, 40)):
        _mark(a2, bk_a2_f3, True)
        _mark(a2, bk_a2_f1, True)
    with demo_clock(local(2026, 4, 10, 14, 10)):
        event_services.event_check_in(event=e1, booking_id=reg_e1_f2.pk, marked_by=None)
    with demo_clock(local(2026, 4, 15, 10)):
        course_services.course_session_cancel(session=a3, cancelled_by=None)
    with demo_clock(local(2026, 5, 1, 10, 10)):
        _mark(c1, bk_c1_f1, True)
        _mark(c1, bk_c1_f2, True)
    with demo_clock(local(2026, 5, 2, 9)):
        _mark(c1, bk_c1_f2, False)  # a correction: the credits are reversed
    with demo_clock(local(2026, 5, 10, 10)):
        event_services.event_cancel(event_id=e4.pk, cancelled_by=None)

    # The volunteer's service-hours record, as volunteers.services records it from
    # the held sessions of her courses (A1 2 h, A2 1.5 h, C1 1 h): the roll-up's
    # volunteer hours read this record (a pending entry counts nowhere).
    for session, hours, school in ((a1, "2.0", d.ps_a), (a2, "1.5", d.ps_a), (c1, "1.0", d.ps_c)):
        ServiceHourFactory(
            instructor=volunteer,
            term=d.term,
            source=ServiceHour.Source.SESSION,
            offering=session.offering,
            unit=school.host_unit,
            parent_school=school,
            served_on=session.offering.starts_at.astimezone(local(2026, 1, 1).tzinfo).date(),
            hours=Decimal(hours),
            status=ServiceHour.Status.RECORDED,
        )
    ServiceHourFactory(
        instructor=volunteer, term=d.term, unit=d.u1, served_on=local(2026, 4, 1).date()
    )

    # Lesson progress is written directly (its heartbeat service is not what is
    # under test here); only completed lessons count.
    lesson = OnlineLesson.objects.create(course=course_a, title="微课", duration_seconds=600)
    LessonProgress.objects.create(
        lesson=lesson, family=g1.family, percent=100, completed_at=local(2026, 4, 12)
    )
    LessonProgress.objects.create(lesson=lesson, family=g2.family, percent=40)

    # the services did what the story says: one credit entry per present member
    # (A1 3, B1 1, A2 3, C1 1 + 2) and one reversal per corrected one (2)
    assert CreditEntry.objects.filter(term=d.term).count() == 12
    return d


# --- reading the rendered page ---------------------------------------------------


class _PageReader(HTMLParser):
    """The key figures (``data-figure``) and every table (by caption) of a page, as text."""

    def __init__(self):
        super().__init__()
        self.figures: dict[str, str] = {}
        self.tables: dict[str, list[list[str]]] = {}
        self._figure_key = None
        self._in_value = False
        self._table = None
        self._caption = None
        self._row = None
        self._cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "li" and "data-figure" in attrs:
            self._figure_key = attrs["data-figure"]
            self.figures[self._figure_key] = ""
        elif tag == "span" and self._figure_key and "report-figure" in attrs.get("class", ""):
            self._in_value = attrs.get("class") == "report-figure"
        elif tag == "table":
            self._table = []
            self._table_name = f"table {len(self.tables) + 1}"
        elif tag == "caption":
            self._caption = ""
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = ""

    def handle_endtag(self, tag):
        if tag == "li":
            self._figure_key = None
        elif tag == "span":
            self._in_value = False
        elif tag == "caption":
            self._table_name = self._caption.strip()
            self._caption = None
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join(self._cell.split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self._table.append(self._row)
            self._row = None
        elif tag == "table":
            self.tables[self._table_name] = self._table
            self._table = None

    def handle_data(self, data):
        if self._in_value:
            self.figures[self._figure_key] += data.strip()
        if self._caption is not None:
            self._caption += data
        if self._cell is not None:
            self._cell += data


def read(response) -> _PageReader:
    assert response.status_code == 200
    reader = _PageReader()
    reader.feed(response.content.decode())
    return reader


def body_rows(table: list[list[str]]) -> list[list[str]]:
    return table[1:]  # the first row is the header


# --- the figures ------------------------------------------------------------------


def test_every_figure_of_the_alliance_dashboard_matches_the_term_worked_out_by_hand(client, term):
    # given
    participation_rollup(term=term.term, now=NOW)
    client.force_login(term.coordinator)

    # when
    page = read(client.get(reverse("reports:overview"), {"term": term.term.code}))

    # then: the key figures
    assert page.figures == {
        # A1: F1 2 + F3 1; A2: F3 1 + F1 2; B1: F3 1; C1: F1 1; E1: F2 2
        "person_times": "10",
        # A {F1, F3} + B {F3} + C {F1} + U1's events {F2}: distinct within each school
        "families": "5",
        # k1 (A) + k2 (U1's events); k3's C1 attendance was corrected to absent
        "children": "2",
        # A1, A2, B1, C1 (A3 cancelled, A4 not yet)
        "sessions_held": "4",
        # A (2 of 2) and C (1 of 1) met; B (1 of 10) and D (0 of 10) not
        "schools_met": "2/4",
        # present 2 + 2 + 1 + 1 of confirmed 3 + 2 + 2 + 2 on held sessions
        "attendance_rate": "66.7%",
        # A1 3 + A2 2 + A4 2 + B1 2 + C1 2 (cancelled and waiting ones not)
        "enrolments": "11",
        # A 2+1+1+2, B 2, C 1.5 (+3 − 3 for the correction)
        "credits_posted": "9.5",
        # E1 (E2 draft, E3 after the term, E4 cancelled)
        "events_held": "1",
        "event_participants": "2",
        # the volunteer's counted service hours: A1 2 h + A2 1.5 h + C1 1 h (not the pending one)
        "volunteer_hours": "4.5",
        "lessons_completed": "1",
        "consultations_held": "0",
    }
    # the monthly trend: month, sessions, events, person-times, attendance rate, credits
    assert body_rows(page.tables["月度趋势数据"]) == [
        ["2026-03", "2", "0", "4", "60.0%", "5.0"],  # A1, B1: present 3 of 5
        ["2026-04", "1", "1", "5", "100.0%", "3.0"],  # A2 3 + E1 2
        ["2026-05", "1", "0", "1", "50.0%", "1.5"],  # C1
        ["2026-06", "0", "0", "0", "—", "0.0"],  # A4 is planned only
    ]
    # the units: sessions, events, person-times, families, rate, schools met, and
    # the questionnaires' response rate and satisfaction (no survey in this term)
    assert body_rows(page.tables["各单位本学期数字"]) == [
        ["第一小学", "3", "1", "9", "4", "71.4%", "1/2", "—", "—"],  # present 5 of 7
        ["第二社区", "1", "0", "1", "1", "50.0%", "1/2", "—", "—"],
    ]
    targets = body_rows(page.tables["家长学校目标达成表"])
    assert sorted(targets) == [
        ["A家长学校", "第一小学", "2", "2", "✔ 达标"],
        ["B家长学校", "第一小学", "1", "10", "✘ 未达标"],
        ["C家长学校", "第二社区", "1", "1", "✔ 达标"],
        ["D家长学校", "第二社区", "0", "10", "✘ 未达标"],
    ]
    assert [row[-1] for row in targets] == ["✘ 未达标", "✘ 未达标", "✔ 达标", "✔ 达标"]


def test_every_figure_of_a_unit_and_a_school_dashboard_matches_the_hand_count(client, term):
    # given
    participation_rollup(term=term.term, now=NOW)
    client.force_login(term.coordinator)

    # when
    unit_page = read(
        client.get(reverse("reports:unit", args=[term.u1.pk]), {"term": term.term.code})
    )
    school_page = read(
        client.get(reverse("reports:school", args=[term.ps_c.pk]), {"term": term.term.code})
    )

    # then: U1 = A + B + its events
    assert unit_page.figures == {
        "person_times": "9",
        "families": "4",
        "children": "2",
        "sessions_held": "3",
        "schools_met": "1/2",
        "attendance_rate": "71.4%",
        "enrolments": "9",
        "credits_posted": "8.0",
        "events_held": "1",
        "event_participants": "2",
        "volunteer_hours": "3.5",
        "lessons_completed": "1",
        "consultations_held": "0",
    }
    # its parent schools and events: sessions, events, person-times, families, rate, credits
    assert body_rows(unit_page.tables["本单位各家长学校本学期数字"]) == [
        ["A家长学校", "2", "0", "6", "2", "80.0%", "6.0"],
        ["（联盟/单位活动）", "0", "1", "2", "1", "—", "0.0"],
        ["B家长学校", "1", "0", "1", "1", "50.0%", "2.0"],
    ]
    # and C alone
    assert school_page.figures == {
        "person_times": "1",
        "families": "1",
        "children": "0",
        "sessions_held": "1",
        "schools_met": "1/1",
        "attendance_rate": "50.0%",
        "enrolments": "2",
        "credits_posted": "1.5",
        "events_held": "0",
        "event_participants": "0",
        "volunteer_hours": "1.0",
        "lessons_completed": "0",
        "consultations_held": "0",
    }
    assert body_rows(school_page.tables["月度趋势数据"]) == [
        ["2026-05", "1", "0", "1", "50.0%", "1.5"]
    ]


def test_each_figure_on_the_page_says_what_it_counts(client, term):
    # given
    participation_rollup(term=term.term, now=NOW)
    client.force_login(term.coordinator)

    # when
    html = client.get(reverse("reports:overview"), {"term": term.term.code}).content.decode()

    # then: every key figure carries its note
    from reports.selectors import KEY_FIGURES

    for figure in KEY_FIGURES:
        assert f'data-figure="{figure.key}"' in html
        assert str(figure.note) in html
    assert "签到为出席的家庭成员人次" in html


def test_families_and_people_are_counted_from_the_same_attendance(term):
    """The bug behind the demo dashboard's "3 families covered, 0 participations":
    families, children and event participants were counted from bookings
    (future and unmarked ones too), person-times from attendance. Now all of them
    count the same attendance, so they agree on every row."""
    from reports.models import ParticipationSnapshot

    # when
    participation_rollup(term=term.term, now=NOW)
    rows = list(ParticipationSnapshot.objects.filter(term=term.term))

    # then: nobody is covered who did not take part (A4's and B1's F4, E1's F3 are not)
    for row in rows:
        assert row.families <= row.person_times
        assert row.children <= row.person_times
        assert row.event_participants <= row.person_times
        assert row.attendances <= row.enrolments_held <= row.enrolments
        assert (row.families == 0) == (row.person_times == 0)
