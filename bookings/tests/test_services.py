from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from bookings import services
from bookings.errors import BookingError
from bookings.models import Booking, Offering
from bookings.selectors import booking_annotate_waiting_position, booking_waiting_position
from bookings.tests.conftest import make_family
from bookings.tests.factories import OfferingFactory
from members.models import AuditLog
from notifications.models import Notification

pytestmark = pytest.mark.django_db


def book(offering, family, guardians, children=()):
    return services.booking_create(
        offering_id=offering.pk,
        family=family,
        booked_by=guardians[0].user,
        guardian_ids=[g.pk for g in guardians],
        child_ids=[c.pk for c in children],
    )


def test_a_party_that_fits_is_confirmed_and_counts_persons():
    # given an offering with 10 places and a family of two guardians and one child
    offering = OfferingFactory(capacity=10)
    family, guardians, kids = make_family(children=1, guardians=2)

    # when they book all three
    booking = book(offering, family, guardians, kids)

    # then the booking is confirmed for 3 persons, one a child
    offering.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED
    assert booking.party_size == 3 and booking.children_count == 1
    assert booking.attendees.count() == 3
    assert offering.places_taken == 3
    assert AuditLog.objects.filter(action="bookings.booking.create").count() == 1


def test_a_full_offering_puts_the_family_on_the_waiting_list_in_order():
    # given an offering with two places, both taken
    offering = OfferingFactory(capacity=2)
    family_a, guardians_a, kids_a = make_family(children=1)
    book(offering, family_a, guardians_a, kids_a)

    # when two more families book
    family_b, guardians_b, _ = make_family()
    family_c, guardians_c, _ = make_family()
    second = book(offering, family_b, guardians_b)
    third = book(offering, family_c, guardians_c)

    # then they wait, first come first served
    offering.refresh_from_db()
    assert second.status == third.status == Booking.Status.WAITING
    assert offering.waiting_families == 2
    assert booking_waiting_position(booking=second) == 1
    assert booking_waiting_position(booking=third) == 2
    annotated = dict(
        booking_annotate_waiting_position(Booking.objects.filter(status="waiting")).values_list(
            "pk", "waiting_position"
        )
    )
    assert annotated == {second.pk: 1, third.pk: 2}


def test_cancellation_promotes_the_first_families_whose_party_fits(
    django_capture_on_commit_callbacks,
):
    # given 3 places taken by a family of 3, then waiting: a party of 3, a party of 1, a party of 1
    offering = OfferingFactory(capacity=3)
    fam_a, g_a, k_a = make_family(children=2)
    booking_a = book(offering, fam_a, g_a, k_a)
    fam_b, g_b, k_b = make_family(children=3)
    big = book(offering, fam_b, g_b, k_b[:2])  # 3 persons
    fam_c, g_c, _ = make_family()
    small_1 = book(offering, fam_c, g_c)
    fam_d, g_d, _ = make_family()
    small_2 = book(offering, fam_d, g_d)

    # when family A cancels, freeing 3 places
    with django_capture_on_commit_callbacks(execute=True):
        services.booking_cancel(booking_id=booking_a.pk, family=fam_a, cancelled_by=g_a[0].user)

    # then the first waiting family whose party fits (the big one: 3 free) is promoted,
    # and the singles keep waiting because no place is left
    big.refresh_from_db()
    small_1.refresh_from_db()
    offering.refresh_from_db()
    assert big.status == Booking.Status.CONFIRMED and big.promoted_at is not None
    assert small_1.status == Booking.Status.WAITING
    assert offering.places_taken == 3 and offering.waiting_families == 2

    # when the big party cancels, both singles fit and are promoted in order
    with django_capture_on_commit_callbacks(execute=True):
        services.booking_cancel(booking_id=big.pk, family=fam_b, cancelled_by=g_b[0].user)
    small_1.refresh_from_db()
    small_2.refresh_from_db()
    offering.refresh_from_db()
    assert small_1.status == small_2.status == Booking.Status.CONFIRMED
    assert offering.places_taken == 2 and offering.waiting_families == 0


