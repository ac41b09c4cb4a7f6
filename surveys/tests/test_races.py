"""Two writers at once on PostgreSQL: a course series' session survey is made
once; two edits of an answered template make one new version."""

from __future__ import annotations

import pytest

from surveys import services
from surveys.models import Question, Survey, TemplateVersion
from surveys.tests.world import ANSWERS, session_survey
from tests.races import run_together

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_sweeps_at_once_make_the_session_survey_once(tx_world):
    world = tx_world
    series = Survey.objects.create(
        template=world.template,
        version=world.version,
        title="亲子沟通系列问卷",
        scope="course",
        course=world.course,
        term=world.term,
        unit=world.school,
        is_published=True,
    )
    outcome = run_together(
        [lambda: services.session_surveys_ensure(series_id=series.pk)] * 2,
        meet_before_write=["surveys_survey"],
    )
    assert outcome.errors == []
    assert Survey.objects.filter(series=series).count() == 1
    assert sorted(outcome.results) == [0, 1]


def test_two_edits_of_an_answered_template_at_once_make_one_new_version(tx_world):
    world = tx_world
    survey = session_survey(world)
    services.response_submit(user=world.attended_parent, survey_id=survey.pk, answers=ANSWERS)
    suggestion = Question.objects.get(version=world.version, key="suggestion")
    recommend = Question.objects.get(version=world.version, key="recommend")

    def edit(question, label):
        return lambda: services.question_save(
            actor=world.district_admin,
            template_id=world.template.pk,
            question_id=question.pk,
            section_id=question.section_id,
            kind=question.kind,
            label=label,
            required=question.required,
        )

    outcome = run_together(
        [edit(suggestion, "其他意见"), edit(recommend, "推荐给朋友的可能性")],
        meet_before_statement=["FOR UPDATE"],
    )
    assert outcome.errors == []
    versions = TemplateVersion.objects.filter(template=world.template)
    assert sorted(versions.values_list("number", flat=True)) == [1, 2]
    v2 = versions.get(number=2)
    labels = dict(Question.objects.filter(version=v2).values_list("key", "label"))
    assert labels["suggestion"] == "其他意见" and labels["recommend"] == "推荐给朋友的可能性"
