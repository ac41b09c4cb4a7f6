"""The group pages read the same number of queries whatever the number of groups,
sessions or members."""

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from groups import services
from groups.models import Group

from .helpers import family_at


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def _more_groups(world, n):
    for i in range(n):
        Group.objects.create(
            kind=Group.Kind.FAMILY,
            name=f"加开小组{i}",
            parent_school=world.parent_school,
            facilitator=world.instructor,
            facilitator_role=Group.FacilitatorRole.INSTRUCTOR,
            max_size=6,
        )


def _more_sessions(world, n):
    for i in range(n):
        starts = timezone.now() + dt.timedelta(days=2 + i)
        services.group_session_create(
            user=world.instructor,
            group_id=world.group.pk,
            title=f"活动{i}",
            starts_at=starts,
            ends_at=starts + dt.timedelta(hours=1),
            capacity=5,
        )


def test_mine_is_constant(client, world, django_assert_max_num_queries):
    client.force_login(world.mum.user)
    _more_groups(world, 1)
    small = _count(client, reverse("groups:mine"))
    _more_groups(world, 10)
    with django_assert_max_num_queries(small):
        client.get(reverse("groups:mine"))


def test_group_page_is_constant(client, world, django_assert_max_num_queries):
    client.force_login(world.mum.user)
    url = reverse("groups:detail", args=[world.group.pk])
    _more_sessions(world, 1)
    small = _count(client, url)
    _more_sessions(world, 8)
    with django_assert_max_num_queries(small):
        client.get(url)


def test_manage_page_is_constant(client, world, django_assert_max_num_queries):
    client.force_login(world.instructor)
    url = reverse("groups:manage", args=[world.group.pk])
    services.group_join(user=world.dad.user, group_id=world.group.pk)
    _more_sessions(world, 1)
    small = _count(client, url)
    for _ in range(4):
        guardian = family_at(world.school)
        services.group_join(user=guardian.user, group_id=world.group.pk)
    _more_sessions(world, 5)
    with django_assert_max_num_queries(small):
        client.get(url)
