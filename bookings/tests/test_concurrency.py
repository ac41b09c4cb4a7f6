"""Real threads against PostgreSQL: the row lock on the offering keeps counts exact."""

import threading

import pytest
from django.db import connection, transaction

from bookings import services
from bookings.errors import BookingBusy
from bookings.models import Booking, Offering
from bookings.tests.conftest import make_family
from bookings.tests.factories import OfferingFactory

pytestmark = pytest.mark.django_db(transaction=True)


def run_in_threads(jobs):
    """Start every job at once (behind a barrier); each thread closes its connection."""
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def runner(job):
        try:
            barrier.wait()
            job()
        except BaseException as error:  # collected and re-raised in the test thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def assert_consistent(offering: Offering):
    offering.refresh_from_db()
    confirmed = Booking.objects.filter(offering=offering, status="confirmed")
    waiting = Booking.objects.filter(offering=offering, status="waiting")
    assert offering.places_taken == sum(b.party_size for b in confirmed)
    assert offering.waiting_families == waiting.count()
    assert offering.places_taken <= offering.capacity
    free = offering.capacity - offering.places_taken
    # never a free place while a family whose party fits is waiting
    assert not waiting.filter(party_size__lte=free).exists()


def test_fifty_families_compete_for_ten_seats(settings):
    # given one offering with 10 places and 50 families of one person each
    settings.BOOKING_LOCK_TIMEOUT = "60s"  # correctness here, not the busy path
    assert connection.vendor == "postgresql"
    offering = OfferingFactory(capacity=10)
    families = [make_family() for _ in range(50)]

    def job(family, guardians):
        return lambda: services.booking_create(
            offering_id=offering.pk,
            family=family,
            booked_by=guardians[0].user,
            guardian_ids=[guardians[0].pk],
        )

    # when all 50 book at the same moment, each in its own thread and connection
    errors = run_in_threads([job(f, g) for f, g, _ in families])

    # then exactly 10 are confirmed and 40 wait, and the counters agree
    assert errors == []
    assert Booking.objects.filter(offering=offering, status="confirmed").count() == 10
    assert Booking.objects.filter(offering=offering, status="waiting").count() == 40
    assert_consistent(offering)


def test_cancellations_racing_new_bookings_never_leave_a_free_seat_while_someone_waits(settings):
    # given 10 places taken by 10 families, 10 more waiting (parties of 1 and 2)
    settings.BOOKING_LOCK_TIMEOUT = "60s"
    offering = OfferingFactory(capacity=10)
    holders = []
    for _ in range(10):
        family, guardians, _ = make_family()
        booking = services.booking_create(
            offering_id=offering.pk,
            family=family,
            booked_by=None,
            guardian_ids=[guardians[0].pk],
        )
        holders.append((family, booking))
    for index in range(10):
        family, guardians, kids = make_family(children=index % 2)
        services.booking_create(
            offering_id=offering.pk,
            family=family,
            booked_by=None,
            guardian_ids=[guardians[0].pk],
            child_ids=[k.pk for k in kids],
        )
    newcomers = [make_family(children=i % 3) for i in range(15)]

    def cancel(family, booking):
        return lambda: services.booking_cancel(
            booking_id=booking.pk, family=family, cancelled_by=None
        )

    def book(family, guardians, kids):
        return lambda: services.booking_create(
            offering_id=offering.pk,
            family=family,
            booked_by=None,
            guardian_ids=[guardians[0].pk],
            child_ids=[k.pk for k in kids],
        )

    # when 7 holders cancel while 15 new families book, all at once
    jobs = [cancel(f, b) for f, b in holders[:7]] + [book(*n) for n in newcomers]
    errors = run_in_threads(jobs)

    # then nothing failed and the invariant holds
    assert errors == []
    assert_consistent(offering)
    assert Booking.objects.filter(offering=offering, status="cancelled").count() == 7


def test_a_held_lock_gives_a_friendly_busy_error(settings):
    # given another transaction holding the offering's row lock
    settings.BOOKING_LOCK_TIMEOUT = "200ms"
    offering = OfferingFactory(capacity=10)
    family, guardians, _ = make_family()
    locked = threading.Event()
    release = threading.Event()

    def hold_lock():
        try:
            with transaction.atomic():
                Offering.objects.select_for_update().get(pk=offering.pk)
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert locked.wait(timeout=30)

        # when a family books while the lock is held
        with pytest.raises(BookingBusy) as error:
            services.booking_create(
                offering_id=offering.pk,
                family=family,
                booked_by=None,
                guardian_ids=[guardians[0].pk],
            )
    finally:
        release.set()
        holder.join()

    # then it is told to try again, and nothing was written
    assert error.value.code == "busy"
    assert "繁忙" in str(error.value.message)
    assert not Booking.objects.filter(offering=offering).exists()

    # and once the lock is gone the same booking succeeds
    booking = services.booking_create(
        offering_id=offering.pk, family=family, booked_by=None, guardian_ids=[guardians[0].pk]
    )
    assert booking.status == Booking.Status.CONFIRMED
