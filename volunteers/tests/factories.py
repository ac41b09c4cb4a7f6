import factory
from django.utils import timezone

from members.tests.factories import MemberUnitFactory, UserFactory
from parent_school.tests.factories import InstructorFactory, TermFactory
from volunteers.models import ServiceHour, VolunteerApplication


class VolunteerApplicationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VolunteerApplication

    user = factory.SubFactory(UserFactory)
    centre = factory.SubFactory(MemberUnitFactory, kind="guidance_centre")
    name = factory.Sequence(lambda n: f"申请人{n}")
    background = "小学语文教师，从事家庭教育指导五年。"
    expertise = "亲子沟通"
    areas = ["family_education"]
    availability = "周末下午"


class ServiceHourFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceHour

    instructor = factory.SubFactory(InstructorFactory, is_volunteer=True)
    term = factory.SubFactory(TermFactory)
    source = ServiceHour.Source.MANUAL
    unit = factory.SelfAttribute("instructor.unit")
    served_on = factory.LazyFunction(timezone.localdate)
    hours = 2
    status = ServiceHour.Status.PENDING
