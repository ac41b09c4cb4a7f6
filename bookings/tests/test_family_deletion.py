import pytest

from bookings import services
from bookings.models import Booking
from bookings.tests.conftest import make_family
from bookings.tests.factories import OfferingFactory
from members.services import account_delete

pytestmark = pytest.mark.django_db


def test_deleting_the_last_guardian_releases_future_places_to_the_waiting_list(
    django_capture_on_commit_callbacks,
):
    # given a full session: family A holds the only place, family B waits
    offering = OfferingFactory(capacity=1)
    family_a, guardians_a, _ = make_family()
    family_b, guardians_b, _ = make_family()
    booking_a = services.booking_create(
        offering_id=offering.pk,
        family=family_a,
        booked_by=guardians_a[0].user,
        guardian_ids=[guardians_a[0].pk],
    )
    booking_b = services.booking_create(
        offering_id=offering.pk,
        family=family_b,
        booked_by=guardians_b[0].user,
        guardian_ids=[guardians_b[0].pk],
    )
    assert booking_b.status == Booking.Status.WAITING

    # when A's only guardian deletes the account (and so the family)
    with django_capture_on_commit_callbacks(execute=True):
        account_delete(user=guardians_a[0].user)

    # then A's place went back and B was promoted; A's booking stays as an anonymous row
    booking_a.refresh_from_db()
    booking_b.refresh_from_db()
    offering.refresh_from_db()
    assert booking_a.family_id is None
    assert booking_a.status == Booking.Status.CANCELLED
    assert booking_b.status == Booking.Status.CONFIRMED
    assert (offering.places_taken, offering.waiting_families) == (1, 0)
