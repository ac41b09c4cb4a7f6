"""factory_boy factories for the recognition app. Other apps' tests import these.

Rows made here skip the services (no audit, no computation): tests of the rules
call ``recognition.services``; these set up the world around them.
Append new factories at the end; keep the existing ones' behaviour stable.
"""

import factory

from members.tests.factories import (
    AllianceFactory,
    FamilyFactory,
    GuardianFactory,
    MemberUnitFactory,
)
from parent_school.tests.factories import TermFactory
from recognition.models import (
    Commendation,
    LearningFamilyEntry,
    LearningFamilyList,
    LearningFamilyRule,
)


class LearningFamilyRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LearningFamilyRule
        django_get_or_create = ("alliance", "term")

    alliance = factory.SubFactory(AllianceFactory)
    term = factory.SubFactory(TermFactory)
    min_credits = 2
    min_points = 4
    min_home_items = 1
    min_school_items = 0
    min_behaviour_items = 0
    min_sessions = 1
    no_open_rejection = True


class LearningFamilyListFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LearningFamilyList
        django_get_or_create = ("alliance", "term")

    alliance = factory.SubFactory(AllianceFactory)
    term = factory.SubFactory(TermFactory)


class LearningFamilyEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LearningFamilyEntry

    family_list = factory.SubFactory(LearningFamilyListFactory)
    family = factory.SubFactory(FamilyFactory)
    unit = factory.SubFactory(MemberUnitFactory)
    display_name = factory.Sequence(lambda n: f"王*{n}家庭")
    qualifies = True
    included = True


class CommendationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Commendation

    alliance = factory.SubFactory(AllianceFactory)
    term = factory.SubFactory(TermFactory)
    guardian = factory.SubFactory(GuardianFactory)
    family = factory.LazyAttribute(lambda o: o.guardian.family)
    unit = factory.SubFactory(MemberUnitFactory)
    reason = "积极参加家长学校，带动身边家长"
