"""The groups' admin: scoped lists, no adding or deleting, a manager's changes
through group_update, and memberships named by family number only. Every picker
is walked by tests/security/test_admin_pickers.py."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from community.tests.world import build_world
from groups.models import Group, GroupMembership
from groups.tests.factories import GroupFactory, GroupSessionFactory
from members.models import AuditLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def w(db):
    return build_world()


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


def _change(group) -> str:
    return reverse("admin:groups_group_change", args=[group.pk])


def test_the_schools_coordinator_changes_a_group_through_group_update(client, w):
    client.force_login(w.coordinator)

    response = client.post(_change(w.group), _form(w.group, name="周末共读家伴组", max_size=5))

    assert response.status_code == 302, response.content.decode()[:3000]
    w.group.refresh_from_db()
    assert (w.group.name, w.group.max_size) == ("周末共读家伴组", 5)
    assert AuditLog.objects.filter(action="groups.group.update").count() == 1


def test_a_maximum_below_the_members_is_refused_on_the_field_nothing_written(client, w):
    GroupMembership.objects.create(
        group=w.group, family=w.dad.family, status="active", joined_at=timezone.now()
    )
    Group.objects.filter(pk=w.group.pk).update(member_count=2)
    client.force_login(w.coordinator)

    response = client.post(_change(w.group), _form(w.group, name="新名字", min_size=1, max_size=1))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["max_size"]
    w.group.refresh_from_db()
    assert (w.group.name, w.group.max_size) == ("周末亲子阅读家伴组", 6)
    assert not AuditLog.objects.filter(action="groups.group.update").exists()


def test_service_owned_fields_cannot_be_changed_and_groups_are_neither_added_nor_deleted(client, w):
    client.force_login(w.coordinator)
    response = client.post(
        _change(w.group), _form(w.group, member_count=0, status="dissolved", kind="study")
    )
    assert response.status_code == 302
    w.group.refresh_from_db()
    assert (w.group.member_count, w.group.status, w.group.kind) == (1, "active", "family")
    assert client.get(reverse("admin:groups_group_add")).status_code == 403
    delete = reverse("admin:groups_group_delete", args=[w.group.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert Group.objects.filter(pk=w.group.pk).exists()


def test_another_schools_coordinator_neither_lists_nor_opens_the_group(client, w):
    theirs = GroupFactory(parent_school=w.other_parent_school, name="渝中家伴组")
    client.force_login(w.coordinator)
    listed = client.get(reverse("admin:groups_group_changelist"))
    assert list(listed.context["cl"].result_list) == [w.group]
    assert client.get(_change(theirs)).status_code == 404

    client.force_login(w.other_coordinator)
    listed = client.get(reverse("admin:groups_group_changelist"))
    assert list(listed.context["cl"].result_list) == [theirs]
    assert client.get(_change(w.group)).status_code == 404
    memberships = client.get(reverse("admin:groups_groupmembership_changelist"))
    assert list(memberships.context["cl"].result_list) == []


def test_the_facilitator_manages_their_group_a_dissolved_one_is_read_only(client, w):
    client.force_login(w.instructor)
    assert (
        client.post(_change(w.group), _form(w.group, description="每周六上午")).status_code == 302
    )
    w.group.refresh_from_db()
    assert w.group.description == "每周六上午"

    Group.objects.filter(pk=w.group.pk).update(status="dissolved", dissolved_at=timezone.now())
    page = client.get(_change(w.group))
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    client.post(_change(w.group), _form(w.group, description="改不了"))
    w.group.refresh_from_db()
    assert w.group.description == "每周六上午"


def test_members_are_named_by_family_number_never_by_child_or_phone(client, w):
    GroupMembership.objects.create(
        group=w.group,
        family=w.dad.family,
        child=w.dad_child,
        status="active",
        joined_at=timezone.now(),
    )
    client.force_login(w.coordinator)

    for url in (_change(w.group), reverse("admin:groups_groupmembership_changelist")):
        body = client.get(url).content.decode()
        assert f"家庭 #{w.mum.family.pk}" in body and f"家庭 #{w.dad.family.pk}" in body
        for secret in w.secrets():
            assert secret not in body, (url, secret)


def test_group_sessions_are_listed_for_the_groups_staff_only(client, w):
    session = GroupSessionFactory(group=w.group, offering__title="亲子共读会", venue="社区书房")
    other = GroupSessionFactory(
        group=GroupFactory(parent_school=w.other_parent_school), offering__title="渝中小组活动"
    )
    client.force_login(w.coordinator)
    listed = client.get(reverse("admin:groups_groupsession_changelist"))
    assert list(listed.context["cl"].result_list) == [session]
    page = client.get(reverse("admin:groups_groupsession_change", args=[session.pk]))
    assert page.status_code == 200 and "社区书房" in page.content.decode()
    url = reverse("admin:groups_groupsession_change", args=[other.pk])
    assert client.get(url).status_code == 404
    assert client.get(reverse("admin:groups_groupsession_add")).status_code == 403


def test_a_parent_does_not_reach_the_groups_admin(client, w):
    client.force_login(w.mum.user)
    assert client.get(reverse("admin:groups_group_changelist")).status_code == 302