def test_a_party_too_big_for_the_free_places_lets_a_smaller_later_party_through(
    django_capture_on_commit_callbacks,
):
    # given 2 places, both taken by two singles; waiting: a party of 2, then a single
    offering = OfferingFactory(capacity=2)
    fam_a, g_a, _ = make_family()
    a = book(offering, fam_a, g_a)
    fam_b, g_b, _ = make_family()
    book(offering, fam_b, g_b)
    fam_c, g_c, k_c = make_family(children=1)
    pair = book(offering, fam_c, g_c, k_c)
    fam_d, g_d, _ = make_family()
    single = book(offering, fam_d, g_d)

    # when one single cancels (1 free place)
    with django_capture_on_commit_callbacks(execute=True):
        services.booking_cancel(booking_id=a.pk, family=fam_a, cancelled_by=g_a[0].user)

    # then the pair cannot fit, the later single is promoted
    pair.refresh_from_db()
    single.refresh_from_db()
    assert pair.status == Booking.Status.WAITING
    assert single.status == Booking.Status.CONFIRMED


def test_promoted_family_gets_one_email_and_one_notification_after_commit(
    django_capture_on_commit_callbacks,
):
    # given a full offering with a waiting family
    offering = OfferingFactory(capacity=1, title="亲子沟通工作坊")
    fam_a, g_a, _ = make_family()
    a = book(offering, fam_a, g_a)
    fam_b, g_b, _ = make_family()
    waiting = book(offering, fam_b, g_b)

    # when A cancels (the outbox rows are written with the cancel; the kick after
    # the commit sends them, eagerly in unit tests)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.booking_cancel(booking_id=a.pk, family=fam_a, cancelled_by=g_a[0].user)

    # then B is told once, by email and in the inbox
    assert callbacks
    promotions = [m for m in mail.outbox if m.subject.startswith("候补转正")]
    assert len(promotions) == 1
    assert promotions[0].to == [g_b[0].user.email]
    assert "亲子沟通工作坊" in promotions[0].subject
    assert Notification.objects.filter(user=g_b[0].user, kind="events.promoted").count() == 1
    from events.models import Delivery

    assert set(
        Delivery.objects.filter(purpose="promoted").values_list("booking_id", "channel", "status")
    ) == {(waiting.pk, "email", "sent"), (waiting.pk, "inbox", "sent")}
    # and A, who withdrew, gets a receipt, and nobody else hears of the promotion
    assert {tuple(m.to) for m in promotions} == {(g_b[0].user.email,)}
    assert [m.to for m in mail.outbox if m.subject.startswith("已取消报名")] == [
        [g_a[0].user.email]
    ]

    # and sending again (a second pass, a redelivered task) tells nobody twice
    from events.reminders import reminder_pass_run

    with django_capture_on_commit_callbacks(execute=True):
        assert reminder_pass_run().claimed == 0
    assert len([m for m in mail.outbox if m.subject.startswith("候补转正")]) == 1


def test_nothing_is_announced_when_the_transaction_rolls_back(django_capture_on_commit_callbacks):
    from django.db import transaction

    # given a full offering with a waiting family
    offering = OfferingFactory(capacity=1)
    fam_a, g_a, _ = make_family()
    a = book(offering, fam_a, g_a)
    fam_b, g_b, _ = make_family()
    book(offering, fam_b, g_b)

    # when the cancel happens inside a transaction that then fails
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            services.booking_cancel(booking_id=a.pk, family=fam_a, cancelled_by=None)
            raise RuntimeError

    # then no notice was queued, nor written
    from events.models import Delivery

    assert callbacks == []
    assert mail.outbox == []
    assert not Delivery.objects.filter(purpose__in=["promoted", "withdrawn"]).exists()


