"""An anonymous term survey from the families' submits to the unit's dashboard
figures: response_submit, a real Celery worker releasing the batches (through
Redis, on PostgreSQL), survey_results hiding groups below SURVEYS_MIN_GROUP, and
the roll-up writing reports.SurveySnapshot."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.conf import settings

from reports.models import SurveySnapshot
from reports.services import participation_rollup
from surveys import services
from surveys.models import PendingResponse, Response
from surveys.results import survey_results
from surveys.tests.world import ANSWERS, attend, build_world, family_with_parent, term_survey
from tests.helpers import wait_for

pytestmark = pytest.mark.celery_worker


def _satisfaction(results):
    return next(q for q in results.questions if q.key == "satisfaction")


def test_anonymous_answers_reach_the_results_and_the_dashboard_only_in_batches(
    celery_worker_process,
):
    batch, min_group = settings.SURVEYS_ANONYMOUS_BATCH, settings.SURVEYS_MIN_GROUP
    assert (batch, min_group) == (5, 5)  # the figures below are for these
    world = build_world()
    survey = term_survey(world, is_anonymous=True)
    users = [world.attended_parent, world.attended2_parent]
    for i in range(10):
        family, user = family_with_parent(world.school, f"匿名家长{i}")
        attend(family, world.offering)
        users.append(user)
    coordinator = world.unit_coordinator

    def submit(index, user):
        services.response_submit(
            user=user,
            survey_id=survey.pk,
            answers={**ANSWERS, "satisfaction": 5 if index % 2 == 0 else 4},
        )

    def snapshot():
        participation_rollup(term=world.term)
        return SurveySnapshot.objects.get(term=world.term, unit=world.school)

    # when four families answer: nothing is released (the worker runs after each
    # commit and finds fewer than two batches waiting)
    for index, user in enumerate(users[:4]):
        submit(index, user)
    pending = PendingResponse.objects.filter(survey=survey)
    responses = Response.objects.filter(survey=survey)
    wait_for(lambda: pending.count() == 4, timeout=30)
    results = survey_results(user=coordinator, survey_id=survey.pk)
    assert (results.answered, results.counted, results.pending) == (4, 0, 4)
    assert _satisfaction(results).suppressed and not _satisfaction(results).distribution
    # the dashboard counts who answered but shows no satisfaction yet
    figures = snapshot()
    assert figures.answered == 4 and figures.satisfaction_answers == 0
    assert figures.satisfaction is None

    # when eight more answer (twelve): the worker releases one batch of five and
    # leaves seven waiting for the last batch
    for index, user in enumerate(users[4:], start=4):
        submit(index, user)
    wait_for(lambda: responses.count() == batch and pending.count() == 12 - batch, timeout=60)
    results = survey_results(user=coordinator, survey_id=survey.pk)
    assert (results.answered, results.counted, results.pending) == (12, 5, 7)
    satisfaction = _satisfaction(results)
    assert not satisfaction.suppressed and satisfaction.answered == 5
    assert sum(count for _label, count, _percent in satisfaction.distribution) == 5
    figures = snapshot()
    assert figures.answered == 12 and figures.satisfaction_answers == 5

    # when the survey closes: the worker releases the other seven as one batch
    services.survey_close(actor=coordinator, survey_id=survey.pk)
    wait_for(lambda: responses.count() == 12, timeout=60)
    assert sorted(responses.values_list("batch", flat=True)) == [1] * 5 + [2] * 7
    assert not responses.filter(family__isnull=False).exists()
    results = survey_results(user=coordinator, survey_id=survey.pk)
    assert (results.counted, results.pending) == (12, 0)
    assert _satisfaction(results).mean == 4.5
    figures = snapshot()
    assert (figures.answered, figures.satisfaction_answers, figures.satisfaction_sum) == (
        12,
        12,
        54,
    )
    assert figures.satisfaction == Decimal("4.50")


def test_an_anonymous_survey_below_a_batch_shows_nothing_until_closing_and_then_hides_it(
    celery_worker_process,
):
    world = build_world()
    survey = term_survey(world, is_anonymous=True)
    for user in (world.attended_parent, world.attended2_parent):
        services.response_submit(user=user, survey_id=survey.pk, answers=ANSWERS)
    services.survey_close(actor=world.unit_coordinator, survey_id=survey.pk)
    responses = Response.objects.filter(survey=survey)
    wait_for(lambda: responses.count() == 2, timeout=60)

    # released at closing as batch 1, but two answers are below the minimum: hidden
    results = survey_results(user=world.unit_coordinator, survey_id=survey.pk)
    assert (results.answered, results.counted, results.pending) == (2, 2, 0)
    assert all(q.suppressed for q in results.questions)
    participation_rollup(term=world.term)
    figures = SurveySnapshot.objects.get(term=world.term, unit=world.school)
    assert figures.answered == 2 and figures.satisfaction is None
