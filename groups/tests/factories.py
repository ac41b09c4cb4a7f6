import factory
from django.utils import timezone

from bookings.tests.factories import OfferingFactory
from groups.models import Group, GroupMembership, GroupQuota, GroupSession
from members.tests.factories import FamilyFactory, UserFactory
from parent_school.tests.factories import ParentSchoolFactory


class GroupFactory(factory.django.DjangoModelFactory):
    """A bare row: tests that need its board or its counters use groups.services."""

    class Meta:
        model = Group

    kind = Group.Kind.FAMILY
    name = factory.Sequence(lambda n: f"测试小组{n}")
    parent_school = factory.SubFactory(ParentSchoolFactory)
    facilitator = factory.SubFactory(UserFactory)
    facilitator_role = Group.FacilitatorRole.INSTRUCTOR
    min_size = 2
    max_size = 6
    joining = Group.Joining.OPEN


class GroupMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GroupMembership

    group = factory.SubFactory(GroupFactory)
    family = factory.SubFactory(FamilyFactory)
    status = GroupMembership.Status.ACTIVE
    joined_at = factory.LazyFunction(timezone.now)


class GroupQuotaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GroupQuota

    key = factory.Sequence(lambda n: f"family:{n}:family")
    used = 0


class GroupSessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GroupSession

    group = factory.SubFactory(GroupFactory)
    offering = factory.SubFactory(OfferingFactory, kind="group_session")
    venue = "社区活动室"