def test_a_family_cannot_book_twice_or_book_strangers():
    offering = OfferingFactory()
    family, guardians, _ = make_family()
    book(offering, family, guardians)
    with pytest.raises(BookingError) as error:
        book(offering, family, guardians)
    assert error.value.code == "already_booked"

    _, stranger_guardians, _ = make_family()
    with pytest.raises(BookingError) as error:
        services.booking_create(
            offering_id=offering.pk,
            family=family,
            booked_by=guardians[0].user,
            guardian_ids=[stranger_guardians[0].pk],
        )
    assert error.value.code == "not_family_member"

    with pytest.raises(BookingError) as error:
        services.booking_create(offering_id=offering.pk, family=family, booked_by=None)
    assert error.value.code == "empty_party"


def test_rebooking_after_cancel_is_allowed():
    offering = OfferingFactory()
    family, guardians, _ = make_family()
    first = book(offering, family, guardians)
    services.booking_cancel(booking_id=first.pk, family=family, cancelled_by=None)
    second = book(offering, family, guardians)
    assert second.status == Booking.Status.CONFIRMED


def test_cancelling_closes_before_the_start_but_a_coordinator_may_force():
    # given a session starting in one hour (default: cancel closes 2 hours before)
    offering = OfferingFactory(starts_at=timezone.now() + timedelta(hours=1))
    family, guardians, _ = make_family()
    booking = book(offering, family, guardians)

    with pytest.raises(BookingError) as error:
        services.booking_cancel(booking_id=booking.pk, family=family, cancelled_by=None)
    assert error.value.code == "cancel_closed"

    # a per-offering setting overrides the default
    Offering.objects.filter(pk=offering.pk).update(cancel_closes_hours=0)
    services.booking_cancel(booking_id=booking.pk, family=family, cancelled_by=None)
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED


def test_the_cancel_deadline_setting_is_configurable(settings):
    # given two offerings starting in 30 minutes, each booked by a family
    early = OfferingFactory(starts_at=timezone.now() + timedelta(minutes=30))
    late = OfferingFactory(starts_at=timezone.now() + timedelta(minutes=30))
    family, guardians, _ = make_family()
    refused = book(early, family, guardians)
    allowed = book(late, family, guardians)

    # when the deadline is one hour before the start, cancelling 30 minutes before is refused
    settings.BOOKING_CANCEL_CLOSES_HOURS = 1
    assert services.cancel_deadline(early) == early.starts_at - timedelta(hours=1)
    with pytest.raises(BookingError) as error:
        services.booking_cancel(booking_id=refused.pk, family=family, cancelled_by=None)
    assert error.value.code == "cancel_closed"
    refused.refresh_from_db()
    assert refused.status == Booking.Status.CONFIRMED

    # and with the setting at 0 the same cancellation goes through and frees the place
    settings.BOOKING_CANCEL_CLOSES_HOURS = 0
    assert services.cancel_deadline(late) == late.starts_at
    cancelled = services.booking_cancel(booking_id=allowed.pk, family=family, cancelled_by=None)
    assert cancelled.status == Booking.Status.CANCELLED
    late.refresh_from_db()
    assert late.places_taken == 0


def test_another_family_cannot_cancel_my_booking():
    offering = OfferingFactory()
    family, guardians, _ = make_family()
    booking = book(offering, family, guardians)
    other, _, _ = make_family()
    with pytest.raises(BookingError) as error:
        services.booking_cancel(booking_id=booking.pk, family=other, cancelled_by=None)
    assert error.value.code == "booking_missing"


def test_no_booking_on_started_or_cancelled_offerings_and_no_promotion_onto_them():
    started = OfferingFactory(starts_at=timezone.now() - timedelta(minutes=5))
    family, guardians, _ = make_family()
    with pytest.raises(BookingError) as error:
        book(started, family, guardians)
    assert error.value.code == "offering_started"

    # a cancelled offering does not promote anyone when a booking is cancelled
    offering = OfferingFactory(capacity=1)
    a = book(offering, family, guardians)
    fam_b, g_b, _ = make_family()
    waiting = book(offering, fam_b, g_b)
    Offering.objects.filter(pk=offering.pk).update(status=Offering.Status.CANCELLED)
    services.booking_cancel(booking_id=a.pk, family=None, cancelled_by=None, force=True)
    waiting.refresh_from_db()
    assert waiting.status == Booking.Status.WAITING


