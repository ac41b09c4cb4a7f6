"""The offering admin changes only what bookings.services lets it: places (which
promote the waiting list) and the cancel deadline. Time, status, title and
booking window are read-only here: a move or cancel is made on the course
session or the event, which tell families."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from bookings import services
from bookings.models import Booking, Offering
from bookings.tests.conftest import make_family
from courses.tests.factories import CourseFactory, make_session
from events.tests.factories import make_event
from members import registry
from members.models import AuditLog, RoleAssignment
from members.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def coordinator_of():
    root = UserFactory(username="root", is_superuser=True, is_staff=True)

    def make(unit):
        user = UserFactory()
        registry.role_assign(
            actor=root, user=user, role=RoleAssignment.Role.UNIT_COORDINATOR, unit=unit
        )
        return user

    return make


def _booked(offering, families=2):
    for _ in range(families):
        family, guardians, _ = make_family()
        services.booking_create(
            offering_id=offering.pk,
            family=family,
            booked_by=guardians[0].user,
            guardian_ids=[guardians[0].pk],
        )


def test_time_status_and_booking_window_cannot_be_changed_here(client, coordinator_of):
    # given a course session's offering and its unit's coordinator
    session = make_session(CourseFactory(title="家庭教育课"))
    offering = session.offering
    before = Offering.objects.values().get(pk=offering.pk)
    client.force_login(coordinator_of(offering.unit))
    url = reverse("admin:bookings_offering_change", args=[offering.pk])

    # when the page is opened and a move, a cancellation and a new window are posted
    page = client.get(url)
    later = timezone.localtime(offering.starts_at + datetime.timedelta(days=7))
    response = client.post(
        url,
        {
            "title": "改过的标题",
            "starts_at_0": later.strftime("%Y-%m-%d"),
            "starts_at_1": "09:00:00",
            "ends_at_0": later.strftime("%Y-%m-%d"),
            "ends_at_1": "11:00:00",
            "status": Offering.Status.CANCELLED,
            "booking_opens_at_0": later.strftime("%Y-%m-%d"),
            "booking_opens_at_1": "08:00:00",
            "capacity": str(offering.capacity),
            "cancel_closes_hours": "",
            "bookings-TOTAL_FORMS": "0",
            "bookings-INITIAL_FORMS": "0",
        },
    )

    # then only places and the cancel deadline are form fields; nothing else moved
    form = page.context["adminform"].form
    assert set(form.fields) == {"capacity", "cancel_closes_hours"}
    assert response.status_code == 302
    assert Offering.objects.values().get(pk=offering.pk) == before
    # and the page says where to move or cancel, with a link to the course session
    html = page.content.decode()
    assert "改期或取消会通知已报名的家庭" in html
    assert reverse("admin:courses_coursesession_change", args=[session.pk]) in html


def test_an_events_offering_links_to_the_event(client, coordinator_of):
    event = make_event(title="家长开放日")
    client.force_login(coordinator_of(event.organiser_unit))
    page = client.get(reverse("admin:bookings_offering_change", args=[event.offering_id]))
    assert reverse("admin:events_event_change", args=[event.pk]) in page.content.decode()


def test_more_places_go_through_the_service_and_promote_the_waiting_list(client, coordinator_of):
    # given a full session with one family waiting
    session = make_session(CourseFactory(), capacity=1)
    _booked(session.offering)
    assert Booking.objects.filter(status=Booking.Status.WAITING).count() == 1
    coordinator = coordinator_of(session.offering.unit)
    client.force_login(coordinator)
    url = reverse("admin:bookings_offering_change", args=[session.offering_id])

    # when the places and the cancel deadline are changed
    response = client.post(
        url,
        {
            "capacity": "2",
            "cancel_closes_hours": "12",
            "bookings-TOTAL_FORMS": "0",
            "bookings-INITIAL_FORMS": "0",
        },
    )

    # then the waiting family is promoted, and both changes are the services' (audited)
    assert response.status_code == 302
    assert not Booking.objects.filter(status=Booking.Status.WAITING).exists()
    session.offering.refresh_from_db()
    assert (session.offering.capacity, session.offering.cancel_closes_hours) == (2, 12)
    assert AuditLog.objects.filter(action="bookings.offering.capacity", actor=coordinator).exists()
    assert AuditLog.objects.filter(action="bookings.offering.update", actor=coordinator).exists()


def test_fewer_places_than_confirmed_is_a_form_error(client, coordinator_of):
    session = make_session(CourseFactory(), capacity=5)
    _booked(session.offering, families=2)
    client.force_login(coordinator_of(session.offering.unit))
    response = client.post(
        reverse("admin:bookings_offering_change", args=[session.offering_id]),
        {
            "capacity": "1",
            "cancel_closes_hours": "",
            "bookings-TOTAL_FORMS": "0",
            "bookings-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["capacity"] == [
        "新名额少于已确认人数，请先与已报名家庭沟通。"
    ]
    session.offering.refresh_from_db()
    assert session.offering.capacity == 5
