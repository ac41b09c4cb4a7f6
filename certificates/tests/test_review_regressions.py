"""Defects a review found in issuing, each with the scenario that showed it:
deleting an account that holds a certificate, a batch's lock on the term,
learning families without an issuing unit, a volunteer's issuer, a transcript
whose rows come back to an earlier state, and who is told of a transcript."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection, transaction

from certificates import services
from certificates.eligibility import candidates
from certificates.models import Certificate, CertificateBatch, Kind
from certificates.tests.factories import (
    CertificateBatchFactory,
    CertificateFactory,
    CertificateRuleFactory,
)
from certificates.tests.issuing_world import build_issuing_world, credit, guardian
from events.models import Delivery, Notice
from members.services import account_delete
from members.tests.factories import AllianceFactory, GuardianFactory, UserFactory
from parent_school.tests.factories import InstructorFactory, TermFactory
from recognition.models import LearningFamilyList
from recognition.tests.factories import LearningFamilyEntryFactory, LearningFamilyListFactory
from volunteers.models import ServiceHour
from volunteers.tests.factories import ServiceHourFactory


@pytest.mark.django_db
def test_a_holder_deletes_their_account_and_the_certificate_still_verifies(client):
    holder = GuardianFactory()
    certificate = CertificateFactory(guardian=holder, holder_name="张晓华")
    volunteer = UserFactory()
    service = CertificateFactory(
        guardian=GuardianFactory(), family=None, user=volunteer, kind=Kind.VOLUNTEER
    )

    account_delete(user=holder.user)
    account_delete(user=volunteer)

    kept = Certificate.objects.get(pk=certificate.pk)
    assert (kept.family_id, kept.user_id) == (None, None)
    assert Certificate.objects.get(pk=service.pk).user_id is None
    page = client.get(f"/v/{certificate.code}/").content.decode()
    assert "张*华" in page and 'data-status="valid"' in page


@pytest.mark.django_db(transaction=True)
def test_a_chunk_in_progress_leaves_the_term_to_other_alliances():
    term = TermFactory()
    first, second, third = AllianceFactory(), AllianceFactory(), AllianceFactory()
    for alliance in (first, second, third):
        CertificateRuleFactory(alliance=alliance, kind=Kind.COURSE)
    working = CertificateBatchFactory(alliance=first, term=term)
    waiting = CertificateBatchFactory(alliance=second, term=term)
    # worker 1 holds its batch's row lock, as inside a chunk
    with transaction.atomic():
        sql, params = (
            CertificateBatch.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("alliance", "term")
            .filter(pk=working.pk)
            .query.sql_with_params()
        )
    db = connection.settings_dict
    other = psycopg.connect(
        dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"] or 5432
    )
    try:
        cursor = other.cursor()
        cursor.execute(sql, params)
        assert cursor.fetchall()

        # another alliance's batch of the same term is worked meanwhile
        services.batch_run_chunk(batch_id=waiting.pk)
        assert CertificateBatch.objects.get(pk=waiting.pk).status == "done"
        # and a write that references the term is not held up
        services.batch_start(alliance=third, term=term, trigger=CertificateBatch.Trigger.TERM_END)
    finally:
        other.rollback()
        other.close()


@pytest.mark.django_db
def test_a_learning_family_without_an_issuer_does_not_end_the_batch_early():
    w = build_issuing_world()
    w.alliance.base_unit = None
    w.alliance.save()
    CertificateRuleFactory(alliance=w.alliance, kind=Kind.LEARNING_FAMILY)
    published = LearningFamilyListFactory(
        alliance=w.alliance, term=w.term, status=LearningFamilyList.Status.PUBLISHED
    )
    families = sorted(
        (guardian("王", f"芳{i}", "", None)[0] for i in range(3)), key=lambda g: str(g.family_id)
    )
    LearningFamilyEntryFactory(family_list=published, family=families[0].family, unit=None)
    for g in families[1:]:
        LearningFamilyEntryFactory(family_list=published, family=g.family, unit=w.school)

    batch = services.batch_start(
        alliance=w.alliance,
        term=w.term,
        trigger=CertificateBatch.Trigger.MANUAL,
        user=w.coordinator,
    )
    while services.batch_run_chunk(batch_id=batch.pk, limit=1):
        pass

    batch.refresh_from_db()
    assert (batch.status, batch.total, batch.issued) == ("done", 2, 2)
    assert sorted(Certificate.objects.values_list("family_id", flat=True)) == sorted(
        g.family_id for g in families[1:]
    )


@pytest.mark.django_db
def test_a_volunteer_is_certified_by_the_unit_they_served_not_their_home_unit():
    w = build_issuing_world()
    w.alliance.base_unit = None
    w.alliance.save()
    rule = CertificateRuleFactory(alliance=w.alliance, kind=Kind.VOLUNTEER, hours_min=1)
    volunteer = InstructorFactory(
        unit=w.other_school, user=UserFactory(), is_volunteer=True, name="何丽"
    )
    ServiceHourFactory(
        instructor=volunteer,
        term=w.term,
        hours=5,
        status=ServiceHour.Status.VERIFIED,
        unit=w.school,
    )

    (found,) = candidates(rule, w.term, limit=10)

    assert found.unit_id == w.school.pk


@pytest.mark.django_db
def test_a_transcript_whose_rows_come_back_is_a_new_revision_not_busy():
    w = build_issuing_world()
    credit(w.mum, w.course, 2)
    first, _ = services.transcript_issue(user=w.mum.user)
    title = w.course.title
    w.course.title = title + "（修订）"
    w.course.save()
    services.transcript_issue(user=w.mum.user)
    w.course.title = title
    w.course.save()

    again, created = services.transcript_issue(user=w.mum.user)

    assert created and again.key == first.key and again.revision == 2
    assert Certificate.objects.get(pk=first.pk).status == Certificate.Status.SUPERSEDED


@pytest.mark.django_db
def test_a_transcript_is_told_to_the_guardian_it_names_only():
    w = build_issuing_world()
    credit(w.mum, w.course, 2)
    partner = GuardianFactory(family=w.mum.family)

    transcript, _ = services.transcript_issue(user=w.mum.user)

    notice = Notice.objects.get(key=f"certificates.issued:{transcript.pk}")
    told = set(Delivery.objects.filter(notice=notice).values_list("user_id", flat=True))
    assert told == {w.mum.user_id} and partner.user_id not in told
