"""BrandSnapshot: the brand figures of the roll-up against a world counted by hand
(reports/tests/brand_world.py says how each figure is made)."""

import pytest

from events.models import Event
from reports.models import BrandSnapshot
from reports.rollup import brand_figures
from reports.services import participation_rollup

from .brand_world import build_brand_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return build_brand_world()


def brand_table(term):
    return {
        row.brand.name: (row.sessions, row.person_times, row.families)
        for row in BrandSnapshot.objects.filter(term=term).select_related("brand")
    }


def test_brand_figures_match_the_hand_count(world):
    # when
    participation_rollup(term=world.term, now=world.now)

    # then: 星联盟 S1, S2, E1, G1 held; person-times 2 + 2 + 3 + 2 + 1; F1, F2, F3
    assert brand_table(world.term) == {"星联盟": (4, 10, 3), "育苗护幼": (1, 1, 1)}


def test_the_brand_aggregate_is_one_query(world, django_assert_num_queries):
    # the planner settings (three SET LOCAL, in a savepoint) and one statement
    with django_assert_num_queries(6):
        figures = brand_figures(term=world.term, now=world.now)
    assert {f["brand_id"]: f["sessions"] for f in figures} == {
        world.star.pk: 4,
        world.seedling.pk: 1,
    }


def test_rolling_up_again_updates_and_drops_brand_rows(world):
    # given
    participation_rollup(term=world.term, now=world.now)
    first = {row.brand_id: row.pk for row in BrandSnapshot.objects.filter(term=world.term)}

    # when: 育苗护幼's only event loses its brand, and the roll-up runs again
    Event.objects.filter(pk=world.y1.pk).update(brand=None)
    participation_rollup(term=world.term, now=world.now)

    # then: its row is gone; 星联盟's row is the same row, same figures
    assert brand_table(world.term) == {"星联盟": (4, 10, 3)}
    assert BrandSnapshot.objects.get(term=world.term, brand=world.star).pk == first[world.star.pk]


def test_other_terms_have_their_own_rows(world):
    # when
    participation_rollup(term=world.other_term, now=world.now)

    # then: the other term's course session of 星联盟, F1 present (party 1)
    assert brand_table(world.other_term) == {"星联盟": (1, 1, 1)}
    assert not BrandSnapshot.objects.filter(term=world.term).exists()
