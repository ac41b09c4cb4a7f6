"""The certificates admin: rules saved through rule_update, certificates and
batches read-only, every list, page and picker scoped to the user's alliances."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from certificates.models import (
    Certificate,
    CertificateBatch,
    CertificateDesign,
    CertificateRule,
    Kind,
)
from certificates.tests.factories import (
    CertificateBatchFactory,
    CertificateFactory,
    CertificateRuleFactory,
)
from certificates.tests.issuing_world import build_issuing_world
from members.models import AuditLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def w():
    return build_issuing_world()


def _url(model, name, *args):
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{name}", args=args)


def _rule_data(w, **extra):
    data = {
        "alliance": w.alliance.pk,
        "kind": Kind.CREDITS,
        "is_active": "on",
        "attendance_percent": "100",
        "lessons_required": "on",
        "credits_min": "6",
        "hours_min": "",
    }
    data.update(extra)
    return {k: v for k, v in data.items() if v is not None}


def test_a_rule_added_in_the_admin_goes_through_the_service(client, w):
    client.force_login(w.coordinator)

    response = client.post(_url(CertificateRule, "add"), _rule_data(w))

    assert response.status_code == 302, response.content.decode()[:2000]
    rule = CertificateRule.objects.get()
    assert (rule.alliance, rule.kind, rule.credits_min) == (w.alliance, "credits", Decimal("6.0"))
    log = AuditLog.objects.get(action="certificates.rule.update")
    assert log.actor == w.coordinator and log.data["credits_min"] == "6.0"


def test_a_rule_the_service_refuses_shows_on_its_field_and_writes_nothing(client, w):
    client.force_login(w.coordinator)

    no_threshold = client.post(_url(CertificateRule, "add"), _rule_data(w, credits_min=""))
    assert no_threshold.status_code == 200
    assert "启用学期学分达标证书须填写学分门槛" in no_threshold.content.decode()
    too_fine = client.post(_url(CertificateRule, "add"), _rule_data(w, credits_min="1.25"))
    assert "credits_min" in too_fine.context["adminform"].form.errors
    foreign = client.post(_url(CertificateRule, "add"), _rule_data(w, alliance=w.other_alliance.pk))
    assert foreign.status_code == 200
    assert not CertificateRule.objects.exists()
    assert not AuditLog.objects.filter(action="certificates.rule.update").exists()


def test_a_rule_is_changed_through_the_service_and_its_alliance_and_kind_stay(client, w):
    rule = CertificateRuleFactory(alliance=w.alliance, kind=Kind.COURSE)
    client.force_login(w.coordinator)
    url = _url(CertificateRule, "change", rule.pk)

    bad = client.post(url, {"attendance_percent": "0", "is_active": "on"})
    assert bad.status_code == 200
    rule.refresh_from_db()
    assert rule.attendance_percent == 100

    ok = client.post(
        url,
        {
            "alliance": w.other_alliance.pk,  # read-only: ignored
            "kind": "volunteer",  # read-only: ignored
            "attendance_percent": "80",
            "is_active": "on",
            "mentions_child": "on",
        },
    )
    assert ok.status_code == 302
    rule.refresh_from_db()
    assert (rule.alliance, rule.kind, rule.attendance_percent) == (w.alliance, "course", 80)
    assert rule.mentions_child and not rule.lessons_required
    assert client.post(_url(CertificateRule, "delete", rule.pk), {"post": "yes"}).status_code == 403


def test_rules_and_batches_of_another_alliance_are_not_there(client, w):
    mine = CertificateRuleFactory(alliance=w.alliance, kind=Kind.COURSE)
    theirs = CertificateRuleFactory(alliance=w.other_alliance, kind=Kind.COURSE)
    my_batch = CertificateBatchFactory(alliance=w.alliance, term=w.term)
    their_batch = CertificateBatchFactory(alliance=w.other_alliance, term=w.term)
    client.force_login(w.coordinator)

    rules = client.get(_url(CertificateRule, "changelist"))
    assert list(rules.context["cl"].result_list) == [mine]
    assert client.get(_url(CertificateRule, "change", theirs.pk)).status_code == 404
    batches = client.get(_url(CertificateBatch, "changelist"))
    assert list(batches.context["cl"].result_list) == [my_batch]
    assert client.get(_url(CertificateBatch, "change", their_batch.pk)).status_code == 404
    assert client.get(_url(CertificateBatch, "add")).status_code == 403
    # the add form's alliance picker offers only the coordinator's alliance
    form = client.get(_url(CertificateRule, "add")).context["adminform"].form
    assert list(form.fields["alliance"].queryset) == [w.alliance]


def test_a_unit_coordinator_has_no_rules_or_batches_but_sees_the_units_certificates(client, w):
    CertificateRuleFactory(alliance=w.alliance, kind=Kind.COURSE)
    school_cert = CertificateFactory(alliance=w.alliance, unit=w.school, guardian=w.mum)
    CertificateFactory(alliance=w.alliance, unit=w.base, guardian=w.dad)
    client.force_login(w.unit_coordinator)

    assert client.get(_url(CertificateRule, "changelist")).status_code == 403
    assert client.get(_url(CertificateBatch, "changelist")).status_code == 403
    listed = client.get(_url(Certificate, "changelist"))
    assert list(listed.context["cl"].result_list) == [school_cert]


def test_certificates_are_read_only_and_link_to_the_revoke_page(client, w):
    certificate = CertificateFactory(
        alliance=w.alliance, unit=w.school, term=w.term, guardian=w.mum, holder_name="张晓华"
    )
    foreign = CertificateFactory(alliance=w.other_alliance, unit=w.other_school, guardian=w.dad)
    client.force_login(w.coordinator)

    page = client.get(_url(Certificate, "change", certificate.pk))
    body = page.content.decode()
    assert page.status_code == 200
    assert reverse("certificates:revoke", args=[certificate.pk]) in body
    assert 'name="_save"' not in body
    for phone in w.phones():
        assert phone not in body
    client.post(_url(Certificate, "change", certificate.pk), {"holder_name": "改过的名字"})
    certificate.refresh_from_db()
    assert certificate.holder_name == "张晓华"
    assert client.get(_url(Certificate, "add")).status_code == 403
    delete = client.post(_url(Certificate, "delete", certificate.pk), {"post": "yes"})
    assert delete.status_code == 403 and Certificate.objects.filter(pk=certificate.pk).exists()
    assert client.get(_url(Certificate, "change", foreign.pk)).status_code == 404
    listed = client.get(_url(Certificate, "changelist"), {"q": certificate.code})
    assert list(listed.context["cl"].result_list) == [certificate]


def test_a_district_administrator_sees_every_alliance(client, w):
    CertificateRuleFactory(alliance=w.alliance, kind=Kind.COURSE)
    CertificateRuleFactory(alliance=w.other_alliance, kind=Kind.COURSE)
    client.force_login(w.district_admin)
    rules = client.get(_url(CertificateRule, "changelist"))
    assert len(rules.context["cl"].result_list) == 2
    assert client.get(_url(CertificateRule, "add")).status_code == 200
    assert client.get(reverse("admin:index")).status_code == 200


def test_a_design_is_saved_through_the_service_for_the_coordinators_alliance(client, w):
    client.force_login(w.coordinator)
    data = {"alliance": w.alliance.pk, "issuer_name": " 镇海区 教育局 ", "signatory": "王校长"}

    response = client.post(_url(CertificateDesign, "add"), data)

    assert response.status_code == 302
    design = CertificateDesign.objects.get()
    assert (design.alliance, design.issuer_name, design.signatory) == (
        w.alliance,
        "镇海区 教育局",
        "王校长",
    )
    assert AuditLog.objects.filter(action="certificates.design.update", actor=w.coordinator)
    foreign = client.post(_url(CertificateDesign, "add"), {**data, "alliance": w.other_alliance.pk})
    assert foreign.status_code == 200 and CertificateDesign.objects.count() == 1
    change = client.post(
        _url(CertificateDesign, "change", design.pk),
        {"issuer_name": "镇海联盟", "alliance": w.other_alliance.pk},
    )
    assert change.status_code == 302
    design.refresh_from_db()
    assert (design.alliance, design.issuer_name, design.signatory) == (w.alliance, "镇海联盟", "")
