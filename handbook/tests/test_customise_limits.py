"""Customising the item set in the middle of a term lifts no limit and counts no
item twice: an alliance's copy of a default item (``copied_from``) shares the
default's tallies, and "items done" (progress, recognition) counts the two as one."""

from __future__ import annotations

import datetime

import pytest

from handbook import selectors, services
from handbook.demo import default_items
from handbook.errors import HandbookError
from handbook.models import Claim, ClaimTally, HandbookItem, ItemKind
from handbook.tests.conftest import alliance_coordinator, current_term
from members.models import RoleAssignment
from members.tests.factories import (
    AllianceFactory,
    ChildFactory,
    GuardianFactory,
    MembershipFactory,
    RoleAssignmentFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def mid_term(db):
    default_items()
    term = current_term()
    alliance = AllianceFactory()
    school = MembershipFactory(alliance=alliance).unit
    coordinator = alliance_coordinator(alliance)
    teacher = RoleAssignmentFactory(unit=school, role=RoleAssignment.Role.UNIT_COORDINATOR).user
    guardian = GuardianFactory()
    ChildFactory(family=guardian.family, school=school)
    return term, alliance, coordinator, teacher, guardian


def _reading(alliance=None) -> HandbookItem:
    return HandbookItem.objects.get(alliance=alliance, kind=ItemKind.HOME, name="亲子阅读")


def test_a_family_refused_on_the_default_item_is_refused_on_the_alliance_copy(mid_term):
    term, alliance, coordinator, _teacher, guardian = mid_term
    today = datetime.date.today()
    default = _reading()
    services.claim_submit(
        user=guardian.user, item_id=default.pk, occurred_on=today, note="读了绘本"
    )
    with pytest.raises(HandbookError) as caught:
        services.claim_submit(
            user=guardian.user, item_id=default.pk, occurred_on=today, note="又读了"
        )
    assert caught.value.code == "limit_day"

    # when: the coordinator makes the alliance's own set the same day
    services.handbook_items_customise(user=coordinator, alliance_id=alliance.pk)
    copy = _reading(alliance)
    assert copy.copied_from_id == default.pk and copy.source_id == default.pk
    assert selectors.handbook_alliance_id(guardian.family) == alliance.pk

    # then: the copy is the same item for the limits
    with pytest.raises(HandbookError) as caught:
        services.claim_submit(
            user=guardian.user, item_id=copy.pk, occurred_on=today, note="换个项目再报"
        )
    assert caught.value.code == "limit_day"
    assert Claim.objects.filter(family=guardian.family).count() == 1
    assert not ClaimTally.objects.filter(item=copy).exists()
    assert ClaimTally.objects.get(family=guardian.family, item=default, period="day").used == 1


def test_withdrawing_the_default_claim_frees_the_place_on_the_copy(mid_term):
    _term, alliance, coordinator, _teacher, guardian = mid_term
    today = datetime.date.today()
    claim = services.claim_submit(
        user=guardian.user, item_id=_reading().pk, occurred_on=today, note="读了绘本"
    )
    services.handbook_items_customise(user=coordinator, alliance_id=alliance.pk)

    services.claim_withdraw(user=guardian.user, claim_id=claim.pk)

    again = services.claim_submit(
        user=guardian.user, item_id=_reading(alliance).pk, occurred_on=today, note="读了"
    )
    assert again.status == Claim.Status.PENDING


def test_an_item_and_its_copy_count_as_one_item_done(mid_term):
    term, alliance, coordinator, teacher, guardian = mid_term
    today = datetime.date.today()
    yesterday = today - datetime.timedelta(days=1)
    first = services.claim_submit(
        user=guardian.user, item_id=_reading().pk, occurred_on=yesterday, note="读了绘本"
    )
    services.handbook_items_customise(user=coordinator, alliance_id=alliance.pk)
    second = services.claim_submit(
        user=guardian.user, item_id=_reading(alliance).pk, occurred_on=today, note="读了"
    )
    for claim in (first, second):
        services.claim_decide(user=teacher, claim_id=claim.pk, decision="approve")

    progress = selectors.family_progress(family=guardian.family, term=term)

    home = progress.kind(ItemKind.HOME)
    assert home.items_done == 1  # 亲子阅读 once, whichever set it was claimed in
    assert home.points == first.item.points * 2

    # the learning-family computation counts it once too (recognition/computation.py)
    from recognition.selectors import family_figures

    figures = family_figures(family=guardian.family, term=term)
    assert figures["home_items"] == 1


def test_the_migration_links_older_copies_and_moves_their_tallies(mid_term):
    import importlib

    from django.apps import apps

    _term, alliance, _coordinator, _teacher, guardian = mid_term
    default = _reading()
    copy = HandbookItem.objects.create(
        alliance=alliance, kind=ItemKind.HOME, name="亲子阅读", points=2
    )
    day = datetime.date.today()
    ClaimTally.objects.create(
        family=guardian.family, item=default, period="day", starts_on=day, used=1
    )
    ClaimTally.objects.create(
        family=guardian.family, item=copy, period="day", starts_on=day, used=1
    )

    migration = importlib.import_module("handbook.migrations.0003_item_copied_from")
    migration.copies_link(apps, None)

    copy.refresh_from_db()
    assert copy.copied_from_id == default.pk
    assert not ClaimTally.objects.filter(item=copy).exists()
    assert ClaimTally.objects.get(family=guardian.family, item=default, period="day").used == 2
