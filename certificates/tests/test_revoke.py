"""Revoking and re-issuing (services.certificate_revoke, certificate_reissue) and
setting rules (services.rule_update): only coordinators who manage the row, only
a valid certificate, audit-logged, the holder told once, the status list changed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from certificates import credentials, services
from certificates.errors import CertificateError
from certificates.models import Certificate, CertificateRule
from certificates.tests.issuing_world import (
    build_issuing_world,
    mums_course_certificate,
)
from events.models import Notice
from members.models import AuditLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def w():
    return build_issuing_world()


@pytest.fixture
def issued(w):
    """张晓华's course certificate, with her child's nickname on it (she opted in)."""
    certificate = mums_course_certificate(w)
    return certificate


def test_revoking_is_audited_told_and_published(w, issued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        revoked = services.certificate_revoke(
            user=w.coordinator, certificate=issued, reason="  出勤记录有误  "
        )

    stored = Certificate.objects.get(pk=issued.pk)
    assert (stored.status, stored.revoke_reason, stored.revoked_by) == (
        "revoked",
        "出勤记录有误",
        w.coordinator,
    )
    assert stored.revoked_at is not None and revoked.pk == issued.pk
    log = AuditLog.objects.get(action="certificates.certificate.revoke")
    assert (log.actor, log.target_id, log.data["reason"]) == (
        w.coordinator,
        str(issued.pk),
        "出勤记录有误",
    )
    notice = Notice.objects.get(key=f"certificates.revoked:{issued.pk}")
    assert "出勤记录有误" not in notice.subject + notice.lead  # the reason stays with staff
    status_list = credentials.status_list_credential(stored.status_list_number)
    assert credentials.credential_status(stored.credential, status_list) == "revoked"


def test_only_a_valid_certificate_the_user_manages_can_be_revoked(w, issued):
    for user in (w.other_coordinator, w.mum.user):
        with pytest.raises(CertificateError) as raised:
            services.certificate_revoke(user=user, certificate=issued, reason="错发")
        assert raised.value.code == "certificate_missing"
    with pytest.raises(CertificateError) as raised:
        services.certificate_revoke(user=w.coordinator, certificate=issued, reason=" ")
    assert (raised.value.code, raised.value.field) == ("reason_required", "reason")
    with pytest.raises(CertificateError) as raised:
        services.certificate_revoke(user=w.coordinator, certificate=issued, reason="长" * 201)
    assert raised.value.code == "reason_too_long"
    assert Certificate.objects.get(pk=issued.pk).status == "valid"

    # the school's unit coordinator manages what the school issued
    services.certificate_revoke(user=w.unit_coordinator, certificate=issued.pk, reason="错发")
    with pytest.raises(CertificateError) as raised:
        services.certificate_revoke(user=w.coordinator, certificate=issued, reason="再撤一次")
    assert raised.value.code == "not_valid"
    with pytest.raises(CertificateError) as raised:
        services.certificate_reissue(user=w.coordinator, certificate=issued)
    assert raised.value.code == "not_valid"


def test_reissue_makes_a_new_revision_and_the_old_one_superseded(
    w, issued, django_capture_on_commit_callbacks
):
    # the guardian corrected her name; and she no longer wants the nickname shown
    w.mum.user.first_name = "小华"
    w.mum.user.save()
    assert issued.child_nickname == "小雨点"
    w.mum.family.certificate_preference.child_nickname_shown = False
    w.mum.family.certificate_preference.save()

    with django_capture_on_commit_callbacks(execute=True):
        new = services.certificate_reissue(
            user=w.coordinator, certificate=issued, reason="更正姓名"
        )

    old = Certificate.objects.get(pk=issued.pk)
    assert (old.status, old.superseded_by_id) == ("superseded", new.pk)
    assert (new.key, new.revision, new.status) == (issued.key, 2, "valid")
    assert new.code != old.code and new.uuid != old.uuid
    assert (new.holder_name, new.child_nickname) == ("张小华", "")
    assert (new.subject_title, new.credits, new.term_id) == (
        old.subject_title,
        old.credits,
        old.term_id,
    )
    assert new.credential and credentials.credential_verify(new.credential).ok
    assert Certificate.objects.get(pk=new.pk).pdf  # rendered after the commit
    assert Notice.objects.filter(key=f"certificates.reissued:{new.pk}").count() == 1
    log = AuditLog.objects.get(action="certificates.certificate.reissue")
    assert log.data["old"] == old.pk and log.data["reason"] == "更正姓名"

    # re-issued again: a chain, one current certificate per key
    newer = services.certificate_reissue(user=w.district_admin, certificate=new)
    assert newer.revision == 3
    assert Certificate.objects.filter(key=issued.key).exclude(status="superseded").get() == newer
    assert Certificate.objects.get(pk=new.pk).superseded_by == newer


def test_a_rule_is_made_on_first_use_and_checked(w):
    rule = services.rule_update(
        user=w.coordinator, alliance=w.alliance, kind="credits", credits_min="6"
    )
    assert (rule.alliance, rule.kind, rule.credits_min, rule.is_active) == (
        w.alliance,
        "credits",
        Decimal("6.0"),
        True,
    )
    same = services.rule_update(
        user=w.coordinator, alliance=w.alliance.pk, kind="credits", is_active=False
    )
    assert same.pk == rule.pk and not same.is_active and same.credits_min == Decimal("6.0")
    assert AuditLog.objects.filter(action="certificates.rule.update").count() == 2

    cases = [
        ({"kind": "credits", "credits_min": "0"}, "credits_min_invalid"),
        ({"kind": "credits", "credits_min": "abc"}, "credits_min_invalid"),
        ({"kind": "credits", "credits_min": "NaN"}, "credits_min_invalid"),
        ({"kind": "credits", "credits_min": None, "is_active": True}, "credits_min_required"),
        ({"kind": "volunteer"}, "hours_min_required"),
        ({"kind": "course", "attendance_percent": 0}, "attendance_percent_invalid"),
        ({"kind": "course", "attendance_percent": "一百"}, "attendance_percent_invalid"),
        ({"kind": "transcript"}, "kind_invalid"),
    ]
    for fields, code in cases:
        with pytest.raises(CertificateError) as raised:
            services.rule_update(user=w.coordinator, alliance=w.alliance, **fields)
        assert raised.value.code == code, fields
    for user in (w.unit_coordinator, w.other_coordinator, w.mum.user):
        with pytest.raises(CertificateError) as raised:
            services.rule_update(user=user, alliance=w.alliance, kind="course")
        assert raised.value.code == "not_allowed"
    assert CertificateRule.objects.count() == 1
