"""Issuing one certificate (services.certificate_issue): once per key, signed,
the holder told once, the PDF rendered after the commit or on demand."""

from __future__ import annotations

import pytest

from certificates import credentials, services
from certificates.eligibility import candidates
from certificates.models import Certificate, Kind
from certificates.tests.factories import CertificateRuleFactory
from certificates.tests.issuing_world import build_issuing_world, finish_course
from events.models import Notice

pytestmark = pytest.mark.django_db


@pytest.fixture
def w():
    return build_issuing_world()


def _mums_candidate(w):
    finish_course(w, w.mum)
    rule = CertificateRuleFactory(alliance=w.alliance, kind=Kind.COURSE)
    (candidate,) = candidates(rule, w.term, limit=10)
    return candidate


def test_issuing_writes_the_signed_certificate_and_tells_the_family_once(w):
    candidate = _mums_candidate(w)

    certificate, created = services.certificate_issue(
        candidate=candidate, alliance=w.alliance, term=w.term
    )

    assert created
    assert (certificate.key, certificate.revision, certificate.status) == (
        candidate.key,
        1,
        "valid",
    )
    assert (certificate.family, certificate.user, certificate.unit) == (
        w.mum.family,
        w.mum.user,
        w.school,
    )
    assert (certificate.holder_name, certificate.subject_title) == ("张晓华", "亲子沟通的艺术")
    assert certificate.course == w.course and str(certificate.credits) == "2.0"
    stored = Certificate.objects.get(pk=certificate.pk)
    assert stored.credential and credentials.credential_verify(stored.credential).ok
    notice = Notice.objects.get(key=f"certificates.issued:{certificate.pk}")
    assert "亲子沟通的艺术" in notice.subject
    for phone in w.phones():
        assert phone not in notice.subject + notice.lead

    again, created_again = services.certificate_issue(
        candidate=candidate, alliance=w.alliance, term=w.term
    )
    assert (again.pk, created_again) == (certificate.pk, False)
    assert Certificate.objects.count() == 1
    assert Notice.objects.filter(key__startswith="certificates.issued:").count() == 1


def test_a_revoked_or_reissued_key_gets_nothing_new(w):
    candidate = _mums_candidate(w)
    first, _ = services.certificate_issue(candidate=candidate, alliance=w.alliance, term=w.term)
    services.certificate_revoke(user=w.coordinator, certificate=first, reason="出勤记录有误")

    again, created = services.certificate_issue(
        candidate=candidate, alliance=w.alliance, term=w.term
    )

    assert (again.pk, again.status, created) == (first.pk, "revoked", False)
    assert Certificate.objects.count() == 1


def test_the_pdf_is_rendered_after_the_commit_under_the_uuid(w, django_capture_on_commit_callbacks):
    candidate = _mums_candidate(w)
    with django_capture_on_commit_callbacks(execute=True):
        certificate, _ = services.certificate_issue(
            candidate=candidate, alliance=w.alliance, term=w.term
        )
    certificate.refresh_from_db()
    assert certificate.pdf.name == f"certificates/pdf/{certificate.uuid}.pdf"
    assert certificate.pdf_rendered_at is not None
    with certificate.pdf.open("rb") as handle:
        assert handle.read(5) == b"%PDF-"

    # rendered again (a new design): the same file name, replaced
    services.certificate_render(certificate_id=certificate.pk)
    certificate.refresh_from_db()
    assert certificate.pdf.name == f"certificates/pdf/{certificate.uuid}.pdf"


def test_a_download_before_the_worker_renders_on_demand_once(w, django_assert_max_num_queries):
    candidate = _mums_candidate(w)
    certificate, _ = services.certificate_issue(
        candidate=candidate, alliance=w.alliance, term=w.term
    )  # the render task was never run (no commit in this test)
    assert not certificate.pdf

    ensured = services.certificate_pdf_ensure(certificate)

    assert ensured.pdf.name == f"certificates/pdf/{certificate.uuid}.pdf"
    rendered_at = Certificate.objects.get(pk=certificate.pk).pdf_rendered_at
    assert rendered_at is not None
    with django_assert_max_num_queries(0):
        services.certificate_pdf_ensure(ensured)  # there: nothing rendered again
    assert Certificate.objects.get(pk=certificate.pk).pdf_rendered_at == rendered_at


def test_a_volunteer_is_told_personally_and_the_family_holder_through_the_family(w):
    from decimal import Decimal

    from certificates.eligibility import Candidate

    volunteer = Candidate(
        key=f"volunteer:{w.alliance.pk}:{w.term.pk}:user:{w.dad.user_id}",
        kind=Kind.VOLUNTEER,
        unit_id=w.base.pk,
        holder_name="李建国",
        subject_title="志愿服务 6.0 小时",
        user_id=w.dad.user_id,
        hours=Decimal("6.0"),
    )
    certificate, created = services.certificate_issue(
        candidate=volunteer, alliance=w.alliance, term=w.term
    )
    assert created and certificate.family is None and certificate.hours == Decimal("6.0")
    notice = Notice.objects.get(key=f"certificates.issued:{certificate.pk}")
    assert notice.unit_id == w.base.pk


def test_render_of_a_missing_certificate_is_a_clear_error():
    from certificates.errors import CertificateError

    with pytest.raises(CertificateError) as raised:
        services.certificate_render(certificate_id=987654321)
    assert raised.value.code == "certificate_missing"


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_first_issues_of_one_key_write_one_certificate():
    from django.db import connection

    from tests.races import run_together

    assert connection.vendor == "postgresql"
    w = build_issuing_world()
    candidate = _mums_candidate(w)

    def issue():
        certificate, created = services.certificate_issue(
            candidate=candidate, alliance=w.alliance, term=w.term
        )
        return certificate.pk, created

    outcome = run_together([issue, issue], meet_before_write=["certificates_certificate"])

    assert outcome.met == 2 and outcome.errors == []
    (first_pk, first_created), (second_pk, second_created) = outcome.results
    assert first_pk == second_pk
    assert sorted([first_created, second_created]) == [False, True]
    assert Certificate.objects.filter(key=candidate.key).count() == 1
    assert Notice.objects.filter(key=f"certificates.issued:{first_pk}").count() == 1
    assert Certificate.objects.get(pk=first_pk).credential
