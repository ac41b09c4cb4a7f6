"""The learning-family computation against hand-built data."""

from decimal import Decimal

import pytest
from django.db import transaction

from members.models import AuditLog, Membership
from recognition import computation, services
from recognition.computation import family_display_name, mask_name
from recognition.errors import RecognitionError
from recognition.models import LearningFamilyEntry, LearningFamilyList
from recognition.tests.world import build_world, credit, family_at

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return build_world()


def _entries(family_list):
    return {e.family_id: e for e in LearningFamilyEntry.objects.filter(family_list=family_list)}


def test_each_family_meets_or_misses_the_rule_it_should(world):
    # when
    result = services.learning_families_compute(
        alliance_id=world.alliance.pk, term_id=world.term.pk, user=world.alliance_coordinator
    )

    # then: the families of current member units only
    entries = _entries(result.family_list)
    assert set(entries) == {
        world.meets.pk,
        world.few_credits.pk,
        world.open_rejection.pk,
        world.closed_rejection.pk,
        world.no_session.pk,
    }
    meets = entries[world.meets.pk]
    assert meets.credits == Decimal("2.5")  # 2 + 1.5 − 1 (the reversal)
    assert meets.points == 6 and meets.home_items == 2 and meets.sessions == 1
    assert meets.qualifies and meets.included
    assert meets.display_name == "李*明家庭" and meets.unit_id == world.u1.pk
    assert not entries[world.few_credits.pk].qualifies
    assert entries[world.few_credits.pk].display_name == "张*家庭"
    rejected = entries[world.open_rejection.pk]
    assert rejected.open_rejections == 1 and rejected.school_items == 1
    assert not rejected.qualifies
    closed = entries[world.closed_rejection.pk]
    assert closed.open_rejections == 0 and closed.qualifies
    assert closed.display_name == "欧**明家庭"
    no_session = entries[world.no_session.pk]
    assert no_session.sessions == 0 and not no_session.qualifies
    assert result.written == 5 and result.included == 2 and result.removed == 0
    assert AuditLog.objects.filter(action="recognition.list.compute").count() == 1


def test_no_child_name_is_ever_the_display_name(world):
    result = services.learning_families_compute(
        alliance_id=world.alliance.pk, term_id=world.term.pk
    )
    names = set(result.family_list.entries.values_list("display_name", flat=True))
    assert not any("孩子" in name for name in names)


def test_recomputing_keeps_an_override_and_drops_families_that_left(world):
    # given a computed list and an override against the computation
    first = services.learning_families_compute(alliance_id=world.alliance.pk, term_id=world.term.pk)
    few = first.family_list.entries.get(family=world.few_credits)
    services.entry_override(
        user=world.alliance_coordinator, entry_id=few.pk, included=True, reason="学分记录延迟入账"
    )
    # when u2 leaves the other way round: u1 leaves the alliance, and the rule changes
    Membership.objects.filter(alliance=world.alliance, unit=world.u1).update(left_on="2026-01-01")
    Membership.objects.filter(alliance=world.alliance, unit=world.u_left).update(left_on=None)
    services.rule_save(
        user=world.alliance_coordinator,
        alliance_id=world.alliance.pk,
        term_id=world.term.pk,
        min_credits="1.5",
    )
    again = services.learning_families_compute(alliance_id=world.alliance.pk, term_id=world.term.pk)

    # then
    entries = _entries(again.family_list)
    assert set(entries) == {world.few_credits.pk, world.closed_rejection.pk, world.left_unit.pk}
    few = entries[world.few_credits.pk]
    assert few.qualifies and few.included and few.override_reason == "学分记录延迟入账"
    assert entries[world.left_unit.pk].qualifies
    assert again.removed == 3


def test_a_family_in_two_alliances_is_on_both_lists(world):
    services.rule_save(
        user=world.other_coordinator,
        alliance_id=world.other_alliance.pk,
        term_id=world.term.pk,
        min_credits="0",
    )
    services.learning_families_compute(alliance_id=world.alliance.pk, term_id=world.term.pk)
    services.learning_families_compute(alliance_id=world.other_alliance.pk, term_id=world.term.pk)
    lists = LearningFamilyEntry.objects.filter(family=world.meets).values_list(
        "family_list__alliance_id", flat=True
    )
    assert sorted(lists) == sorted([world.alliance.pk, world.other_alliance.pk])


def test_a_published_list_is_not_recomputed(world):
    result = services.learning_families_compute(
        alliance_id=world.alliance.pk, term_id=world.term.pk
    )
    services.list_publish(user=world.alliance_coordinator, list_id=result.family_list.pk)
    with pytest.raises(RecognitionError) as error:
        services.learning_families_compute(alliance_id=world.alliance.pk, term_id=world.term.pk)
    assert error.value.code == "list_published"
    assert "已发布" in error.value.message


def test_no_rule_no_list(world):
    with pytest.raises(RecognitionError) as error:
        services.learning_families_compute(
            alliance_id=world.other_alliance.pk, term_id=world.term.pk
        )
    assert error.value.code == "no_rule"
    assert not LearningFamilyList.objects.filter(alliance=world.other_alliance).exists()


