import pytest

from events import demo
from events.models import Event

pytestmark = pytest.mark.django_db


def test_demo_events_load_twice_without_changes():
    # given the demo alliances and units
    from members import demo as members_demo

    members_demo.load()

    # when the events demo runs twice
    first = demo.load()
    second = demo.load()

    # then six published events exist, once each
    assert first == second
    assert Event.objects.filter(status="published").count() == 6
    # and the demo parent's family is registered once for the Xikou lecture
    from bookings.models import Booking

    assert Booking.objects.filter(booked_by__username="demo_parent").count() == 1
