"""The burst flag (many claims in minutes) is counted after the claim is written,
under the family's lock: two claims at the same instant cannot both miss it.
A flag for the verifier, never a refusal."""

from __future__ import annotations

import pytest

from handbook import services
from handbook.models import Claim
from members.tests.factories import GuardianFactory, UserFactory
from tests.races import run_together


def _submit(world, user, item):
    return services.claim_submit(
        user=user, item_id=item.pk, occurred_on=world.today, note="和孩子一起"
    )


@pytest.mark.django_db
def test_the_claim_that_makes_the_burst_is_flagged_and_not_refused(world, settings):
    settings.HANDBOOK_BURST_CLAIMS = 3
    first = _submit(world, world.parent, world.reading)
    second = _submit(world, world.parent, world.meeting)
    third = _submit(world, world.parent, world.meeting)
    flags = [Claim.objects.get(pk=c.pk).flag_burst for c in (first, second, third)]
    assert flags == [False, False, True]
    assert third.flag_burst and third.status == Claim.Status.PENDING


@pytest.mark.django_db(transaction=True)
def test_two_claims_at_the_same_instant_cannot_both_miss_the_burst(tx_world, settings):
    world = tx_world
    settings.HANDBOOK_BURST_CLAIMS = 2
    second_parent = GuardianFactory(family=world.family, user=UserFactory()).user

    # when: two guardians claim two items at once; both write their claim
    # before either counts (they meet at the INSERT)
    outcome = run_together(
        [
            lambda: _submit(world, world.parent, world.reading),
            lambda: _submit(world, second_parent, world.meeting),
        ],
        meet_before_write=["handbook_claim"],
    )

    # then: both made, and the one that counted second saw the other: flagged
    assert outcome.errors == [] and outcome.met == 2
    flags = sorted(Claim.objects.filter(family=world.family).values_list("flag_burst", flat=True))
    assert flags == [False, True]