def test_another_alliance_coordinator_may_not_compute(world):
    with pytest.raises(RecognitionError) as error:
        services.learning_families_compute(
            alliance_id=world.alliance.pk, term_id=world.term.pk, user=world.other_coordinator
        )
    assert error.value.code == "alliance_missing"


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("李小明", "李*明"),
        ("王芳", "王*"),
        ("欧阳晓明", "欧**明"),
        ("赵", "赵"),
        ("", ""),
        (" 李 小明 ", "李*明"),
    ],
)
def test_mask_name(name, masked):
    assert mask_name(name) == masked


def test_the_sql_masks_like_python(world):
    result = services.learning_families_compute(
        alliance_id=world.alliance.pk, term_id=world.term.pk
    )
    for entry in result.family_list.entries.all():
        guardian = entry.family.guardians.order_by("pk").first()
        assert entry.display_name == family_display_name(
            guardian.user.display_name, entry.family_id
        )


def test_the_whole_district_is_one_statement_per_alliance(world, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    services.rule_save(
        user=None, alliance_id=world.other_alliance.pk, term_id=world.term.pk, min_credits="0"
    )
    with CaptureQueriesContext(connection) as queries:
        results = services.learning_families_compute_district(term_id=world.term.pk)
    assert [r.family_list.alliance_id for r in results] == sorted(
        [world.alliance.pk, world.other_alliance.pk]
    )
    upserts = [q for q in queries if 'INSERT INTO "recognition_learningfamilyentry"' in q["sql"]]
    assert len(upserts) == 2


# --- the portable path (SQLite) gives what the PostgreSQL statement gives ---------

ENTRY_FIELDS = (
    "unit_id",
    "display_name",
    "qualifies",
    "included",
    "override_reason",
    "credits",
    "points",
    "sessions",
    "home_items",
    "school_items",
    "behaviour_items",
    "open_rejections",
)


def _both_ways(family_list, params):
    """Run the PostgreSQL statement and the portable steps on the same rows, each
    rolled back after: their counts and the entries they leave."""
    outcomes = []
    for upsert in (computation.entries_upsert, computation.entries_upsert_portable):
        with transaction.atomic():
            counts = upsert(params)
            entries = {
                e["family_id"]: e
                for e in LearningFamilyEntry.objects.filter(family_list=family_list).values(
                    "family_id", *ENTRY_FIELDS
                )
            }
            transaction.set_rollback(True)
        outcomes.append((counts, entries))
    return outcomes


def test_the_portable_path_writes_the_entries_the_statement_writes(world):
    from django.db import connection

    assert connection.vendor == "postgresql"  # the statement side is the real one
    # given names the masking must treat alike, credits in tenths, an override
    # against the computation and families that left since the first computation
    spaced = family_at(world.u2, " 欧阳　晓 明 ")  # ASCII and ideographic spaces
    credit(spaced, world.term, "0.7")
    credit(spaced, world.term, "0.7")
    credit(spaced, world.term, "0.6")
    nameless = family_at(world.u1, "")
    first = services.learning_families_compute(alliance_id=world.alliance.pk, term_id=world.term.pk)
    few = first.family_list.entries.get(family=world.few_credits)
    services.entry_override(
        user=world.alliance_coordinator, entry_id=few.pk, included=True, reason="学分记录延迟入账"
    )
    Membership.objects.filter(alliance=world.alliance, unit=world.u1).update(left_on="2026-01-01")
    Membership.objects.filter(alliance=world.alliance, unit=world.u_left).update(left_on=None)
    rule = services.rule_save(
        user=world.alliance_coordinator,
        alliance_id=world.alliance.pk,
        term_id=world.term.pk,
        min_credits="1.5",
    )
    params = computation.figures_params(
        rule=rule, term=world.term, alliance_id=world.alliance.pk, list_id=first.family_list.pk
    )

    # when
    (pg_counts, pg_entries), (portable_counts, portable_entries) = _both_ways(
        first.family_list, params
    )

    # then: the same counts and the same entries, field by field
    assert pg_counts == portable_counts
    assert pg_counts[2] == 4  # u1's three families and the nameless one left
    assert portable_entries == pg_entries
    assert set(pg_entries) == {
        world.few_credits.pk,
        world.closed_rejection.pk,
        world.left_unit.pk,
        spaced.pk,
    }
    assert pg_entries[world.few_credits.pk]["included"]  # the override stays
    assert pg_entries[spaced.pk]["display_name"] == "欧**明家庭"
    assert pg_entries[spaced.pk]["credits"] == Decimal("2.0")
    assert nameless.pk not in pg_entries


def test_the_portable_figures_are_the_statements_figures(world):
    family_at(world.u1, "")  # no name: 「家庭 #<id>」
    rule = world.rule
    alliance_params = computation.figures_params(
        rule=rule, term=world.term, alliance_id=world.alliance.pk
    )
    pg = computation.figures_rows(alliance_params, use_portable=False)
    portable = computation.figures_rows(alliance_params, use_portable=True)
    assert len(pg) == 6
    assert sorted(portable, key=lambda r: r["family_id"]) == sorted(
        pg, key=lambda r: r["family_id"]
    )
    assert any(row["display_name"].startswith("家庭 #") for row in pg)
    for family in (world.meets, world.no_school, world.open_rejection):
        params = computation.figures_params(rule=None, term=world.term, family_id=family.pk)
        one = computation.figures_rows(params, families="family", use_portable=False)
        assert computation.figures_rows(params, families="family", use_portable=True) == one
        assert len(one) == 1 and one[0]["family_id"] == family.pk
