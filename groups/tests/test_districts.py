"""Buddy groups across two districts (issue 19): a district administrator manages
the groups of their district's parent schools (the manage pages, admin, services)
and reaches nothing of another district's; the city administrator reaches both."""

from __future__ import annotations

import pytest
from django.urls import reverse

from groups import services
from groups.errors import GroupError
from groups.models import Group
from groups.tests.factories import GroupFactory
from members.models import AuditLog
from members.tests.districts import two_districts
from parent_school.models import ParentSchool
from parent_school.tests.factories import ParentSchoolFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def districts():
    world = two_districts()
    for side, tag in ((world.a, "渝中"), (world.b, "乙方")):
        side.school = ParentSchoolFactory(
            name=f"{tag}家长学校", kind=ParentSchool.Kind.SCHOOL, host_unit=side.unit
        )
        side.group = GroupFactory(parent_school=side.school, name=f"{tag}亲子阅读组")
    return world


def _form(group, **overrides):
    data = {
        "name": group.name,
        "description": group.description,
        "joining": group.joining,
        "min_size": group.min_size,
        "max_size": group.max_size,
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


def test_a_district_admin_manages_their_districts_groups_on_the_pages(client, districts):
    w = districts
    client.force_login(w.a.admin)

    listed = client.get(reverse("groups:manage_list"))
    assert listed.status_code == 200
    assert [g.pk for g in listed.context["groups"]] == [w.a.group.pk]
    assert "乙方" not in listed.content.decode()
    assert client.get(reverse("groups:manage", args=[w.a.group.pk])).status_code == 200
    assert client.get(reverse("groups:manage", args=[w.b.group.pk])).status_code == 404

    # a new group: her district's parent schools only
    new = client.get(reverse("groups:manage_new"))
    assert new.status_code == 200
    choices = dict(new.context["form"].fields["parent_school_id"].choices)
    assert w.a.school.pk in choices and w.b.school.pk not in choices
    group = services.group_create(
        user=w.a.admin,
        parent_school_id=w.a.school.pk,
        kind=Group.Kind.FAMILY,
        name="渝中周末共读组",
        description="",
        facilitator_id=w.a.admin.pk,
        facilitator_role=Group.FacilitatorRole.INSTRUCTOR,
        min_size=2,
        max_size=6,
        joining=Group.Joining.OPEN,
    )
    assert group.parent_school == w.a.school
    with pytest.raises(GroupError) as refused:
        services.group_create(
            user=w.a.admin,
            parent_school_id=w.b.school.pk,
            kind=Group.Kind.FAMILY,
            name="越权小组",
            description="",
            facilitator_id=w.a.admin.pk,
            facilitator_role=Group.FacilitatorRole.INSTRUCTOR,
            min_size=2,
            max_size=6,
            joining=Group.Joining.OPEN,
        )
    assert refused.value.code == "school_missing"
    assert not Group.objects.filter(parent_school=w.b.school).exclude(pk=w.b.group.pk).exists()


def test_a_district_admin_changes_their_districts_group_in_admin_only(client, districts):
    w = districts
    client.force_login(w.a.admin)

    listed = client.get(reverse("admin:groups_group_changelist"))
    assert listed.status_code == 200
    assert list(listed.context["cl"].result_list) == [w.a.group]
    mine = reverse("admin:groups_group_change", args=[w.a.group.pk])
    response = client.post(mine, _form(w.a.group, name="渝中共读组", max_size=5))
    assert response.status_code == 302, response.content.decode()[:3000]
    w.a.group.refresh_from_db()
    assert (w.a.group.name, w.a.group.max_size) == ("渝中共读组", 5)
    assert AuditLog.objects.filter(action="groups.group.update", actor=w.a.admin).exists()

    theirs = reverse("admin:groups_group_change", args=[w.b.group.pk])
    assert client.get(theirs).status_code == 404
    assert client.post(theirs, _form(w.b.group, name="越权")).status_code == 404
    with pytest.raises(GroupError):
        services.group_update(user=w.a.admin, group_id=w.b.group.pk, name="越权")
    w.b.group.refresh_from_db()
    assert w.b.group.name == "乙方亲子阅读组"


def test_the_city_admin_manages_both_districts_groups(client, districts):
    w = districts
    client.force_login(w.city_admin)
    listed = client.get(reverse("groups:manage_list"))
    assert {g.pk for g in listed.context["groups"]} == {w.a.group.pk, w.b.group.pk}
    admin_list = client.get(reverse("admin:groups_group_changelist"))
    assert set(admin_list.context["cl"].result_list) == {w.a.group, w.b.group}
    services.group_update(user=w.city_admin, group_id=w.b.group.pk, name="乙方共读组")
    w.b.group.refresh_from_db()
    assert w.b.group.name == "乙方共读组"
