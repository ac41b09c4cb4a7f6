"""An alliance's own handbook (handbook_items_customise, handbook_item_save)."""

from __future__ import annotations

import pytest

from handbook import selectors, services
from handbook.demo import DEFAULT_ITEMS, default_items
from handbook.errors import HandbookError
from handbook.models import HandbookItem, ItemKind
from handbook.tests.conftest import alliance_coordinator
from members.models import AuditLog, RoleAssignment
from members.tests.factories import (
    AllianceFactory,
    ChildFactory,
    GuardianFactory,
    MembershipFactory,
    RoleAssignmentFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def alliance_world(db):
    default_items()
    alliance = AllianceFactory()
    membership = MembershipFactory(alliance=alliance)
    coordinator = alliance_coordinator(alliance)
    family = GuardianFactory().family
    ChildFactory(family=family, school=membership.unit)
    return alliance, coordinator, family


def test_customising_copies_the_defaults_once_and_the_families_follow(alliance_world):
    alliance, coordinator, family = alliance_world
    assert selectors.handbook_alliance_id(family) is None

    copied = services.handbook_items_customise(user=coordinator, alliance_id=alliance.pk)

    assert copied == len(DEFAULT_ITEMS)
    assert HandbookItem.objects.filter(alliance=alliance).count() == len(DEFAULT_ITEMS)
    assert selectors.handbook_alliance_id(family) == alliance.pk
    assert services.handbook_items_customise(user=coordinator, alliance_id=alliance.pk) == 0
    assert AuditLog.objects.filter(action="handbook.items.customise").count() == 2


def test_only_the_alliances_coordinator_may_change_its_items(alliance_world):
    alliance, _coordinator, _family = alliance_world
    unit_coordinator = RoleAssignmentFactory(role=RoleAssignment.Role.UNIT_COORDINATOR).user
    other = alliance_coordinator(AllianceFactory())
    for user in (unit_coordinator, other, GuardianFactory().user):
        with pytest.raises(HandbookError) as caught:
            services.handbook_items_customise(user=user, alliance_id=alliance.pk)
        assert caught.value.code in ("alliance_missing", "not_coordinator")
    assert not HandbookItem.objects.filter(alliance=alliance).exists()


def test_saving_an_item_checks_each_field(alliance_world):
    alliance, coordinator, _family = alliance_world
    item = services.handbook_item_save(
        user=coordinator,
        alliance_id=alliance.pk,
        kind=ItemKind.HOME,
        name="  睡前故事 ",
        points=3,
        evidence=HandbookItem.Evidence.NOTE,
        limit_per_day=1,
        limit_per_week="",
    )
    assert item.name == "睡前故事" and item.limit_per_week is None and item.points == 3

    bad = [
        (dict(name=""), "name"),
        (dict(points=0), "points"),
        (dict(points="很多"), "points"),
        (dict(limit_per_day=0), "limit_per_day"),
        (dict(kind="other"), "kind"),
        (dict(evidence="video"), "evidence"),
        (dict(attendance_match="event"), "attendance_match"),
        (dict(kind="school", attendance_match="event", event_kinds=["party"]), "event_kinds"),
        (dict(name="睡前故事", kind="home", item_id=None), "name"),
    ]
    for change, field in bad:
        item_id = change.pop("item_id", item.pk)
        with pytest.raises(HandbookError) as caught:
            services.handbook_item_save(
                user=coordinator, alliance_id=alliance.pk, item_id=item_id, **change
            )
        assert caught.value.field == field, change
    item.refresh_from_db()
    assert item.name == "睡前故事" and item.points == 3 and item.limit_per_day == 1


def test_only_a_district_admin_changes_the_district_default_set(alliance_world):
    # given a default item, a district admin and the alliance's coordinator
    _alliance, coordinator, _family = alliance_world
    district_admin = RoleAssignmentFactory(
        role=RoleAssignment.Role.CITY_ADMIN, alliance=None, unit=None
    ).user
    item = HandbookItem.objects.filter(alliance__isnull=True).order_by("pk").first()

    # when the coordinator tries to change it, then it is refused and unchanged
    with pytest.raises(HandbookError) as caught:
        services.handbook_item_save(user=coordinator, alliance_id=None, item_id=item.pk, points=9)
    assert caught.value.code == "not_coordinator"
    item.refresh_from_db()
    assert item.points != 9

    # when the district admin changes it and adds one, then both are district defaults
    services.handbook_item_save(user=district_admin, alliance_id=None, item_id=item.pk, points=9)
    added = services.handbook_item_save(
        user=district_admin,
        alliance_id=None,
        kind=ItemKind.BEHAVIOUR,
        name="按时就寝",
        points=1,
        evidence=HandbookItem.Evidence.NOTE,
    )
    item.refresh_from_db()
    assert item.points == 9 and item.alliance_id is None
    assert added.alliance_id is None
    # and customising still needs a real alliance
    with pytest.raises(HandbookError):
        services.handbook_items_customise(user=district_admin, alliance_id=None)
