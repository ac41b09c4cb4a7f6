import datetime

import factory

from certificates.models import (
    Certificate,
    CertificateBatch,
    CertificateDesign,
    CertificatePreference,
    CertificateRule,
    Kind,
)
from members.tests.factories import AllianceFactory, GuardianFactory, MemberUnitFactory
from parent_school.tests.factories import TermFactory


class CertificateRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CertificateRule

    alliance = factory.SubFactory(AllianceFactory)
    kind = Kind.COURSE


class CertificateDesignFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CertificateDesign

    alliance = factory.SubFactory(AllianceFactory)
    issuer_name = factory.LazyAttribute(lambda o: o.alliance.name)


class CertificateBatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CertificateBatch

    alliance = factory.SubFactory(AllianceFactory)
    term = factory.SubFactory(TermFactory)
    trigger = CertificateBatch.Trigger.MANUAL


class CertificateFactory(factory.django.DjangoModelFactory):
    """A valid course certificate of a guardian's family. Its credential is empty:
    tests that need the signed one issue through ``services.certificate_issue``."""

    class Meta:
        model = Certificate

    class Params:
        guardian = factory.SubFactory(GuardianFactory)

    key = factory.Sequence(lambda n: f"test:{n}")
    kind = Kind.COURSE
    alliance = factory.SubFactory(AllianceFactory)
    unit = factory.SubFactory(MemberUnitFactory)
    term = factory.SubFactory(TermFactory)
    family = factory.LazyAttribute(lambda o: o.guardian.family)
    user = factory.LazyAttribute(lambda o: o.guardian.user)
    holder_name = "张晓华"
    subject_title = "亲子沟通的艺术"
    issued_on = factory.LazyFunction(lambda: datetime.date(2026, 1, 20))


class CertificatePreferenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CertificatePreference

    family = factory.SubFactory("members.tests.factories.FamilyFactory")
