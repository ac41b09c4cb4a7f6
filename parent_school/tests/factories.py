import datetime

import factory

from members.tests.factories import MemberUnitFactory, RegionFactory
from parent_school.models import BrandProgramme, Instructor, ParentSchool, Target, Term


class TermFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Term
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"20{25 + n}-20{26 + n}-1")
    school_year = factory.Sequence(lambda n: f"20{25 + n}–20{26 + n}")
    semester = Term.Semester.FIRST
    starts_on = datetime.date(2025, 9, 1)
    ends_on = datetime.date(2026, 1, 31)


class ParentSchoolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ParentSchool

    name = factory.Sequence(lambda n: f"测试家长学校{n}")
    kind = ParentSchool.Kind.COMMUNITY
    host_unit = factory.SubFactory(MemberUnitFactory)
    region = factory.SubFactory(RegionFactory)


class TargetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Target

    parent_school = factory.SubFactory(ParentSchoolFactory)
    term = factory.SubFactory(TermFactory)


class InstructorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Instructor

    name = factory.Sequence(lambda n: f"讲师{n}")
    tier = Instructor.Tier.LECTURER
    specialties = ["family_education"]
    unit = factory.SubFactory(MemberUnitFactory)


class BrandProgrammeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BrandProgramme

    name = factory.Sequence(lambda n: f"品牌{n}")
    owner_unit = factory.SubFactory(MemberUnitFactory)
