import datetime as dt

import factory
from django.utils import timezone

from bookings.tests.factories import OfferingFactory
from guidance.models import (
    Consultation,
    FollowUp,
    GuidanceQuota,
    LimitLift,
    Mentor,
    Note,
    Referral,
    Slot,
    SlotKind,
    SlotPattern,
    Station,
)
from members.tests.factories import FamilyFactory, MemberUnitFactory
from parent_school.tests.factories import TermFactory


class StationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Station

    unit = factory.SubFactory(MemberUnitFactory, kind="guidance_centre")
    name = factory.Sequence(lambda n: f"成长指导站{n}")


class MentorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Mentor

    station = factory.SubFactory(StationFactory)
    name = factory.Sequence(lambda n: f"导师{n}")
    title = "心理健康教育教师"
    areas = ["mental_health"]
    audiences = ["parent", "student"]
    modes = ["in_person", "online"]


class SlotPatternFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SlotPattern

    mentor = factory.SubFactory(MentorFactory)
    weekday = 2
    starts_time = dt.time(15, 0)
    minutes = 50
    kind = SlotKind.ONE_TO_ONE
    capacity = 1
    mode = Mentor.Mode.IN_PERSON
    venue = "指导站咨询室"
    first_date = factory.LazyFunction(lambda: timezone.localdate())


class SlotFactory(factory.django.DjangoModelFactory):
    """A bare row: its offering's unit is the station's; booking goes through
    guidance.services."""

    class Meta:
        model = Slot

    mentor = factory.SubFactory(MentorFactory)
    offering = factory.SubFactory(
        OfferingFactory,
        kind="consultation",
        capacity=1,
        unit=factory.SelfAttribute("..mentor.station.unit"),
    )
    occurs_on = factory.LazyAttribute(lambda o: timezone.localtime(o.offering.starts_at).date())
    kind = SlotKind.ONE_TO_ONE
    mode = Mentor.Mode.IN_PERSON
    venue = "指导站咨询室"


class ReferralFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Referral

    consultation = factory.SubFactory("guidance.tests.factories.ConsultationFactory")
    to_area = "family_education"


class ConsultationFactory(factory.django.DjangoModelFactory):
    """A bare row with a bare booking; the tallies are not raised (use
    guidance.services.consultation_book for that)."""

    class Meta:
        model = Consultation

    slot = factory.SubFactory(SlotFactory)
    mentor = factory.SelfAttribute("slot.mentor")
    station = factory.SelfAttribute("slot.mentor.station")
    family = factory.SubFactory(FamilyFactory)
    booking = factory.LazyAttribute(
        lambda o: __import__("bookings.models", fromlist=["Booking"]).Booking.objects.create(
            offering=o.slot.offering, family=o.family, status="confirmed", party_size=1
        )
    )
    for_whom = Consultation.ForWhom.PARENT
    area = "mental_health"
    need_sealed = factory.LazyFunction(
        lambda: __import__("members.sealing", fromlist=["seal"]).seal(
            "孩子最近不愿意上学", purpose="guidance.need"
        )
    )


class NoteFactory(factory.django.DjangoModelFactory):
    """A summary in clear; sealed levels go through guidance.services.note_write."""

    class Meta:
        model = Note

    consultation = factory.SubFactory(ConsultationFactory)
    level = Note.Level.SUMMARY
    body = "本次咨询讨论了作息安排。"


class FollowUpFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FollowUp

    consultation = factory.SubFactory(ConsultationFactory)
    due_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(days=7))
    message = "两周后我们再聊聊孩子的作息。"


class GuidanceQuotaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GuidanceQuota

    station = factory.SubFactory(StationFactory)
    family = factory.SubFactory(FamilyFactory)
    key = factory.LazyAttribute(lambda o: f"open:{o.station.pk}:{o.family.pk}")
    used = 0
    max_used = 2


class LimitLiftFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LimitLift

    station = factory.SubFactory(StationFactory)
    family = factory.SubFactory(FamilyFactory)
    term = factory.SubFactory(TermFactory)
    extra_open = 1
