"""Multi-district scoping of offerings and bookings in the admin (issue 19): a
district administrator sees and cancels their district's bookings only; the
city administrator sees both districts'."""

import pytest
from django.urls import reverse

from api.tests.test_staff_api import book, family, session_at
from bookings.models import Booking
from members.tests.districts import two_districts

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    w = two_districts()
    w.session_a = session_at(w.a.unit, title="渝中的课")
    w.session_b = session_at(w.b.unit, title="乙方的课")
    w.booking_a = book(w.session_a.offering_id, family("王妈妈")[0])
    w.booking_b = book(w.session_b.offering_id, family("李爸爸")[0])
    return w


def test_a_district_admin_sees_their_districts_offerings_and_bookings(client, world):
    client.force_login(world.a.admin)
    offerings = client.get(reverse("admin:bookings_offering_changelist"))
    assert {o.pk for o in offerings.context["cl"].result_list} == {world.session_a.offering_id}
    bookings = client.get(reverse("admin:bookings_booking_changelist"))
    assert {b.pk for b in bookings.context["cl"].result_list} == {world.booking_a.pk}
    other = client.get(reverse("admin:bookings_booking_change", args=[world.booking_b.pk]))
    assert other.status_code == 302  # "does not exist", like a wrong id

    client.force_login(world.city_admin)
    bookings = client.get(reverse("admin:bookings_booking_changelist"))
    assert {b.pk for b in bookings.context["cl"].result_list} == {
        world.booking_a.pk,
        world.booking_b.pk,
    }


def test_a_district_admin_cancels_their_districts_bookings_only(client, world):
    client.force_login(world.a.admin)
    client.post(
        reverse("admin:bookings_booking_changelist"),
        {"action": "cancel_bookings", "_selected_action": [world.booking_a.pk, world.booking_b.pk]},
    )
    statuses = dict(Booking.objects.values_list("pk", "status"))
    assert statuses[world.booking_a.pk] == Booking.Status.CANCELLED
    assert statuses[world.booking_b.pk] == Booking.Status.CONFIRMED
