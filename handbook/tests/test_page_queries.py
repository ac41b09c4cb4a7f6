"""The family's handbook page, its print page and the verifier's claim page take
the same few queries for 1 claim or 30 (django_assert_max_num_queries), and the
claim page says when the verifier's approval is the teacher's co-sign."""

from __future__ import annotations

import pytest
from django.urls import reverse

from handbook.models import Claim, HandbookItem, ItemKind
from handbook.tests.factories import ClaimFactory, HandbookItemFactory

pytestmark = pytest.mark.django_db

# The session, the user, the family, the term, the handbook's items, the claims…:
# the same for 1 claim or 30.
PAGE_QUERIES = {"handbook:home": 13, "handbook:print": 15}

STATUSES = [
    Claim.Status.PENDING,
    Claim.Status.MORE_INFO,
    Claim.Status.APPROVED,
    Claim.Status.REJECTED,
    Claim.Status.WITHDRAWN,
]


def _family_claims(world, count):
    items = [world.reading, world.chores, world.meeting]
    for n in range(count):
        status = STATUSES[n % len(STATUSES)]
        ClaimFactory(
            family=world.family,
            child=world.child if n % 2 else None,
            item=items[n % len(items)],
            term=world.term,
            unit=world.school,
            occurred_on=world.today,
            status=status,
            points=2 if status == Claim.Status.APPROVED else 0,
            decision_reason="照片看不清" if status == Claim.Status.REJECTED else "",
        )


@pytest.mark.parametrize("count", [1, 30])
@pytest.mark.parametrize("name", ["handbook:home", "handbook:print"])
def test_the_family_pages_take_the_same_queries_for_1_or_30_claims(
    client, world, django_assert_max_num_queries, count, name
):
    _family_claims(world, count)
    client.force_login(world.parent)
    with django_assert_max_num_queries(PAGE_QUERIES[name]):
        response = client.get(reverse(name))
    assert response.status_code == 200
    assert len(response.context["progress"].pending) == len(
        [n for n in range(count) if STATUSES[n % len(STATUSES)] == Claim.Status.PENDING]
    )


@pytest.mark.parametrize("count", [1, 30])
def test_the_claim_page_takes_the_same_queries_for_1_or_30_claims(
    client, world, django_assert_max_num_queries, count
):
    # given: the claim's picture is on `count` other claims too, and the queue is full
    claim = ClaimFactory(
        family=world.family,
        child=world.child,
        item=world.chores,
        term=world.term,
        unit=world.school,
        photo_hash="f" * 64,
        flag_reused_photo=True,
    )
    for _ in range(count):
        ClaimFactory(item=world.chores, term=world.term, unit=world.school, photo_hash="f" * 64)
    client.force_login(world.teacher)
    with django_assert_max_num_queries(6):
        response = client.get(reverse("handbook:review_detail", args=[claim.pk]))
    assert response.status_code == 200
    assert response.context["reused_count"] == count


def test_a_cosign_claim_says_the_approval_is_the_teachers_cosign(client, world):
    cosign = HandbookItemFactory(
        alliance=world.alliance,
        kind=ItemKind.SCHOOL,
        name="家长开放日",
        evidence=HandbookItem.Evidence.COSIGN,
    )
    claim = ClaimFactory(family=world.family, item=cosign, term=world.term, unit=world.school)
    other = ClaimFactory(
        family=world.family, item=world.reading, term=world.term, unit=world.school
    )
    client.force_login(world.teacher)

    page = client.get(reverse("handbook:review_detail", args=[claim.pk])).content.decode()
    assert "需老师确认" in page and "即为老师的确认" in page
    plain = client.get(reverse("handbook:review_detail", args=[other.pk])).content.decode()
    assert "需老师确认" not in plain
    queue = client.get(reverse("handbook:review")).content.decode()
    assert queue.count("需老师确认") == 1
