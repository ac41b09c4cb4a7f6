"""Templates in versions: editing a template that has answers makes a new version;
old answers keep theirs; keys carry over; without answers the edit is in place."""

from __future__ import annotations

import pytest

from surveys import selectors, services
from surveys.errors import SurveyError
from surveys.models import Question, Response, Section, TemplateVersion
from surveys.tests.world import ANSWERS, session_survey


def test_a_new_template_has_version_1_with_one_empty_section(world):
    template = services.template_create(
        actor=world.alliance_coordinator, alliance_id=world.alliance.pk, name="联盟问卷"
    )
    version = TemplateVersion.objects.get(template=template)
    assert version.number == 1
    assert list(Section.objects.filter(version=version).values_list("title", flat=True)) == [
        "第一部分"
    ]


def test_editing_without_answers_edits_in_place(world):
    question = Question.objects.get(version=world.version, key="suggestion")
    services.question_save(
        actor=world.district_admin,
        template_id=world.template.pk,
        question_id=question.pk,
        section_id=question.section_id,
        kind="short_text",
        label="其他意见和建议",
        required=False,
    )
    assert TemplateVersion.objects.filter(template=world.template).count() == 1
    question.refresh_from_db()
    assert question.label == "其他意见和建议"


def test_editing_a_template_with_answers_makes_version_2_and_old_answers_keep_version_1(world):
    survey = session_survey(world)
    services.response_submit(user=world.attended_parent, survey_id=survey.pk, answers=ANSWERS)
    old = Question.objects.get(version=world.version, key="suggestion")

    # when the district edits a question by its old id, and adds one
    edited = services.question_save(
        actor=world.district_admin,
        template_id=world.template.pk,
        question_id=old.pk,
        section_id=old.section_id,
        kind="long_text",
        label="其他意见和建议",
        required=False,
    )
    added = services.question_save(
        actor=world.district_admin,
        template_id=world.template.pk,
        question_id=None,
        section_id=old.section_id,
        kind="rating",
        label="讲师讲解是否清楚",
    )

    # then one new version holds both edits; keys carry over; conditions remapped
    versions = list(TemplateVersion.objects.filter(template=world.template).order_by("number"))
    assert [v.number for v in versions] == [1, 2]
    v2 = versions[1]
    assert edited.version == v2 and added.version == v2
    assert edited.key == "suggestion" and added.key not in {
        q.key for q in Question.objects.filter(version=world.version)
    }
    keys_v1 = set(Question.objects.filter(version=world.version).values_list("key", flat=True))
    keys_v2 = set(Question.objects.filter(version=v2).values_list("key", flat=True))
    assert keys_v2 == keys_v1 | {added.key}
    why_low = Question.objects.get(version=v2, key="why_low")
    assert why_low.show_if.version == v2 and why_low.show_if.key == "satisfaction"
    old.refresh_from_db()
    assert old.label == "其他建议" and old.kind == "short_text"
    assert Response.objects.get(survey=survey).version == world.version

    # and the next family of the same survey still answers version 1 (the survey
    # is pinned: no response's version tells who answered after the edit) …
    sheet = selectors.answer_sheet(user=world.attended2_parent, survey_id=survey.pk)
    assert sheet.version == world.version and added.key not in {q.key for q in sheet.questions}
    services.response_submit(user=world.attended2_parent, survey_id=survey.pk, answers=ANSWERS)
    assert set(Response.objects.filter(survey=survey).values_list("version", flat=True)) == {
        world.version.pk
    }
    # … while a survey made now gets version 2
    event_survey = services.survey_create(
        actor=world.unit_coordinator,
        template_id=world.template.pk,
        scope="event",
        target_id=world.event_offering.pk,
    )
    assert event_survey.version == v2


def test_a_version_pinned_by_a_published_survey_is_copied_not_edited(world):
    # given: a published survey of version 1 that nobody has answered yet
    survey = session_survey(world)
    unpublished = session_survey(world, offering=world.event_offering, is_published=False)
    first = Question.objects.get(version=world.version, key="satisfaction")

    services.question_save(
        actor=world.district_admin,
        template_id=world.template.pk,
        question_id=first.pk,
        section_id=first.section_id,
        kind="rating",
        label="总体满意度（新）",
        measure="satisfaction",
    )

    # then version 1 is as its families were shown it; the copy holds the edit
    first.refresh_from_db()
    assert first.label == "您对本次课程的总体满意度"
    survey.refresh_from_db()
    unpublished.refresh_from_db()
    assert survey.version == world.version
    # an unpublished survey (nobody has seen it) follows the edit
    assert unpublished.version.number == 2
    assert unpublished.version.questions.get(key="satisfaction").label == "总体满意度（新）"


