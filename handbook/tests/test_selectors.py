"""Reads: the family's handbook and progress, the verifier's queue and scoping."""

from __future__ import annotations

import datetime

import pytest

from handbook import selectors, services
from handbook.demo import DEFAULT_ITEMS, default_items
from handbook.errors import HandbookError
from handbook.models import Claim, HandbookItem, ItemKind
from handbook.tests.factories import ClaimFactory, HandbookItemFactory
from members.models import RoleAssignment
from members.tests.factories import (
    AllianceFactory,
    ChildFactory,
    GuardianFactory,
    MembershipFactory,
    RoleAssignmentFactory,
)

pytestmark = pytest.mark.django_db


def test_the_default_set_is_10_at_home_4_at_school_and_sample_behaviours(db):
    default_items()
    defaults = HandbookItem.objects.filter(alliance__isnull=True)
    assert defaults.filter(kind=ItemKind.HOME).count() == 10
    school = {i.name: i for i in defaults.filter(kind=ItemKind.SCHOOL)}
    assert set(school) == {"家长会", "家长开放日", "志愿服务", "家长课堂"}
    assert school["志愿服务"].attendance_match == "event"
    assert school["志愿服务"].event_kinds == ["volunteer"]
    assert school["家长课堂"].attendance_match == "course_session"
    assert school["家长会"].evidence == HandbookItem.Evidence.COSIGN
    assert defaults.filter(kind=ItemKind.BEHAVIOUR).count() >= 6
    # the district's case names no item: every default name is a sample
    assert not defaults.filter(is_sample=False).exists()
    assert all(i.limit_per_day == 1 for i in defaults.filter(kind=ItemKind.HOME))
    # idempotent: running again makes no second set
    default_items()
    assert defaults.count() == len(DEFAULT_ITEMS)


def test_a_family_uses_its_alliances_own_set_else_the_defaults(world):
    default_items()
    own = selectors.handbook_for_family(family=world.family)
    assert own.alliance == world.alliance
    assert {i.name for i in own.items[ItemKind.HOME]} == {"亲子阅读", "家务劳动"}
    assert own.targets == {"home": 2, "school": 3, "behaviour": None}

    other = GuardianFactory().family
    ChildFactory(family=other, school=world.other_school)
    district = selectors.handbook_for_family(family=other)
    assert district.alliance is None
    assert district.targets["home"] == 10 and district.targets["school"] == 4


def test_an_alliance_without_its_own_items_leaves_its_families_on_the_defaults(world):
    alliance = AllianceFactory()
    MembershipFactory(alliance=alliance, unit=world.other_school)
    family = GuardianFactory().family
    ChildFactory(family=family, school=world.other_school)
    assert selectors.handbook_alliance_id(family) is None


def test_progress_counts_approved_points_by_kind_and_lists_the_rest(world):
    # given: two approved, one rejected with a reason, one pending, one withdrawn
    def claim(item, days_ago=0, note=""):
        return services.claim_submit(
            user=world.parent,
            item_id=item.pk,
            occurred_on=world.today - datetime.timedelta(days=days_ago),
            note=note,
        )

    a = claim(world.reading)
    b = claim(world.reading, days_ago=1)
    c = claim(world.meeting, note="参加了家长会")
    d = claim(world.reading, days_ago=2)
    e = claim(world.reading, days_ago=3)
    services.claim_decide(user=world.teacher, claim_id=a.pk, decision="approve")
    services.claim_decide(user=world.teacher, claim_id=b.pk, decision="approve")
    services.claim_decide(user=world.teacher, claim_id=c.pk, decision="reject", reason="没有签到")
    services.claim_withdraw(user=world.parent, claim_id=e.pk)

    progress = selectors.family_progress(family=world.family, term=world.term)

    home = progress.kind(ItemKind.HOME)
    assert home.points == 2 * world.reading.points and home.items_done == 1
    assert home.items_total == 2 and home.target == 2
    assert progress.kind(ItemKind.SCHOOL).points == 0
    assert progress.points_total == 2 * world.reading.points
    assert [x.pk for x in progress.pending] == [d.pk]
    assert [(x.pk, x.decision_reason) for x in progress.rejected] == [(c.pk, "没有签到")]
    assert {x.pk for x in progress.approved} == {a.pk, b.pk}


def _many_claims(world, n):
    items = [HandbookItemFactory(alliance=world.alliance) for _ in range(n)]
    for item in items:
        ClaimFactory(
            family=world.family, item=item, term=world.term, unit=world.school, child=world.child
        )


@pytest.mark.parametrize("n", [1, 20])
def test_family_progress_takes_constant_queries(world, n, django_assert_max_num_queries):
    _many_claims(world, n)
    with django_assert_max_num_queries(5):
        progress = selectors.family_progress(family=world.family, term=world.term)
        assert len(progress.pending) == n
        assert all(c.item.name and c.child.nickname for c in progress.pending)


@pytest.mark.parametrize("n", [1, 20])
def test_the_queue_takes_constant_queries(world, n, django_assert_max_num_queries):
    _many_claims(world, n)
    with django_assert_max_num_queries(3):
        rows = list(selectors.claims_queue(user=world.teacher))
        assert len(rows) == n
        assert all(r.item.name and r.unit.name and r.term.code for r in rows)


def test_the_queue_is_scoped_to_the_verifiers_units_oldest_first(world):
    first = ClaimFactory(
        family=world.family, item=world.reading, term=world.term, unit=world.school
    )
    second = ClaimFactory(
        family=world.family, item=world.chores, term=world.term, unit=world.school
    )
    elsewhere = ClaimFactory(term=world.term, unit=world.other_school)

    assert [c.pk for c in selectors.claims_queue(user=world.teacher)] == [first.pk, second.pk]
    assert [c.pk for c in selectors.claims_queue(user=world.other_teacher)] == [elsewhere.pk]
    assert not selectors.claims_queue(user=world.parent).exists()
    # filters
    assert [c.pk for c in selectors.claims_queue(user=world.teacher, kind="school")] == []
    assert selectors.claims_queue(user=world.teacher, unit_id="x").count() == 2
    # the verifier's own family never appears in their queue
    teacher_parent = GuardianFactory(family=world.family).user
    RoleAssignmentFactory(
        user=teacher_parent, unit=world.school, role=RoleAssignment.Role.UNIT_COORDINATOR
    )
    assert not selectors.claims_queue(user=teacher_parent).exists()


def test_a_claim_is_read_by_its_family_or_its_verifiers_only(world):
    claim = ClaimFactory(
        family=world.family, item=world.reading, term=world.term, unit=world.school
    )
    assert selectors.claim_for_family(user=world.parent, claim_id=claim.pk) == claim
    assert selectors.claim_for_verifier(user=world.teacher, claim_id=claim.pk) == claim
    for call, user in (
        (selectors.claim_for_family, GuardianFactory().user),
        (selectors.claim_for_family, world.teacher),
        (selectors.claim_for_verifier, world.other_teacher),
        (selectors.claim_for_verifier, world.parent),
    ):
        with pytest.raises(HandbookError) as caught:
            call(user=user, claim_id=claim.pk)
        assert caught.value.code == "claim_missing"


def test_a_familys_label_never_names_a_child(world):
    label = selectors.family_label(world.family)
    assert world.child.nickname not in label and str(world.family.pk) in label
    assert Claim.objects.count() == 0
