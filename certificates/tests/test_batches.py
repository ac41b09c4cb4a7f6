"""Batches (services.batch_start, batch_run_chunk, term_end_batches): chunks in
key order over the alliance's active rules with progress on the batch row, once
per key, one open batch per alliance and term, one term-end batch."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from certificates import services
from certificates.errors import CertificateError
from certificates.models import Certificate, CertificateBatch, Kind
from certificates.tests.factories import CertificateRuleFactory
from certificates.tests.issuing_world import (
    attend,
    build_issuing_world,
    credit,
    ended_term,
    finish_course,
    guardian,
)

pytestmark = pytest.mark.django_db

MANUAL = CertificateBatch.Trigger.MANUAL
TERM_END = CertificateBatch.Trigger.TERM_END


@pytest.fixture
def w():
    return build_issuing_world()


def _five_candidates(w):
    """Three course finishers (张, 李 and one more) and two credit earners."""
    CertificateRuleFactory(alliance=w.alliance, kind=Kind.COURSE, lessons_required=False)
    CertificateRuleFactory(alliance=w.alliance, kind=Kind.CREDITS, credits_min=2)
    third = guardian("王", "芳", "", None)[0]
    for g in (w.mum, w.dad, third):
        for session in w.sessions:
            attend(g, session)
    credit(w.mum, w.course, 2)
    credit(w.dad, w.course, 3)


def test_a_batch_works_in_chunks_with_progress_and_issues_once(w):
    _five_candidates(w)
    batch = services.batch_start(
        alliance=w.alliance, term=w.term, trigger=MANUAL, user=w.coordinator
    )
    assert batch.status == "queued"

    assert services.batch_run_chunk(batch_id=batch.pk, limit=2) is True
    batch.refresh_from_db()
    assert (batch.status, batch.total, batch.processed, batch.issued) == ("running", 5, 2, 2)
    assert batch.cursor["kind"] == "course" and batch.cursor["after"].startswith("course:")

    assert services.batch_run_chunk(batch_id=batch.pk, limit=2) is True
    batch.refresh_from_db()
    assert (batch.processed, batch.cursor["kind"]) == (4, "credits")
    assert services.batch_run_chunk(batch_id=batch.pk, limit=2) is False
    batch.refresh_from_db()
    assert (batch.status, batch.processed, batch.issued, batch.skipped) == ("done", 5, 5, 0)
    assert batch.finished_at is not None
    assert Certificate.objects.filter(batch=batch).count() == 5
    assert set(Certificate.objects.values_list("kind", flat=True)) == {"course", "credits"}
    # a done batch does no more
    assert services.batch_run_chunk(batch_id=batch.pk) is False

    # a second run of the alliance and term skips everyone
    second = services.batch_start(
        alliance=w.alliance, term=w.term, trigger=MANUAL, user=w.coordinator
    )
    assert second.pk != batch.pk
    while services.batch_run_chunk(batch_id=second.pk, limit=3):
        pass
    second.refresh_from_db()
    assert (second.status, second.total, second.issued, second.skipped) == ("done", 5, 0, 5)
    assert Certificate.objects.count() == 5


def test_the_whole_batch_runs_through_the_tasks_after_the_commit(
    w, settings, django_capture_on_commit_callbacks
):
    settings.CERTIFICATES_BATCH_CHUNK = 2
    _five_candidates(w)
    with django_capture_on_commit_callbacks(execute=True):
        batch = services.batch_start(
            alliance=w.alliance, term=w.term, trigger=MANUAL, user=w.coordinator
        )
    batch.refresh_from_db()
    assert (batch.status, batch.issued) == ("done", 5)
    # each certificate's PDF was rendered by its own task after its chunk's commit
    assert not Certificate.objects.filter(pdf="").exists()


def test_one_open_batch_per_alliance_and_term(w):
    CertificateRuleFactory(alliance=w.alliance, kind=Kind.COURSE)
    first = services.batch_start(
        alliance=w.alliance, term=w.term, trigger=MANUAL, user=w.coordinator
    )
    again = services.batch_start(
        alliance=w.alliance, term=w.term, trigger=MANUAL, user=w.district_admin
    )
    term_end = services.batch_start(alliance=w.alliance, term=w.term, trigger=TERM_END)
    assert first.pk == again.pk == term_end.pk
    assert CertificateBatch.objects.count() == 1


def test_who_may_start_a_batch(w):
    CertificateRuleFactory(alliance=w.alliance, kind=Kind.COURSE)
    for user in (w.unit_coordinator, w.other_coordinator, w.mum.user):
        with pytest.raises(CertificateError) as raised:
            services.batch_start(alliance=w.alliance, term=w.term, trigger=MANUAL, user=user)
        assert raised.value.code == "alliance_missing"
    with pytest.raises(CertificateError) as raised:
        services.batch_start(
            alliance=w.other_alliance, term=w.term, trigger=MANUAL, user=w.coordinator
        )
    assert raised.value.code == "alliance_missing"
    with pytest.raises(CertificateError) as raised:
        services.batch_start(alliance=w.alliance, term=987654, trigger=MANUAL, user=w.coordinator)
    assert (raised.value.code, raised.value.field) == ("term_missing", "term")
    with pytest.raises(CertificateError) as raised:
        services.batch_start(alliance=w.alliance, term=w.term, trigger="x", user=w.coordinator)
    assert raised.value.code == "trigger_invalid"
    assert not CertificateBatch.objects.exists()


def test_a_switched_off_rule_is_not_run_and_no_rules_is_refused(w):
    rule = CertificateRuleFactory(alliance=w.alliance, kind=Kind.COURSE, is_active=False)
    with pytest.raises(CertificateError) as raised:
        services.batch_start(alliance=w.alliance, term=w.term, trigger=MANUAL, user=w.coordinator)
    assert raised.value.code == "no_rules"
    rule.is_active = True
    rule.save()
    finish_course(w, w.mum)
    batch = services.batch_start(
        alliance=w.alliance, term=w.term, trigger=MANUAL, user=w.coordinator
    )
    rule.is_active = False  # switched off after the start: the batch ends, issuing nothing
    rule.save()
    assert services.batch_run_chunk(batch_id=batch.pk) is False
    batch.refresh_from_db()
    assert (batch.status, batch.issued) == ("done", 0)


def test_term_end_batches_once_per_alliance_and_recently_ended_term(w):
    CertificateRuleFactory(alliance=w.alliance, kind=Kind.COURSE)
    CertificateRuleFactory(alliance=w.other_alliance, kind=Kind.COURSE, is_active=False)
    old = ended_term(days_ago=20, current=False)
    running = ended_term(days_ago=-10, current=False)  # ends in ten days

    started = services.term_end_batches()

    assert len(started) == 1
    batch = CertificateBatch.objects.get(pk=started[0])
    assert (batch.alliance, batch.term, batch.trigger) == (w.alliance, w.term, "term_end")
    assert not CertificateBatch.objects.filter(term__in=[old, running]).exists()
    # the next morning, and after that batch is done: no second term-end batch
    assert services.term_end_batches() == []
    CertificateBatch.objects.filter(pk=batch.pk).update(status="done")
    assert services.term_end_batches() == []
    # weeks after both terms: too late for the beat (the button still works)
    later = timezone.localdate() + dt.timedelta(days=30)
    CertificateBatch.objects.all().delete()
    assert services.term_end_batches(today=later) == []


def test_a_failed_batch_lets_a_new_one_start(w):
    CertificateRuleFactory(alliance=w.alliance, kind=Kind.COURSE)
    batch = services.batch_start(
        alliance=w.alliance, term=w.term, trigger=MANUAL, user=w.coordinator
    )
    services.batch_fail(batch_id=batch.pk, error="RuntimeError: worker lost")
    batch.refresh_from_db()
    assert (batch.status, batch.error) == ("failed", "RuntimeError: worker lost")
    assert services.batch_run_chunk(batch_id=batch.pk) is False
    again = services.batch_start(
        alliance=w.alliance, term=w.term, trigger=MANUAL, user=w.coordinator
    )
    assert again.pk != batch.pk and again.status == "queued"


def test_a_chunk_costs_a_bounded_number_of_queries_per_candidate(w, django_assert_max_num_queries):
    CertificateRuleFactory(alliance=w.alliance, kind=Kind.COURSE, lessons_required=False)
    families = [guardian("赵", f"{i}", "", None)[0] for i in range(10)]
    for g in families:
        for session in w.sessions:
            attend(g, session)
    batch = services.batch_start(
        alliance=w.alliance, term=w.term, trigger=MANUAL, user=w.coordinator
    )
    services.batch_run_chunk(batch_id=batch.pk, limit=1)
    with django_assert_max_num_queries(10 + 20 * 9):
        services.batch_run_chunk(batch_id=batch.pk, limit=9)
    batch.refresh_from_db()
    assert (batch.processed, batch.issued) == (10, 10)
