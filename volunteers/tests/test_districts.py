"""The volunteer corps across two districts (issue 19): a district administrator
decides the applications and verifies the service hours of their district's
centres (the coordinator's queues, admin lists, services) and reaches nothing of
another district's; the city administrator reaches both."""

from __future__ import annotations

import pytest
from django.urls import reverse

from handbook.tests.conftest import current_term
from members.models import RoleAssignment
from members.tests.districts import two_districts
from members.tests.factories import MemberUnitFactory, UserFactory
from parent_school.tests.factories import InstructorFactory
from volunteers import services
from volunteers.errors import VolunteerError
from volunteers.models import ServiceHour, VolunteerApplication
from volunteers.tests.factories import ServiceHourFactory, VolunteerApplicationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def districts():
    world = two_districts()
    world.term = current_term()
    for side, tag in ((world.a, "渝中"), (world.b, "乙方")):
        side.centre = MemberUnitFactory(
            name=f"{tag}家长成长指导中心", kind="guidance_centre", region=side.street
        )
        side.application = VolunteerApplicationFactory(centre=side.centre, name=f"{tag}申请人")
        volunteer = InstructorFactory(
            user=UserFactory(), unit=side.centre, is_volunteer=True, name=f"{tag}讲师"
        )
        side.hour = ServiceHourFactory(instructor=volunteer, term=world.term, unit=side.centre)
    return world


def _approve(client, application):
    return client.post(
        reverse("volunteers:decide", args=[application.pk]),
        {"decision": "approve", "tier": "lecturer", "serves_as": "instructor"},
    )


def test_a_district_admin_decides_their_districts_applications_only(client, districts):
    w = districts
    client.force_login(w.a.admin)

    queue = client.get(reverse("volunteers:queue"))
    assert queue.status_code == 200
    assert [a.pk for a in queue.context["page_obj"]] == [w.a.application.pk]
    assert "乙方" not in queue.content.decode()

    # approving hers makes the applicant an instructor of the centre
    assert _approve(client, w.a.application).status_code == 302
    w.a.application.refresh_from_db()
    assert w.a.application.status == VolunteerApplication.Status.APPROVED
    assert RoleAssignment.objects.filter(
        user=w.a.application.user, role=RoleAssignment.Role.INSTRUCTOR, unit=w.a.centre
    ).exists()

    # the other district's application answers 404 and stays submitted
    url = reverse("volunteers:decide", args=[w.b.application.pk])
    assert client.get(url).status_code == 404
    assert _approve(client, w.b.application).status_code == 404
    with pytest.raises(VolunteerError):
        services.application_decide(
            user=w.a.admin,
            application_id=w.b.application.pk,
            approve=True,
            tier="lecturer",
            serves_as="instructor",
            station_id=None,
            note="",
        )
    w.b.application.refresh_from_db()
    assert w.b.application.status == VolunteerApplication.Status.SUBMITTED


def test_a_district_admin_verifies_their_districts_hours_only(client, districts):
    w = districts
    client.force_login(w.a.admin)

    queue = client.get(reverse("volunteers:hours_queue"))
    assert [h.pk for h in queue.context["page_obj"]] == [w.a.hour.pk]
    done = client.post(reverse("volunteers:hours_decide", args=[w.a.hour.pk]), {"verify": "yes"})
    assert done.status_code == 302
    theirs = reverse("volunteers:hours_decide", args=[w.b.hour.pk])
    assert client.post(theirs, {"verify": "yes"}).status_code == 404
    w.a.hour.refresh_from_db()
    w.b.hour.refresh_from_db()
    assert w.a.hour.status != ServiceHour.Status.PENDING
    assert w.b.hour.status == ServiceHour.Status.PENDING


def test_the_admin_lists_of_a_district_admin_hold_their_districts_rows(client, districts):
    w = districts
    client.force_login(w.a.admin)
    for name, mine, theirs in (
        ("volunteerapplication", w.a.application, w.b.application),
        ("servicehour", w.a.hour, w.b.hour),
    ):
        listed = client.get(reverse(f"admin:volunteers_{name}_changelist"))
        assert listed.status_code == 200, name
        assert list(listed.context["cl"].result_list) == [mine], name
        url = reverse(f"admin:volunteers_{name}_change", args=[theirs.pk])
        assert client.get(url).status_code == 404, name

    client.force_login(w.city_admin)
    listed = client.get(reverse("admin:volunteers_volunteerapplication_changelist"))
    assert set(listed.context["cl"].result_list) == {w.a.application, w.b.application}


def test_the_city_admin_decides_in_both_districts(client, districts):
    w = districts
    client.force_login(w.city_admin)
    queue = client.get(reverse("volunteers:queue"))
    assert {a.pk for a in queue.context["page_obj"]} == {w.a.application.pk, w.b.application.pk}
    assert _approve(client, w.b.application).status_code == 302
    w.b.application.refresh_from_db()
    assert w.b.application.status == VolunteerApplication.Status.APPROVED
