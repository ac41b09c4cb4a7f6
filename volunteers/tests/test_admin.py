"""The volunteers admin: applications and service hours are read-only lists of
the centres the user may change, each linking to the page where decisions are
made; another centre's rows are not listed and 404 by id."""

from __future__ import annotations

import pytest
from django.urls import reverse

from parent_school.tests.factories import InstructorFactory
from volunteers.models import ServiceHour, VolunteerApplication

from .factories import ServiceHourFactory, VolunteerApplicationFactory

pytestmark = pytest.mark.django_db


def _url(model, name, *args):
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{name}", args=args)


@pytest.fixture
def rows(station_world):
    w = station_world
    ours = VolunteerApplicationFactory(centre=w.unit, name="海天舒申请人")
    theirs = VolunteerApplicationFactory(centre=w.other_unit, name="渝中申请人")
    volunteer = InstructorFactory(unit=w.unit, name="海天舒志愿者", is_volunteer=True)
    other = InstructorFactory(unit=w.other_unit, name="渝中志愿者", is_volunteer=True)
    our_hour = ServiceHourFactory(instructor=volunteer, term=w.term, unit=w.unit, hours=2)
    their_hour = ServiceHourFactory(instructor=other, term=w.term, unit=w.other_unit, hours=3)
    return ours, theirs, our_hour, their_hour


def test_the_coordinator_sees_her_centres_rows_read_only_with_links(client, station_world, rows):
    w = station_world
    ours, theirs, our_hour, their_hour = rows
    client.force_login(w.coordinator)

    applications = client.get(_url(VolunteerApplication, "changelist"))
    listed = [row.pk for row in applications.context["cl"].result_list]
    assert listed == [ours.pk]
    hours = client.get(_url(ServiceHour, "changelist"))
    assert [row.pk for row in hours.context["cl"].result_list] == [our_hour.pk]

    page = client.get(_url(VolunteerApplication, "change", ours.pk)).content.decode()
    assert reverse("volunteers:queue") in page and "海天舒申请人" in page
    page = client.get(_url(ServiceHour, "change", our_hour.pk)).content.decode()
    assert reverse("volunteers:hours_queue") in page

    # another centre's rows are not reachable by their ids
    assert client.get(_url(VolunteerApplication, "change", theirs.pk)).status_code == 404
    assert client.get(_url(ServiceHour, "change", their_hour.pk)).status_code == 404


def test_nothing_is_added_changed_or_deleted_in_admin(client, station_world, rows):
    w = station_world
    ours, _theirs, our_hour, _their_hour = rows
    client.force_login(w.district_admin)
    for model, row in ((VolunteerApplication, ours), (ServiceHour, our_hour)):
        before = model.objects.filter(pk=row.pk).values().first()
        assert client.get(_url(model, "add")).status_code == 403
        assert client.post(_url(model, "change", row.pk), {"status": "approved"}).status_code == 403
        assert client.post(_url(model, "delete", row.pk), {"post": "yes"}).status_code == 403
        assert model.objects.filter(pk=row.pk).values().first() == before
    # the district administrator lists every centre's rows
    listed = client.get(_url(VolunteerApplication, "changelist")).context["cl"].result_list
    assert len(list(listed)) == 2


def test_a_mentor_or_family_without_a_coordinator_role_does_not_reach_it(
    client, station_world, rows
):
    w = station_world
    w.psych.user.is_staff = True
    w.psych.user.save(update_fields=["is_staff"])
    client.force_login(w.psych.user)
    assert client.get(_url(VolunteerApplication, "changelist")).status_code == 403
    assert client.get(_url(ServiceHour, "changelist")).status_code == 403
