"""Two clicks at the same instant, on PostgreSQL with real threads."""

from __future__ import annotations

import pytest

from evaluation import services
from evaluation.errors import EvaluationError
from evaluation.models import Responsibility, UnitTarget, UnitTargetChange
from evaluation.tests.factories import FeedbackFactory
from members.models import AuditLog
from tests.races import run_together


@pytest.mark.django_db(transaction=True)
def test_two_acknowledgements_at_once_make_one(tx_world):
    world = tx_world
    feedback = FeedbackFactory(unit=world.school, term=world.term, written_by=world.district)

    def acknowledge():
        return services.feedback_acknowledge(actor=world.unit_coordinator, feedback_id=feedback.pk)

    outcome = run_together([acknowledge, acknowledge], meet_before_write=["evaluation_feedback"])

    assert outcome.met == 2
    assert len([r for r in outcome.results if r is not None]) == 1
    assert [type(e) for e in outcome.errors] == [EvaluationError]
    assert outcome.errors[0].code == "already_acknowledged"
    assert AuditLog.objects.filter(action="evaluation.feedback.acknowledge").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_default_fills_at_once_write_each_target_once(tx_world):
    world = tx_world

    def fill():
        return services.unit_targets_default(actor=world.district, term_id=world.term.pk)

    outcome = run_together([fill, fill], meet_before_write=["evaluation_unittarget"])

    assert outcome.errors == [] and outcome.met == 2
    expected = 2 * Responsibility.objects.filter(is_active=True).count()
    assert sorted(outcome.results) == [0, expected]
    assert UnitTarget.objects.count() == expected
    assert UnitTargetChange.objects.count() == expected  # each fill recorded once


@pytest.mark.django_db(transaction=True)
def test_two_setters_of_one_target_at_once_leave_one_row(tx_world):
    world = tx_world
    families = Responsibility.objects.get(code="families")

    def set_to(user, value):
        return lambda: services.unit_target_set(
            actor=user,
            unit_id=world.school.pk,
            term_id=world.term.pk,
            responsibility_id=families.pk,
            value=value,
        )

    outcome = run_together(
        [set_to(world.district, "60"), set_to(world.alliance_coordinator, "70")],
        meet_before_write=["evaluation_unittarget"],
    )

    assert outcome.errors == [] and outcome.met == 2
    assert UnitTarget.objects.filter(unit=world.school, responsibility=families).count() == 1
    # the history has both changes, the second replacing the first's value
    first, second = UnitTargetChange.objects.filter(responsibility=families).order_by("pk")
    assert first.previous is None and second.previous == first.value
    assert UnitTarget.objects.get(unit=world.school, responsibility=families).value == second.value
