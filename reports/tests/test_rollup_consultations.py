"""consultations_held: the station's consultations held, at its unit (the unit's
row of key 0, beside its events), by the month they were held — and a
consultation's offering is never a course session or an event in the figures."""

from decimal import Decimal

import pytest

from guidance.models import Consultation
from guidance.tests.factories import ConsultationFactory
from reports.models import ParticipationSnapshot, SnapshotMark
from reports.services import participation_rollup, snapshot_marks_rollup, snapshot_marks_write

from .brand_world import build_brand_world
from .factories import local

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    return build_brand_world()


def event_row(world, period):
    return ParticipationSnapshot.objects.get(
        term=world.term, unit=world.school_unit, parent_school_key=0, period=period
    )


def test_consultations_held_are_counted_at_the_stations_unit_by_month(world):
    # given: another consultation that was missed, one cancelled, one held after the term
    for status, held_at in (
        (Consultation.Status.MISSED, None),
        (Consultation.Status.CANCELLED, None),
        (Consultation.Status.HELD, local(2026, 8, 20)),
    ):
        ConsultationFactory(
            slot__mentor=world.mentor,
            slot__offering__unit=world.school_unit,
            status=status,
            held_at=held_at,
        )

    # when
    participation_rollup(term=world.term, now=world.now)

    # then
    assert event_row(world, "2026-05").consultations_held == 1
    assert event_row(world, "term").consultations_held == 1
    total = sum(
        ParticipationSnapshot.objects.filter(term=world.term, period="term").values_list(
            "consultations_held", flat=True
        )
    )
    assert total == 1


def test_a_consultation_is_neither_a_session_nor_an_event(world):
    # when
    participation_rollup(term=world.term, now=world.now)

    # then: the unit's event row has E1 only (E2 draft, E3 after the term), and its
    # person-times and families are E1's (F2, party 2) — not the consultation's
    # present booking of F1
    term_row = event_row(world, "term")
    assert term_row.events_held == 1
    assert term_row.sessions_held == 0 and term_row.sessions_planned == 0
    assert term_row.person_times == 2
    assert term_row.families == 1
    assert term_row.event_participants == 2
    may = event_row(world, "2026-05")
    assert (may.events_held, may.person_times, may.consultations_held) == (1, 2, 1)
    # and the school's course rows count its course sessions only
    school_row = ParticipationSnapshot.objects.get(
        term=world.term, parent_school=world.school, period="term"
    )
    assert (school_row.sessions_held, school_row.sessions_planned) == (2, 3)
    assert school_row.volunteer_hours == Decimal("0.0")


def test_a_pass_over_the_consultations_mark_gives_the_full_roll_ups_figures(world):
    # given: the full roll-up, then the consultation's row is wiped and its offering marked
    participation_rollup(term=world.term, now=world.now)
    expected = event_row(world, "2026-05").consultations_held
    ParticipationSnapshot.objects.filter(pk=event_row(world, "2026-05").pk).update(
        consultations_held=0
    )
    snapshot_marks_write(offering_ids=[world.consultation.slot.offering_id])
    assert SnapshotMark.objects.filter(unit=world.school_unit, parent_school_key=0).exists()

    # when
    snapshot_marks_rollup(now=world.now)

    # then
    assert event_row(world, "2026-05").consultations_held == expected == 1
    assert not SnapshotMark.objects.exists()
