"""Buddy groups through the API: a family lists its groups and the ones it may join
at its school, joins an open group (and then reads its board), leaves it (and
reads the board no more), books the group's own session; a family of another
school, a non-member and another family's child are refused as missing ones;
other families are never named; joining replays under one ``Idempotency-Key``."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from django.test import Client
from django.utils import timezone

from bookings.models import Booking
from community.tests.world import build_world
from groups import services
from groups.models import Group, GroupMembership
from members.tests.factories import ApiTokenFactory

pytestmark = pytest.mark.django_db

API = "/api/v1/groups"
MISSING_ID = 2**31 - 2
# Measured (docs/API.md): the token's lookup, the family, the groups, the family's
# memberships in them, whatever the number of groups.
GROUP_LIST_MAX_QUERIES = 5


def _client(user, scopes=("read", "write")):
    _, raw = ApiTokenFactory.create(user=user, scopes=scopes)
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def _post(client, url, body=None, **headers):
    return client.post(url, json.dumps(body or {}), content_type="application/json", **headers)


def _text(response) -> str:
    return json.dumps(response.json(), ensure_ascii=False)


@pytest.fixture(autouse=True)
def _no_rate_limits(settings):
    settings.API_RATE_PER_TOKEN = 1_000_000
    settings.API_RATE_PER_IP = 1_000_000


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def session(world):
    starts_at = timezone.now() + dt.timedelta(days=3)
    return services.group_session_create(
        user=world.instructor,
        group_id=world.group.pk,
        title="周六上午共读《小王子》",
        starts_at=starts_at,
        ends_at=starts_at + dt.timedelta(hours=2),
        capacity=12,
        venue="溪口社区图书室",
    )


def test_a_family_sees_its_groups_and_the_ones_it_may_join(world):
    # when the member mother, another family of the school and one of another school list
    mine = _client(world.mum.user).get(API)
    joinable = _client(world.dad.user).get(API)
    other = _client(world.outsider.user).get(API)

    # then the mother's group is hers, the other family may join it, the outsider sees none
    assert mine.status_code == joinable.status_code == other.status_code == 200
    (card,) = mine.json()["items"]
    assert card["id"] == world.group.pk and card["relation"] == "member"
    assert card["facilitator"] == world.instructor.display_name
    assert card["member_count"] == 1 and card["can_leave"] and not card["can_join"]
    (offered,) = joinable.json()["items"]
    assert offered["relation"] == "joinable" and offered["can_join"]
    assert offered["memberships"] == []
    assert other.json()["items"] == []
    # and filters by which list
    assert _client(world.dad.user).get(f"{API}?which=mine").json()["items"] == []
    assert _client(world.mum.user).get(f"{API}?which=joinable").json()["items"] == []
    # never another family's phone or child
    assert not any(secret in _text(joinable) for secret in world.secrets())


def test_a_family_joins_an_open_group_reads_its_board_then_leaves_it(world):
    dad = _client(world.dad.user)

    # when another family of the school joins the open group
    joined = _post(dad, f"{API}/{world.group.pk}/join")

    # then it is a member at once and is given the group's board
    assert joined.status_code == 201, joined.content
    group = joined.json()["group"]
    assert group["relation"] == "member" and group["member_count"] == 2
    assert group["board_id"] == world.group_board.pk
    assert "已加入" in joined.json()["message"]
    board = dad.get(f"/api/v1/community/boards/{group['board_id']}/threads")
    assert board.status_code == 200, board.content
    # and the detail names no other family
    detail = dad.get(f"{API}/{world.group.pk}")
    assert detail.status_code == 200
    assert not any(secret in _text(detail) for secret in world.secrets())
    assert world.mum.user.display_name not in _text(detail)

    # when it leaves
    left = _post(dad, f"{API}/{world.group.pk}/leave")

    # then it is no member, and the board is the same 404 as a missing one
    assert left.status_code == 200, left.content
    assert left.json()["group"]["member_count"] == 1
    assert left.json()["group"]["board_id"] is None
    assert left.json()["group"]["memberships"] == []
    gone = dad.get(f"/api/v1/community/boards/{world.group_board.pk}/threads")
    assert gone.status_code == 404 and gone.json()["code"] == "board_missing"


def test_joining_by_request_waits_for_the_facilitator(world):
    Group.objects.filter(pk=world.group.pk).update(joining=Group.Joining.REQUEST)
    dad = _client(world.dad.user)

    asked = _post(dad, f"{API}/{world.group.pk}/join")

    assert asked.status_code == 201, asked.content
    group = asked.json()["group"]
    assert group["relation"] == "requested" and group["member_count"] == 1
    assert group["memberships"][0]["status"] == "requested"
    assert group["board_id"] is None
    again = _post(dad, f"{API}/{world.group.pk}/join")
    assert again.status_code == 400 and again.json()["code"] == "already_requested"


def test_another_schools_group_is_the_same_404_as_a_missing_one(world, session):
    outsider = _client(world.outsider.user)
    for method, path in (
        ("get", f"{world.group.pk}"),
        ("get", f"{world.group.pk}/sessions"),
        ("post", f"{world.group.pk}/join"),
        ("post", f"{world.group.pk}/leave"),
    ):
        missing_path = path.replace(str(world.group.pk), str(MISSING_ID), 1)
        if method == "get":
            foreign, missing = outsider.get(f"{API}/{path}"), outsider.get(f"{API}/{missing_path}")
        else:
            foreign = _post(outsider, f"{API}/{path}")
            missing = _post(outsider, f"{API}/{missing_path}")
        assert foreign.status_code == 404, (path, foreign.content)
        assert foreign.json() == missing.json(), path
    assert not GroupMembership.objects.filter(family=world.outsider.family).exists()


def test_another_familys_child_is_refused(world):
    # given a 学伴 group of the school
    study = services.group_create(
        user=world.coordinator,
        parent_school_id=world.parent_school.pk,
        kind=Group.Kind.STUDY,
        name="三年级数学学伴组",
        facilitator_id=world.instructor.pk,
        facilitator_role=Group.FacilitatorRole.INSTRUCTOR,
        min_size=2,
        max_size=6,
        joining=Group.Joining.OPEN,
    )
    dad = _client(world.dad.user)

    # when the father names the mother's child, no child, then his own
    foreign = _post(dad, f"{API}/{study.pk}/join", {"child_id": world.mum_child.pk})
    without = _post(dad, f"{API}/{study.pk}/join")
    own = _post(dad, f"{API}/{study.pk}/join", {"child_id": world.dad_child.pk})

    # then only his own child joins
    assert foreign.status_code == 400 and foreign.json()["code"] == "child_invalid"
    assert "child_id" in foreign.json()["fields"]
    assert without.status_code == 400 and without.json()["code"] == "child_required"
    assert own.status_code == 201, own.content
    (membership,) = own.json()["group"]["memberships"]
    assert membership["child_id"] == world.dad_child.pk
    assert membership["child"] == world.dad_child.nickname
    # and leaving a 家伴 group while naming another family's child changes nothing
    refused = _post(
        _client(world.mum.user), f"{API}/{world.group.pk}/leave", {"child_id": world.dad_child.pk}
    )
    assert refused.status_code == 400 and refused.json()["code"] == "child_invalid"
    assert (
        GroupMembership.objects.get(family=world.mum.family, group=world.group).status == "active"
    )


def test_a_member_books_the_groups_session_a_non_member_may_not(world, session):
    mum, dad = _client(world.mum.user), _client(world.dad.user)

    # when the member lists the group's sessions and books one
    listed = mum.get(f"{API}/{world.group.pk}/sessions")
    assert listed.status_code == 200, listed.content
    (card,) = listed.json()["items"]
    assert card["id"] == session.pk and card["venue"] == "溪口社区图书室"
    assert card["booking"] is None and card["free_places"] == 12
    booked = _post(
        mum,
        f"{API}/sessions/{session.pk}/booking",
        {"guardian_ids": [world.mum.pk], "child_ids": [world.mum_child.pk]},
    )

    # then her family has a confirmed place, shown on the session
    assert booked.status_code == 201, booked.content
    assert booked.json()["status"] == "confirmed" and booked.json()["party_size"] == 2
    card = mum.get(f"{API}/{world.group.pk}/sessions").json()["items"][0]
    assert card["booking"]["status"] == "confirmed" and card["free_places"] == 10
    # and it is cancelled like any booking
    cancelled = _post(mum, f"/api/v1/learning/bookings/{booked.json()['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"

    # when a family of the school that is no member tries
    listed = dad.get(f"{API}/{world.group.pk}/sessions")
    refused = _post(dad, f"{API}/sessions/{session.pk}/booking")

    # then both are 404 and nothing is booked
    assert listed.status_code == 404 and listed.json()["code"] == "group_missing"
    assert refused.status_code == 404 and refused.json()["code"] == "session_missing"
    assert not Booking.objects.filter(family=world.dad.family).exists()


def test_joining_replays_under_one_idempotency_key_and_needs_the_write_scope(world):
    reader = _client(world.dad.user, scopes=("read",))
    refused = _post(reader, f"{API}/{world.group.pk}/join")
    assert refused.status_code == 403 and refused.json()["code"] == "scope_missing"

    dad = _client(world.dad.user)
    key = str(uuid.uuid4())
    first = _post(dad, f"{API}/{world.group.pk}/join", HTTP_IDEMPOTENCY_KEY=key)
    retried = _post(dad, f"{API}/{world.group.pk}/join", HTTP_IDEMPOTENCY_KEY=key)
    assert first.status_code == retried.status_code == 201
    assert retried["Idempotent-Replayed"] == "true"
    assert GroupMembership.objects.filter(family=world.dad.family, status="active").count() == 1
    world.group.refresh_from_db()
    assert world.group.member_count == 2


def test_a_dissolved_groups_board_stays_with_its_former_members(world):
    # given the group dissolved by its school's coordinator
    services.group_dissolve(user=world.coordinator, group_id=world.group.pk, reason="学期结束")
    mum = _client(world.mum.user)

    # then the mother still sees it, as a former member, with its archived board
    detail = mum.get(f"{API}/{world.group.pk}")
    assert detail.status_code == 200, detail.content
    body = detail.json()
    assert body["relation"] == "former" and body["status"] == "dissolved"
    assert not body["can_join"] and not body["can_leave"]
    assert body["board_id"] == world.group_board.pk
    threads = mum.get(f"/api/v1/community/boards/{body['board_id']}/threads")
    assert threads.status_code == 200 and threads.json()["board"]["is_archived"] is True
    # and another family of the school does not
    assert _client(world.dad.user).get(f"{API}/{world.group.pk}").status_code == 404


def test_the_group_list_takes_the_same_queries_for_few_or_many_groups(world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from groups.tests.factories import GroupFactory, GroupMembershipFactory

    mum = _client(world.mum.user)
    mum.get(API)  # the token's first use is marked once
    counts = []
    for extra in (1, 10):
        for _ in range(extra):
            GroupFactory(parent_school=world.parent_school, facilitator=world.instructor)
            mine = GroupFactory(parent_school=world.parent_school, member_count=1)
            GroupMembershipFactory(group=mine, family=world.mum.family)
        with CaptureQueriesContext(connection) as captured:
            answer = mum.get(f"{API}?limit=50")
        assert answer.status_code == 200, answer.content
        assert len(answer.json()["items"]) == 1 + 2 * (1 if extra == 1 else 11)
        counts.append(len(captured))
    assert counts[0] == counts[1] <= GROUP_LIST_MAX_QUERIES, counts