def test_a_draft_counts_as_answers(world):
    survey = session_survey(world)
    services.draft_save(
        user=world.attended_parent, survey_id=survey.pk, answers={"satisfaction": 3}
    )
    section = Section.objects.filter(version=world.version).first()
    services.section_save(
        actor=world.district_admin,
        template_id=world.template.pk,
        section_id=section.pk,
        title="总评",
    )
    assert TemplateVersion.objects.filter(template=world.template).count() == 2
    # the draft keeps its version and still submits
    services.response_submit(user=world.attended_parent, survey_id=survey.pk, answers=ANSWERS)
    assert Response.objects.get().version == world.version


@pytest.mark.parametrize(
    "fields, code, field",
    [
        ({"kind": "single", "options": ["只有一个"]}, "options_count", "options"),
        ({"kind": "single", "options": ["甲", ""]}, "option_empty", "options"),
        ({"kind": "single", "options": ["甲", "甲"]}, "option_duplicate", "options"),
        ({"kind": "rating", "options": ["甲", "乙"]}, "options_not_allowed", "options"),
        ({"kind": "essay"}, "kind_invalid", "kind"),
        ({"kind": "rating", "label": "  "}, "label_required", "label"),
        ({"kind": "short_text", "measure": "satisfaction"}, "measure_needs_rating", "measure"),
        (
            {"kind": "short_text", "show_if_key": "suggestion", "show_if_values": [1]},
            "show_if_invalid",
            "show_if",
        ),
        (
            {"kind": "short_text", "show_if_key": "satisfaction", "show_if_values": [7]},
            "show_if_values_invalid",
            "show_if_values",
        ),
        (
            {"kind": "short_text", "show_if_key": "format", "show_if_values": []},
            "show_if_values_required",
            "show_if_values",
        ),
    ],
)
def test_bad_questions_are_refused_naming_the_field_and_nothing_is_written(
    world, fields, code, field
):
    fields = dict(fields)
    key = fields.pop("show_if_key", None)
    if key:
        fields["show_if_id"] = Question.objects.get(version=world.version, key=key).pk
    fields.setdefault("label", "新题目")
    section = Section.objects.filter(version=world.version).last()
    before = Question.objects.count()
    with pytest.raises(SurveyError) as error:
        services.question_save(
            actor=world.district_admin,
            template_id=world.template.pk,
            question_id=None,
            section_id=section.pk,
            **fields,
        )
    assert (error.value.code, error.value.field) == (code, field)
    assert str(error.value.message)
    assert Question.objects.count() == before


def test_a_condition_must_read_an_earlier_question(world):
    satisfaction = Question.objects.get(version=world.version, key="satisfaction")
    recommend = Question.objects.get(version=world.version, key="recommend")
    with pytest.raises(SurveyError) as error:
        services.question_save(
            actor=world.district_admin,
            template_id=world.template.pk,
            question_id=satisfaction.pk,
            section_id=satisfaction.section_id,
            kind="rating",
            label=satisfaction.label,
            show_if_id=recommend.pk,
            show_if_values=[9, 10],
        )
    assert error.value.code == "show_if_invalid"


def test_only_the_owner_edits_a_template(world):
    with pytest.raises(SurveyError) as error:
        services.section_save(
            actor=world.alliance_coordinator,
            template_id=world.template.pk,
            section_id=None,
            title="新部分",
        )
    assert error.value.code == "template_not_allowed"
    with pytest.raises(SurveyError) as error:
        services.template_create(actor=world.unit_coordinator, alliance_id=None, name="区问卷")
    assert error.value.code == "template_not_allowed"


def test_move_and_delete(world):
    format_q = Question.objects.get(version=world.version, key="format")
    services.question_move(
        actor=world.district_admin,
        template_id=world.template.pk,
        question_id=format_q.pk,
        direction="up",
    )
    order = [q.key for q in selectors.version_questions(world.version.pk)]
    assert order[:4] == ["satisfaction", "format", "recommend", "topics"]
    satisfaction = Question.objects.get(version=world.version, key="satisfaction")
    with pytest.raises(SurveyError) as error:
        services.question_delete(
            actor=world.district_admin, template_id=world.template.pk, question_id=satisfaction.pk
        )
    assert error.value.code == "question_is_condition"
    services.question_delete(
        actor=world.district_admin, template_id=world.template.pk, question_id=format_q.pk
    )
    assert not Question.objects.filter(version=world.version, key="format").exists()
