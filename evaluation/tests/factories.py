"""factory_boy factories for the evaluation app (one per model). Other apps'
tests import these.

Rows made here skip the services (no audit, no notice, no checks): tests of the
rules call ``evaluation.services``; these set up the world around them.
Append new factories at the end; keep the existing ones' behaviour stable.
"""

import datetime
from decimal import Decimal

import factory
from django.utils import timezone

from evaluation.models import (
    ActionUpdate,
    Feedback,
    ImprovementAction,
    Responsibility,
    UnitTarget,
    UnitTargetChange,
)
from members.tests.factories import MemberUnitFactory, UserFactory
from parent_school.tests.factories import TermFactory


class ResponsibilityFactory(factory.django.DjangoModelFactory):
    """A responsibility counted in sessions held, target 10 by default."""

    class Meta:
        model = Responsibility
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"test-responsibility-{n}")
    name = factory.Sequence(lambda n: f"测试职责{n}")
    metric = Responsibility.Metric.SESSIONS_HELD
    default_value = Decimal("10")
    position = factory.Sequence(lambda n: 1000 + n)


class UnitTargetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = UnitTarget

    unit = factory.SubFactory(MemberUnitFactory)
    term = factory.SubFactory(TermFactory)
    responsibility = factory.SubFactory(ResponsibilityFactory)
    value = factory.LazyAttribute(lambda o: o.responsibility.default_value)
    set_by = None
    set_at = factory.LazyFunction(timezone.now)


class FeedbackFactory(factory.django.DjangoModelFactory):
    """Feedback from the district, not yet acknowledged."""

    class Meta:
        model = Feedback

    unit = factory.SubFactory(MemberUnitFactory)
    term = factory.SubFactory(TermFactory)
    strengths = "课程安排规范，家长参与积极。"
    problems = "问卷回收率偏低。"
    written_by = factory.SubFactory(UserFactory)
    written_as = "区级"
    written_at = factory.LazyFunction(timezone.now)


class ImprovementActionFactory(factory.django.DjangoModelFactory):
    """A planned action due in two weeks."""

    class Meta:
        model = ImprovementAction

    unit = factory.SubFactory(MemberUnitFactory)
    term = factory.SubFactory(TermFactory)
    feedback = None
    what = factory.Sequence(lambda n: f"改进措施{n}")
    owner = "王老师"
    due_on = factory.LazyFunction(lambda: timezone.localdate() + datetime.timedelta(days=14))
    created_by = factory.SubFactory(UserFactory)
    created_at = factory.LazyFunction(timezone.now)


class ActionUpdateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ActionUpdate

    action = factory.SubFactory(ImprovementActionFactory)
    status = ImprovementAction.Status.IN_PROGRESS
    note = "已开始"
    by = factory.SubFactory(UserFactory)
    at = factory.LazyFunction(timezone.now)


class UnitTargetChangeFactory(factory.django.DjangoModelFactory):
    """A target first set by hand (no previous value)."""

    class Meta:
        model = UnitTargetChange

    unit = factory.SubFactory(MemberUnitFactory)
    term = factory.SubFactory(TermFactory)
    responsibility = factory.SubFactory(ResponsibilityFactory)
    previous = None
    value = factory.LazyAttribute(lambda o: o.responsibility.default_value)
    source = UnitTargetChange.Source.SET
    by = factory.SubFactory(UserFactory)
    at = factory.LazyFunction(timezone.now)
