"""Limits live in the database (ClaimTally), never in the session.

A family may claim an item at most N times a day, a week (ISO, from Monday)
and a term; the count is one row per family, item and period, raised by one
conditional upsert. Signing out and in, another guardian of the family, the
API: they all meet at the same row.
"""

from __future__ import annotations

import datetime

import pytest
from django.test import Client

from handbook import services
from handbook.errors import HandbookError
from handbook.models import Claim, ClaimTally
from handbook.tests.factories import HandbookItemFactory
from members.tests.factories import GuardianFactory
from tests.races import run_together

pytestmark = pytest.mark.django_db


def _submit(world, user=None, item=None, day=None, note=""):
    return services.claim_submit(
        user=user or world.parent,
        item_id=(item or world.reading).pk,
        occurred_on=day or world.today,
        note=note,
    )


def test_a_second_claim_of_the_same_item_on_the_same_day_is_refused_with_the_limit(world):
    _submit(world)

    with pytest.raises(HandbookError) as caught:
        _submit(world)

    error = caught.value
    assert error.code == "limit_day" and error.field == "occurred_on"
    assert "亲子阅读" in str(error.message) and "每天最多申报 1 次" in str(error.message)
    # nothing half-written: one claim, and the tallies still count one
    assert Claim.objects.count() == 1
    assert set(ClaimTally.objects.values_list("period", "used")) == {
        ("day", 1),
        ("week", 1),
        ("term", 1),
    }


def test_the_week_limit_counts_from_monday(world):
    # given: an item twice a week, and the Monday of this week (or of last week
    # if this week began before the term)
    monday = world.today - datetime.timedelta(days=world.today.weekday())
    if monday < world.term.starts_on or monday + datetime.timedelta(days=2) > world.today:
        monday -= datetime.timedelta(days=7)
    item = HandbookItemFactory(alliance=world.alliance, limit_per_day=None, limit_per_week=2)
    _submit(world, item=item, day=monday)
    _submit(world, item=item, day=monday + datetime.timedelta(days=1))

    # then: a third that week is refused, the next Monday starts again
    with pytest.raises(HandbookError) as caught:
        _submit(world, item=item, day=monday + datetime.timedelta(days=2))
    assert caught.value.code == "limit_week"
    assert "每周最多申报 2 次" in str(caught.value.message)
    next_monday = monday + datetime.timedelta(days=7)
    if next_monday <= world.today:
        assert _submit(world, item=item, day=next_monday).status == Claim.Status.PENDING


def test_the_term_limit_holds_across_days(world):
    for offset in range(3):
        _submit(
            world,
            item=world.meeting,
            day=world.today - datetime.timedelta(days=offset * 8),
            note="参加了家长会",
        )
    with pytest.raises(HandbookError) as caught:
        _submit(
            world, item=world.meeting, day=world.today - datetime.timedelta(days=40), note="又一次"
        )
    assert caught.value.code == "limit_term"
    assert "每学期最多申报 3 次" in str(caught.value.message)


def test_another_guardian_of_the_family_meets_the_same_limit(world, second_parent):
    _submit(world)
    with pytest.raises(HandbookError) as caught:
        _submit(world, user=second_parent)
    assert caught.value.code == "limit_day"


def test_signing_out_and_in_never_lifts_a_limit(world):
    # given: the parent claimed today through one signed-in session
    first = Client()
    first.force_login(world.parent)
    _submit(world)
    first.logout()

    # when: signed in again in a new session (the session's data is gone)
    second = Client()
    second.force_login(world.parent)
    assert second.session.session_key != first.session.session_key

    # then: the count is the database's, so the limit still holds
    with pytest.raises(HandbookError) as caught:
        _submit(world)
    assert caught.value.code == "limit_day"
    assert ClaimTally.objects.get(family=world.family, item=world.reading, period="day").used == 1


def test_rejection_gives_the_place_back_approval_keeps_it(world):
    claim = _submit(world)
    services.claim_decide(user=world.teacher, claim_id=claim.pk, decision="approve")
    with pytest.raises(HandbookError):
        _submit(world)

    other = HandbookItemFactory(alliance=world.alliance)
    claim = _submit(world, item=other)
    services.claim_decide(user=world.teacher, claim_id=claim.pk, decision="reject", reason="不符合")
    assert _submit(world, item=other).status == Claim.Status.PENDING


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_claims_at_a_limit_of_one_make_exactly_one(tx_world):
    world = tx_world
    second_parent = GuardianFactory(family=world.family).user

    outcome = run_together(
        [lambda: _submit(world), lambda: _submit(world, user=second_parent)],
        meet_before_write=["handbook_claimtally"],
    )

    # then: one claim, the other got the limit's message; the tally says one
    assert outcome.met == 2
    assert len([r for r in outcome.results if r is not None]) == 1
    assert len(outcome.errors) == 1
    error = outcome.errors[0]
    assert isinstance(error, HandbookError) and error.code == "limit_day"
    assert Claim.objects.filter(family=world.family).count() == 1
    assert ClaimTally.objects.get(family=world.family, item=world.reading, period="day").used == 1
