"""factory_boy factories for the members app. Other apps' tests import these.

Append new factories at the end; keep the existing ones' behaviour stable.
"""

import factory
from django.contrib.auth import get_user_model

from members.models import (
    Alliance,
    Child,
    Family,
    Guardian,
    Membership,
    MemberUnit,
    Region,
    RoleAssignment,
    SchoolStage,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.cn")
    phone = factory.Sequence(lambda n: f"139{n:08d}")
    password = factory.django.Password("correct-horse-battery")


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region

    name = factory.Sequence(lambda n: f"测试街道{n}")
    kind = Region.Kind.STREET


class MemberUnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MemberUnit

    name = factory.Sequence(lambda n: f"测试单位{n}")
    kind = MemberUnit.Kind.PRIMARY_SCHOOL
    region = factory.SubFactory(RegionFactory)
    contact_name = "王老师"
    contact_phone = "13812341234"


class AllianceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Alliance

    name = factory.Sequence(lambda n: f"测试协同育人联盟{n}")
    short_name = factory.Sequence(lambda n: f"联盟{n}")
    region = factory.SubFactory(RegionFactory)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    alliance = factory.SubFactory(AllianceFactory)
    unit = factory.SubFactory(MemberUnitFactory)
    role = Membership.Role.MEMBER


class RoleAssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoleAssignment

    user = factory.SubFactory(UserFactory)
    role = RoleAssignment.Role.UNIT_COORDINATOR
    unit = factory.SubFactory(MemberUnitFactory)


class FamilyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Family


class GuardianFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Guardian

    user = factory.SubFactory(UserFactory)
    family = factory.SubFactory(FamilyFactory)
    relation = Guardian.Relation.MOTHER
    phone = factory.LazyAttribute(lambda o: o.user.phone or "")


class ChildFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Child

    family = factory.SubFactory(FamilyFactory)
    nickname = factory.Sequence(lambda n: f"小朋友{n}")
    birth_year = 2016
    stage = SchoolStage.PRIMARY


class ApiTokenFactory:
    """Tokens are made only through the service (the key is hashed there): ``create``
    returns (row, raw key)."""

    @staticmethod
    def create(*, user=None, scopes=("read", "write"), unit=None, name="测试令牌"):
        from members.services import api_token_create

        return api_token_create(
            user=user or UserFactory(), name=name, scopes=list(scopes), unit=unit
        )
