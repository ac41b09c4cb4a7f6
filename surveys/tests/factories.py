"""factory_boy factories for the surveys app. Other apps' tests import these.

Rows made here skip the services (no invitations, no versioning checks, no
release batches): tests of the rules call ``surveys.services``; these set up
the world around them. Append new factories at the end; keep the existing
ones' behaviour stable.
"""

from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from members.tests.factories import FamilyFactory, MemberUnitFactory
from parent_school.tests.factories import TermFactory
from surveys.models import (
    Answer,
    Invitation,
    Participation,
    Question,
    Response,
    Section,
    Survey,
    SurveyTemplate,
    TemplateVersion,
)


class SurveyTemplateFactory(factory.django.DjangoModelFactory):
    """A district template (``alliance=None``) unless given one; no version yet
    (``with_questions`` below makes version 1 with the usual five questions)."""

    class Meta:
        model = SurveyTemplate

    alliance = None
    name = factory.Sequence(lambda n: f"测试问卷{n}")
    description = "测试用的问卷模板"


class TemplateVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TemplateVersion

    template = factory.SubFactory(SurveyTemplateFactory)
    number = 1


class SectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Section

    version = factory.SubFactory(TemplateVersionFactory)
    title = factory.Sequence(lambda n: f"第{n}部分")
    position = factory.Sequence(lambda n: n)


class QuestionFactory(factory.django.DjangoModelFactory):
    """A required 1–5 rating in its own section unless told otherwise."""

    class Meta:
        model = Question

    section = factory.SubFactory(SectionFactory)
    version = factory.LazyAttribute(lambda o: o.section.version)
    key = factory.Sequence(lambda n: f"q{n}")
    kind = Question.Kind.RATING
    label = factory.Sequence(lambda n: f"测试题目{n}")
    required = True
    position = factory.Sequence(lambda n: n)


def with_questions(template: SurveyTemplate | None = None, *, number: int = 1) -> TemplateVersion:
    """Version ``number`` of ``template`` (a new district template if None) with
    the questions most tests need, keys fixed so tests can answer by key:

    * ``satisfaction`` rating 1–5, required, the satisfaction measure;
    * ``recommend`` NPS 0–10, required;
    * ``format`` single choice (讲座 / 案例研讨 / 亲子实践), required;
    * ``topics`` multiple choice (沟通 / 学习习惯 / 情绪 / 安全), optional;
    * ``why_low`` long text, optional, shown only when ``satisfaction`` is 1 or 2;
    * ``suggestion`` short text, optional.
    """
    template = template or SurveyTemplateFactory()
    version = TemplateVersionFactory(template=template, number=number)
    first = SectionFactory(version=version, title="总体评价", position=0)
    second = SectionFactory(version=version, title="意见建议", position=1)
    satisfaction = QuestionFactory(
        section=first,
        key="satisfaction",
        label="您对本次课程的总体满意度",
        measure=Question.Measure.SATISFACTION,
        position=0,
    )
    QuestionFactory(
        section=first,
        key="recommend",
        kind=Question.Kind.NPS,
        label="您向其他家长推荐的可能性",
        position=1,
    )
    QuestionFactory(
        section=first,
        key="format",
        kind=Question.Kind.SINGLE,
        label="您最喜欢的形式",
        options=["讲座", "案例研讨", "亲子实践"],
        position=2,
    )
    QuestionFactory(
        section=first,
        key="topics",
        kind=Question.Kind.MULTIPLE,
        label="您希望下次讲哪些主题",
        options=["沟通", "学习习惯", "情绪", "安全"],
        required=False,
        position=3,
    )
    QuestionFactory(
        section=second,
        key="why_low",
        kind=Question.Kind.LONG_TEXT,
        label="哪些地方让您不满意",
        required=False,
        show_if=satisfaction,
        show_if_values=[1, 2],
        position=0,
    )
    QuestionFactory(
        section=second,
        key="suggestion",
        kind=Question.Kind.SHORT_TEXT,
        label="其他建议",
        required=False,
        position=1,
    )
    return version


class SurveyFactory(factory.django.DjangoModelFactory):
    """A published, named term survey of a parent school, open now for a week.
    Pass ``scope`` with ``offering`` (session/event), ``course`` or ``alliance``
    for the other kinds; ``unit`` and ``term`` are not derived here."""

    class Meta:
        model = Survey

    template = factory.SubFactory(SurveyTemplateFactory)
    # Pinned, as survey_create does, to the template's newest version (version 1
    # made here when the template has none yet).
    version = factory.LazyAttribute(
        lambda o: (
            o.template.versions.order_by("-number").first()
            or TemplateVersionFactory(template=o.template)
        )
    )
    title = factory.Sequence(lambda n: f"测试问卷调查{n}")
    scope = Survey.Scope.PARENT_SCHOOL_TERM
    parent_school = factory.SubFactory("parent_school.tests.factories.ParentSchoolFactory")
    term = factory.SubFactory(TermFactory)
    unit = factory.SubFactory(MemberUnitFactory)
    opens_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
    closes_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))
    is_published = True


class InvitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invitation

    survey = factory.SubFactory(SurveyFactory)
    family = factory.SubFactory(FamilyFactory)
    invited_at = factory.LazyFunction(timezone.now)


class ParticipationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Participation

    survey = factory.SubFactory(SurveyFactory)
    family = factory.SubFactory(FamilyFactory)
    answered_at = factory.LazyFunction(timezone.now)


class ResponseFactory(factory.django.DjangoModelFactory):
    """A named, submitted response (no answers: add AnswerFactory rows)."""

    class Meta:
        model = Response

    survey = factory.SubFactory(SurveyFactory)
    version = factory.SubFactory(TemplateVersionFactory)
    family = factory.SubFactory(FamilyFactory)
    submitted_at = factory.LazyFunction(timezone.now)


class AnswerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Answer

    response = factory.SubFactory(ResponseFactory)
    question = factory.SubFactory(QuestionFactory)
    number = 4
