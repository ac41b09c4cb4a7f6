from datetime import timedelta

import factory
from django.utils import timezone

from bookings.models import Offering
from members.tests.factories import MemberUnitFactory


class OfferingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Offering

    kind = Offering.Kind.COURSE_SESSION
    title = factory.Sequence(lambda n: f"测试场次{n}")
    unit = factory.SubFactory(MemberUnitFactory)
    starts_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=3))
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + timedelta(hours=2))
    capacity = 10