def test_more_capacity_promotes_and_less_than_taken_is_refused():
    offering = OfferingFactory(capacity=1)
    fam_a, g_a, _ = make_family()
    book(offering, fam_a, g_a)
    fam_b, g_b, _ = make_family()
    waiting = book(offering, fam_b, g_b)

    services.offering_change_capacity(offering_id=offering.pk, capacity=2, changed_by=None)
    waiting.refresh_from_db()
    offering.refresh_from_db()
    assert waiting.status == Booking.Status.CONFIRMED
    assert offering.places_taken == 2 and offering.waiting_families == 0

    with pytest.raises(BookingError) as error:
        services.offering_change_capacity(offering_id=offering.pk, capacity=1, changed_by=None)
    assert error.value.code == "capacity_below_taken"


def test_attendance_reports_newly_present_once_and_only_for_confirmed():
    # starting in ten minutes: attendance marking is open (check-in opens 30 before)
    offering = OfferingFactory(capacity=1, starts_at=timezone.now() + timedelta(minutes=10))
    fam_a, g_a, _ = make_family()
    a = book(offering, fam_a, g_a)
    fam_b, g_b, _ = make_family()
    waiting = book(offering, fam_b, g_b)

    _, newly = services.booking_mark_attendance(booking_id=a.pk, present=True, marked_by=None)
    _, again = services.booking_mark_attendance(booking_id=a.pk, present=True, marked_by=None)
    assert (newly, again) == (True, False)
    assert AuditLog.objects.filter(action="bookings.booking.attendance").count() == 1

    with pytest.raises(BookingError) as error:
        services.booking_mark_attendance(booking_id=waiting.pk, present=True, marked_by=None)
    assert error.value.code == "not_confirmed"


def test_a_promotion_whose_kick_was_lost_is_sent_by_the_beat_pass(
    django_capture_on_commit_callbacks,
):
    from events.models import Delivery
    from events.reminders import reminder_pass_run

    offering = OfferingFactory(capacity=1)
    fam_a, g_a, _ = make_family()
    a = book(offering, fam_a, g_a)
    fam_b, g_b, _ = make_family()
    waiting = book(offering, fam_b, g_b)
    # promoted without running on-commit callbacks: as if the broker had been down
    services.booking_cancel(booking_id=a.pk, family=None, cancelled_by=None)
    notices = Delivery.objects.filter(booking=waiting, purpose="promoted")
    assert set(notices.values_list("user_id", "channel", "status")) == {
        (g_b[0].user_id, "email", "pending"),
        (g_b[0].user_id, "inbox", "pending"),
    }
    assert mail.outbox == []

    # when the beat pass runs (twice)
    with django_capture_on_commit_callbacks(execute=True):
        reminder_pass_run()
        reminder_pass_run()

    # then the notice went out once
    assert [m.to for m in mail.outbox if m.subject.startswith("候补转正")] == [[g_b[0].user.email]]
    assert not notices.exclude(status="sent").exists()


def test_the_notice_links_to_my_learning_for_course_sessions(django_capture_on_commit_callbacks):
    offering = OfferingFactory(capacity=1)
    fam_a, g_a, _ = make_family()
    a = book(offering, fam_a, g_a)
    fam_b, g_b, _ = make_family()
    book(offering, fam_b, g_b)
    with django_capture_on_commit_callbacks(execute=True):
        services.booking_cancel(booking_id=a.pk, family=fam_a, cancelled_by=None)
    assert Notification.objects.get(user=g_b[0].user, kind="events.promoted").url == "/me/"
