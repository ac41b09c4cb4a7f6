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

    # then six events to come are published and three held this term are
    # finished, once each
    assert first == second
    assert Event.objects.filter(status="published").count() == 6
    assert Event.objects.filter(status="finished").count() == 3
    # and the demo parent's family is registered once for the Xikou lecture
    # (coming up) and the two Xikou events it went to
    from bookings.models import Booking

    parent = Booking.objects.filter(booked_by__username="demo_parent")
    assert parent.count() == 3
    lecture = parent.get(offering__event__title="家庭教育讲座：青春期亲子沟通")
    assert lecture.status == "confirmed" and lecture.attendance == "unknown"
    assert parent.filter(attendance="present").count() == 2
