"""Every get-or-create on a unique key survives two simultaneous first calls.

Parents on slow phone networks tap twice, and a page opened on two devices makes
two first visits. Each test runs two callers at the same instant in real threads
on PostgreSQL (tests/races.py), forced to collide just before their first write,
and checks that nothing fails and the second is answered as if it had come second.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from bookings import services as booking_services
from bookings.errors import BookingError
from bookings.models import Booking
from bookings.tests.conftest import make_family
from bookings.tests.factories import OfferingFactory
from courses import services as course_services
from courses.errors import CourseError
from courses.models import CreditEntry, LessonProgress
from courses.tests.factories import CourseFactory, OnlineLessonFactory
from events import services as event_services
from events.models import CalendarFeed
from members import registry
from members import services as member_services
from members.errors import MembersError
from members.models import (
    AuditLog,
    ConsentRecord,
    Family,
    Guardian,
    Membership,
    RoleAssignment,
    User,
)
from members.registry import RegistryError
from members.tests.factories import (
    AllianceFactory,
    MemberUnitFactory,
    RoleAssignmentFactory,
    UserFactory,
)
from members.tests.family_support import PASSWORD, sms_outbox_fixture  # noqa: F401 - fixture
from notifications.models import NotificationPreference
from notifications.services import notification_preference_update
from reports.models import ParticipationSnapshot
from reports.services import participation_rollup
from tests.races import run_together

pytestmark = pytest.mark.django_db(transaction=True)


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _no_errors(outcome) -> None:
    assert outcome.errors == []
    # both callers had read before either wrote: the collision really happened
    assert outcome.met == 2


# --- the family's calendar feed ----------------------------------------------------


def test_two_first_calendar_visits_make_one_feed():
    # given a family that has never opened its calendar
    family, _guardians, _ = make_family()
    assert connection.vendor == "postgresql"

    # when two first visits ask for the feed at the same instant
    outcome = run_together(
        [lambda: event_services.calendar_feed_get_or_create(family=family)] * 2,
        meet_before_write=["events_calendarfeed", "members_family"],
    )

    # then there is one live feed and both were given it
    _no_errors(outcome)
    feed = CalendarFeed.objects.get(family=family, revoked_at__isnull=True)
    assert [r.pk for r in outcome.results] == [feed.pk, feed.pk]


def test_two_first_visits_to_the_calendar_page_over_http_both_answer_200():
    # given a parent signed in on two phones, neither has opened the calendar yet
    family, guardians, _ = make_family()
    phones = [_signed_in(guardians[0].user) for _ in range(2)]

    # when both open /calendar/ at the same instant
    outcome = run_together(
        [lambda c=c: c.get("/calendar/") for c in phones],
        meet_before_write=["events_calendarfeed", "members_family"],
    )

    # then both pages show the one feed that now exists
    _no_errors(outcome)
    feed = CalendarFeed.objects.get(family=family, revoked_at__isnull=True)
    assert [r.status_code for r in outcome.results] == [200, 200]
    for response in outcome.results:
        assert feed.token in response.content.decode()


def test_two_feed_renewals_at_once_run_in_turn():
    # given a family with a live feed
    family, guardians, _ = make_family()
    first = event_services.calendar_feed_get_or_create(family=family)
    user = guardians[0].user

    # when "renew the link" is sent twice at the same instant
    outcome = run_together(
        [lambda: event_services.calendar_feed_revoke(family=family, revoked_by=user)] * 2,
        meet_before_write=["events_calendarfeed", "members_family"],
    )

    # then the second revoked the link the first made: one live feed, two revoked
    _no_errors(outcome)
    live = CalendarFeed.objects.get(family=family, revoked_at__isnull=True)
    revoked = CalendarFeed.objects.filter(family=family, revoked_at__isnull=False)
    assert {f.pk for f in revoked} == {first.pk} | {r.pk for r in outcome.results if r != live}
    assert revoked.count() == 2
    assert live.pk in {r.pk for r in outcome.results}
    entries = AuditLog.objects.filter(action="events.calendar_feed.revoke")
    assert sorted(e.data["revoked"] for e in entries) == [1, 1]


def test_two_renew_link_posts_over_http_both_redirect():
    # given a parent with a live feed, signed in on two phones
    family, guardians, _ = make_family()
    old = event_services.calendar_feed_get_or_create(family=family)
    phones = [_signed_in(guardians[0].user) for _ in range(2)]

    # when both tap "renew" at the same instant
    outcome = run_together(
        [lambda c=c: c.post("/calendar/revoke/") for c in phones],
        meet_before_write=["events_calendarfeed", "members_family"],
    )

    # then both are sent back to the calendar, which shows the one live link
    _no_errors(outcome)
    assert [(r.status_code, r["Location"]) for r in outcome.results] == [
        (302, "/calendar/"),
        (302, "/calendar/"),
    ]
    live = CalendarFeed.objects.get(family=family, revoked_at__isnull=True)
    assert live.pk != old.pk
    assert CalendarFeed.objects.filter(family=family).count() == 3
    page = phones[0].get("/calendar/").content.decode()
    assert live.token in page and old.token not in page


def test_a_first_visit_racing_a_renewal_leaves_one_live_feed():
    # given a family with no feed yet
    family, guardians, _ = make_family()
    user = guardians[0].user

    # when the calendar page is opened on one phone while "renew" is sent on another
    outcome = run_together(
        [
            lambda: event_services.calendar_feed_get_or_create(family=family),
            lambda: event_services.calendar_feed_revoke(family=family, revoked_by=user),
        ],
        meet_before_write=["events_calendarfeed", "members_family"],
    )

    # then exactly one feed is live, whichever went first
    _no_errors(outcome)
    assert CalendarFeed.objects.filter(family=family, revoked_at__isnull=True).count() == 1


# --- family set-up ---------------------------------------------------------------


def test_two_family_setups_at_once_make_one_family():
    # given a new parent without a family
    user = UserFactory(phone="13800001111")

    def set_up():
        try:
            return member_services.family_create_for_user(user=user, relation="mother")
        except MembersError as error:
            return error.code

    # when the set-up is sent twice at the same instant
    outcome = run_together([set_up] * 2, meet_before_write=["members_user", "members_guardian"])

    # then one family with one guardian exists, and the second was told so
    _no_errors(outcome)
    guardian = Guardian.objects.get(user=user)
    assert sorted(outcome.results, key=str) == sorted([guardian, "already_in_family"], key=str)
    assert Family.objects.count() == 1
    assert AuditLog.objects.filter(action="members.family.create").count() == 1


def test_accepting_an_invitation_while_setting_up_a_family_makes_one_guardian():
    # given a parent invited into a family by her phone number, not in a family yet
    family, guardians, _ = make_family()
    user = UserFactory(phone="13800002222", phone_verified=True)
    invitation = member_services.family_invitation_create(
        family=family,
        invited_by=guardians[0].user,
        relation="mother",
        phone=user.phone,
        base_url="http://testserver/",
    )

    def accept():
        try:
            return member_services.family_invitation_accept(token=invitation.token, user=user)
        except MembersError as error:
            return error.code

    def set_up():
        try:
            return member_services.family_create_for_user(user=user, relation="mother")
        except MembersError as error:
            return error.code

    # when she accepts on one phone while starting a family of her own on another
    outcome = run_together([accept, set_up], meet_before_write=["members_user", "members_guardian"])

    # then she is the guardian of exactly one family and the other call was told so
    _no_errors(outcome)
    guardian = Guardian.objects.get(user=user)
    assert outcome.results.count("already_in_family") == 1
    assert guardian in outcome.results


def test_two_family_setup_posts_over_http_both_redirect_to_the_family():
    # given a new parent on two phones, each showing the set-up form
    user = UserFactory(phone="13800001111")
    phones = [_signed_in(user) for _ in range(2)]
    data = {"relation": "mother", "phone": "13800001111", "display_name": "王妈妈"}

    # when both forms are sent at the same instant
    outcome = run_together(
        [lambda c=c: c.post("/family/", data) for c in phones],
        meet_before_write=["members_user", "members_guardian"],
    )

    # then both go to the family page, one family exists, and neither shows an error
    _no_errors(outcome)
    assert [(r.status_code, r["Location"]) for r in outcome.results] == [
        (302, "/family/"),
        (302, "/family/"),
    ]
    assert Family.objects.count() == 1
    guardian = Guardian.objects.get(user=user)
    for phone in phones:
        page = phone.get("/family/")
        assert page.status_code == 200
        assert page.context["family"] == guardian.family
        assert "您已经是一个家庭的监护人了" not in page.content.decode()


# --- signing up -------------------------------------------------------------------------


def test_two_signups_with_one_number_at_once_make_one_account(sms_outbox):
    # given a new parent on a slow network who taps "注册" twice
    data = {
        "phone": "13812345678",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "agree_privacy": "on",
    }
    phones = [Client(), Client()]

    # when both sign-ups arrive at the same instant
    outcome = run_together(
        [lambda c=c: c.post("/accounts/signup/", data) for c in phones],
        meet_before_write=["members_user"],
    )

    # then one account holds the number, no half-made account is left, and the
    # second is answered as a later sign-up with that number is (a second code
    # within the resend limit: 429, never 500)
    _no_errors(outcome)
    statuses = sorted(r.status_code for r in outcome.results)
    assert statuses == [302, 429]
    user = User.objects.get()
    assert user.phone == "13812345678"
    assert ConsentRecord.objects.filter(user=user).count() == 1
    assert len([t for t in sms_outbox if t.phone == "13812345678"]) == 1


# --- consent --------------------------------------------------------------------------


def test_two_agreements_at_once_record_once():
    # given a parent who has not agreed to the children's-information rules
    guardian = make_family()[1][0]
    user = guardian.user
    document = ConsentRecord.Document.CHILDREN_INFO

    # when "I agree" is sent twice at the same instant
    outcome = run_together(
        [lambda: member_services.consent_record(user=user, document=document)] * 2,
        meet_before_write=["members_user", "members_consentrecord"],
    )

    # then one record and one audit entry exist, and both callers got that record
    _no_errors(outcome)
    record = ConsentRecord.objects.get(user=user, document=document)
    assert [r.pk for r in outcome.results] == [record.pk, record.pk]
    assert AuditLog.objects.filter(action="members.consent.agree").count() == 1


def test_two_agree_posts_over_http_record_once():
    guardian = make_family()[1][0]
    phones = [_signed_in(guardian.user) for _ in range(2)]

    outcome = run_together(
        [lambda c=c: c.post("/privacy/children/", {"agree": "yes"}) for c in phones],
        meet_before_write=["members_user", "members_consentrecord"],
    )

    _no_errors(outcome)
    assert [r.status_code for r in outcome.results] == [302, 302]
    assert ConsentRecord.objects.filter(user=guardian.user).count() == 1


# --- notification preferences ------------------------------------------------------


def test_two_first_preference_saves_at_once_make_one_row():
    # given a parent who has never saved notification settings
    user = UserFactory()

    def save(by_sms: bool):
        return lambda: notification_preference_update(
            user=user,
            by_email=True,
            in_site=True,
            by_sms=by_sms,
            quiet_start=datetime.time(22, 0),
            quiet_end=datetime.time(7, 0),
        )

    # when two saves arrive at the same instant
    outcome = run_together(
        [save(True), save(False)], meet_before_write=["notifications_notificationpreference"]
    )

    # then one row holds one of the two, whole
    _no_errors(outcome)
    preference = NotificationPreference.objects.get(user=user)
    assert preference.by_sms in (True, False)
    assert {r.pk for r in outcome.results} == {preference.pk}


# --- online lessons and credits ----------------------------------------------------


def test_two_first_progress_reports_at_once_make_one_progress_row(settings, tmp_path):
    # given a parent opening an uploaded lesson for the first time (on two tabs)
    settings.MEDIA_ROOT = str(tmp_path)
    lesson = OnlineLessonFactory(uploaded=True, duration_seconds=600)
    guardian = make_family()[1][0]

    def report():
        return course_services.lesson_progress_record(
            lesson=lesson, user=guardian.user, position_seconds=20, watched_seconds=20
        )

    # when both tabs report progress at the same instant
    outcome = run_together([report] * 2, meet_before_write=["courses_lessonprogress"])

    # then one progress row exists; the first heartbeat starts the clock, so the
    # second (a moment later) counts no more than that moment
    _no_errors(outcome)
    progress = LessonProgress.objects.get(lesson=lesson, family=guardian.family)
    assert progress.position_seconds == 20 and progress.seconds_watched < 1
    assert {r[0].pk for r in outcome.results} == {progress.pk}


def test_two_completing_reports_at_once_credit_once(settings, tmp_path):
    # given a parent near the end of an uploaded lesson, her last heartbeat 10 s ago
    settings.MEDIA_ROOT = str(tmp_path)
    lesson = OnlineLessonFactory(uploaded=True, duration_seconds=600)
    guardian = make_family()[1][0]
    LessonProgress.objects.create(
        lesson=lesson,
        family=guardian.family,
        seconds_watched=535,
        last_heartbeat_at=timezone.now() - datetime.timedelta(seconds=10),
    )

    def report():
        return course_services.lesson_progress_record(
            lesson=lesson, user=guardian.user, position_seconds=545, watched_seconds=10
        )

    # when the last report is sent twice at the same instant
    outcome = run_together([report] * 2, meet_before_write=["courses_lessonprogress"])

    # then the lesson is credited once, to the one call that completed it
    _no_errors(outcome)
    assert sorted(credited for _progress, credited in outcome.results) == [False, True]
    assert CreditEntry.objects.filter(reason=CreditEntry.Reason.ONLINE_LESSON).count() == 1


def test_two_reversals_of_one_credit_at_once_reverse_it_once():
    # given one credit entry
    course = CourseFactory()
    family = make_family()[0]
    entry = CreditEntry.objects.create(
        key="attendance:race",
        family=family,
        term=course.term,
        course=course,
        amount=Decimal("1.0"),
        reason=CreditEntry.Reason.ATTENDANCE,
    )

    def reverse():
        try:
            return course_services.credit_reverse(entry=entry, created_by=None)
        except CourseError as error:
            return error.code

    # when the admin action is sent twice at the same instant
    outcome = run_together([reverse] * 2, meet_before_write=["courses_creditentry"])

    # then one reversing row exists and the second was told it is already reversed
    _no_errors(outcome)
    reversal = CreditEntry.objects.get(reverses=entry)
    assert reversal.amount == Decimal("-1.0")
    assert sorted(outcome.results, key=str) == sorted([reversal, "already_reversed"], key=str)


# --- role grants and memberships ---------------------------------------------------


def test_the_same_role_granted_twice_at_once_is_granted_once():
    # given a district administrator and a teacher without roles
    admin = RoleAssignmentFactory(role=RoleAssignment.Role.CITY_ADMIN, unit=None).user
    teacher = UserFactory()
    unit = MemberUnitFactory()

    def grant():
        try:
            return registry.role_assign(
                actor=admin, user=teacher, role=RoleAssignment.Role.UNIT_COORDINATOR, unit=unit
            )
        except RegistryError as error:
            return error.code

    # when the grant form is sent twice at the same instant
    outcome = run_together([grant] * 2, meet_before_write=["members_roleassignment"])

    # then the teacher holds the role once and the second was told it exists
    _no_errors(outcome)
    assignment = RoleAssignment.objects.get(user=teacher)
    assert sorted(outcome.results, key=str) == sorted([assignment, "role_exists"], key=str)
    teacher.refresh_from_db()
    assert teacher.is_staff is True
    assert AuditLog.objects.filter(action="members.role.assign").count() == 1


def test_units_added_to_an_alliance_twice_at_once_are_added_once():
    admin = RoleAssignmentFactory(role=RoleAssignment.Role.CITY_ADMIN, unit=None).user
    alliance = AllianceFactory()
    units = [MemberUnitFactory(), MemberUnitFactory()]

    outcome = run_together(
        [lambda: registry.units_add_to_alliance(actor=admin, alliance=alliance, units=units)] * 2,
        meet_before_write=["members_membership", "members_alliance"],
    )

    # the second saw the first's memberships as already there
    _no_errors(outcome)
    assert sorted(outcome.results) == [(0, 2), (2, 0)]
    assert Membership.objects.filter(alliance=alliance).count() == 2


# --- bookings and snapshots (already safe: kept so they stay so) -----------------


def test_one_family_booking_twice_at_once_gets_one_booking():
    offering = OfferingFactory(capacity=5)
    family, guardians, _ = make_family()

    def book():
        try:
            return booking_services.booking_create(
                offering_id=offering.pk,
                family=family,
                booked_by=guardians[0].user,
                guardian_ids=[guardians[0].pk],
            )
        except BookingError as error:
            return error.code

    outcome = run_together([book] * 2, meet_before_write=["bookings_offering"])

    _no_errors(outcome)
    booking = Booking.objects.get(offering=offering)
    assert sorted(outcome.results, key=str) == sorted([booking, "already_booked"], key=str)
    offering.refresh_from_db()
    assert offering.places_taken == 1


def test_two_rollups_of_a_term_at_once_leave_the_snapshot_of_one():
    from reports.tests.factories import TermFactory, booking_make, local, session_make

    # given a term with one held session and one attended booking
    term = TermFactory(code="2025-2026-2")
    course = CourseFactory(term=term)
    session = session_make(course=course, starts_at=local(2026, 4, 1))
    family, guardians, _ = make_family()
    booking_make(
        offering=session.offering,
        family=family,
        guardian=guardians[0],
        attendance=Booking.Attendance.PRESENT,
    )
    now = local(2026, 6, 15, 12)
    participation_rollup(term=term, now=now)
    expected = sorted(
        ParticipationSnapshot.objects.values_list("unit_id", "period", "person_times")
    )
    ParticipationSnapshot.objects.all().delete()

    # when two roll-ups of the same term run at the same instant (they meet at the
    # advisory lock under which roll-ups take turns, so the second waits there
    # while the first writes)
    outcome = run_together(
        [lambda: participation_rollup(term=term, now=now)] * 2,
        meet_before_statement=["pg_advisory_lock"],
    )

    # then the snapshot is the same as one roll-up's
    _no_errors(outcome)
    assert outcome.results[0] == outcome.results[1] == len(expected)
    got = sorted(ParticipationSnapshot.objects.values_list("unit_id", "period", "person_times"))
    assert got == expected
