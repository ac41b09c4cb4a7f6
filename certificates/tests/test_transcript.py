"""The credit-bank transcript (services.transcript_issue, certificates/transcripts.py
and the holder's CSV and JSON downloads): every credit by term with course, date
and reason; asking again with nothing new is the same transcript; new credits
make a new one that replaces the old; the exports are escaped and audit-logged."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from certificates import services
from certificates.credentials import credential_verify
from certificates.errors import CertificateError
from certificates.models import Certificate, Kind
from certificates.tests.factories import CertificateFactory
from certificates.tests.issuing_world import build_issuing_world, credit
from courses.tests.factories import CourseFactory
from members.models import AuditLog
from members.tests.factories import GuardianFactory
from parent_school.models import Term
from parent_school.tests.factories import TermFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def w():
    world = build_issuing_world()
    credit(world.mum, world.course, 2)
    return world


def test_the_transcript_freezes_every_credit_by_term(w):
    today = timezone.localdate()
    earlier = TermFactory(
        code="t2024-2025-2",
        school_year="2024–2025",
        semester=Term.Semester.SECOND,
        starts_on=today - dt.timedelta(days=400),
        ends_on=today - dt.timedelta(days=250),
    )
    old_course = CourseFactory(parent_school=w.parent_school, term=earlier, title="=SUM(A1)")
    credit(w.mum, old_course, "1.5")

    transcript, created = services.transcript_issue(user=w.mum.user)

    assert created and transcript.kind == Kind.TRANSCRIPT
    assert transcript.family == w.mum.family and transcript.holder_name == "张晓华"
    assert (transcript.alliance, transcript.unit) == (w.alliance, w.base)
    rows = transcript.data["rows"]
    assert [(r["term"], r["course"], r["credits"]) for r in rows] == [
        (str(earlier), "=SUM(A1)", "1.5"),
        (str(w.term), "亲子沟通的艺术", "2"),
    ]
    assert {r["reason"] for r in rows} == {"出席课程"}
    assert transcript.credits == Decimal("3.5") and transcript.data["total"] == "3.5"
    check = credential_verify(transcript.credential)
    assert check.ok
    assert len(transcript.credential["credentialSubject"]["transcript"]["rows"]) == 2


def test_asking_again_is_the_same_and_new_credits_replace_it(w):
    first, _ = services.transcript_issue(user=w.mum.user)
    again, created = services.transcript_issue(user=w.mum.user)
    assert (again.pk, created) == (first.pk, False)

    credit(w.mum, w.course, 1)
    newer, created = services.transcript_issue(user=w.mum.user)

    assert created and newer.pk != first.pk and newer.credits == Decimal("3")
    old = Certificate.objects.get(pk=first.pk)
    assert (old.status, old.superseded_by_id) == (Certificate.Status.SUPERSEDED, newer.pk)
    assert Certificate.objects.filter(family=w.mum.family, status="valid").get() == newer


def test_a_second_guardian_sees_the_familys_transcript(w):
    transcript, _ = services.transcript_issue(user=w.mum.user)
    partner = GuardianFactory(family=w.mum.family)
    again, created = services.transcript_issue(user=partner.user)
    # Each guardian's names them; neither replaces the other's.
    assert created and again.holder_name != transcript.holder_name
    assert again.data["rows"] == transcript.data["rows"]
    assert Certificate.objects.get(pk=transcript.pk).status == Certificate.Status.VALID
    from certificates.selectors import transcript_current

    assert transcript_current(w.mum.user) == transcript
    assert transcript_current(partner.user) == again


def test_without_credits_or_a_family_there_is_a_clear_message(w):
    with pytest.raises(CertificateError) as no_credits:
        services.transcript_issue(user=w.dad.user)
    assert no_credits.value.code == "no_credits" and "学分" in no_credits.value.message
    from members.tests.factories import UserFactory

    with pytest.raises(CertificateError) as no_family:
        services.transcript_issue(user=UserFactory())
    assert no_family.value.code == "family_missing"
    assert not Certificate.objects.filter(kind=Kind.TRANSCRIPT).exists()


def test_a_revoked_transcript_is_not_issued_again_unchanged(w):
    transcript, _ = services.transcript_issue(user=w.mum.user)
    services.certificate_revoke(user=w.coordinator, certificate=transcript, reason="学分有误")
    with pytest.raises(CertificateError) as refused:
        services.transcript_issue(user=w.mum.user)
    assert refused.value.code == "transcript_revoked" and w.base.name in refused.value.message
    credit(w.mum, w.course, 1)  # corrected: a new one may be made
    newer, created = services.transcript_issue(user=w.mum.user)
    assert created and Certificate.objects.get(pk=transcript.pk).status == "revoked"


def test_the_page_button_and_the_downloads(client, w):
    client.force_login(w.mum.user)
    answer = client.post(reverse("certificates:transcript"), follow=True)
    assert "成绩单已生成" in answer.content.decode()
    transcript = Certificate.objects.get(kind=Kind.TRANSCRIPT)
    assert reverse("certificates:transcript_csv", args=[transcript.pk]) in answer.content.decode()

    download = client.get(reverse("certificates:transcript_csv", args=[transcript.pk]))
    assert download.status_code == 200 and download["Content-Disposition"].startswith("attach")
    text = b"".join(download.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["course"], r["credits"], r["reason_code"]) for r in rows] == [
        ("亲子沟通的艺术", "2", "attendance")
    ]
    assert rows[0]["certificate_code"] == transcript.code

    document = client.get(reverse("certificates:transcript_json", args=[transcript.pk]))
    body = json.loads(document.content)
    assert body["certificate"]["code"] == transcript.code
    assert body["total_credits"] == "2" and body["entries"][0]["course"] == "亲子沟通的艺术"
    assert credential_verify(body["credential"]).ok
    logged = AuditLog.objects.filter(action="certificates.transcript.export")
    assert sorted(logged.values_list("data__format", flat=True)) == ["csv", "json"]


def test_a_formula_in_a_course_title_is_escaped_in_the_csv(client, w):
    formula = CourseFactory(parent_school=w.parent_school, term=w.term, title="=HYPERLINK(1)")
    credit(w.mum, formula, 1)
    transcript, _ = services.transcript_issue(user=w.mum.user)
    client.force_login(w.mum.user)
    download = client.get(reverse("certificates:transcript_csv", args=[transcript.pk]))
    text = b"".join(download.streaming_content).decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in text and ",=HYPERLINK" not in text


def test_another_family_and_a_non_transcript_are_not_found(client, w):
    transcript, _ = services.transcript_issue(user=w.mum.user)
    client.force_login(w.dad.user)
    for name in ("transcript_csv", "transcript_json", "pdf"):
        assert client.get(reverse(f"certificates:{name}", args=[transcript.pk])).status_code == 404
    client.force_login(w.mum.user)
    course_certificate = CertificateFactory(guardian=w.mum, alliance=w.alliance, unit=w.base)
    for name in ("transcript_csv", "transcript_json"):
        url = reverse(f"certificates:{name}", args=[course_certificate.pk])
        assert client.get(url).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_two_guardians_asking_at_once_get_one_transcript():
    from django.db import connection

    from tests.races import run_together

    assert connection.vendor == "postgresql"
    w = build_issuing_world()
    credit(w.mum, w.course, 2)

    def ask():
        certificate, created = services.transcript_issue(user=w.mum.user)
        return certificate.pk, created

    outcome = run_together([ask, ask], meet_before_write=["members_family"])

    assert outcome.errors == []
    (first, first_created), (second, second_created) = outcome.results
    assert first == second and sorted([first_created, second_created]) == [False, True]
    assert Certificate.objects.filter(kind=Kind.TRANSCRIPT).count() == 1
