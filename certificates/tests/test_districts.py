"""Two districts (issue 19): a district administrator of 镇海区 runs certificates
for their district's alliances (rules and designs in admin, the batch button,
revoking) and reaches nothing of the other district's alliance; the city
administrator reaches both."""

from __future__ import annotations

import pytest
from django.urls import reverse

from certificates.models import Certificate, CertificateBatch, CertificateRule, Kind
from certificates.tests.factories import (
    CertificateBatchFactory,
    CertificateFactory,
    CertificateRuleFactory,
)
from certificates.tests.issuing_world import build_issuing_world
from members.models import RoleAssignment
from members.tests.districts import staff_user
from members.tests.factories import RegionFactory

pytestmark = pytest.mark.django_db
Role = RoleAssignment.Role


@pytest.fixture
def w():
    w = build_issuing_world()
    ours = RegionFactory(name="镇海区", kind="district")
    theirs = RegionFactory(name="渝中区", kind="district")
    for row, district in (
        (w.alliance, ours),
        (w.school, ours),
        (w.base, ours),
        (w.other_alliance, theirs),
        (w.other_school, theirs),
    ):
        row.region = RegionFactory(parent=district)
        row.save(update_fields=["region"])
    w.zhenhai_admin = staff_user("镇海区教育局", Role.DISTRICT_ADMIN, region=ours)
    w.city_admin = staff_user("市教育局", Role.CITY_ADMIN)
    return w


def _cert(w, *, alliance, unit, guardian):
    return CertificateFactory(
        alliance=alliance,
        unit=unit,
        term=w.term,
        guardian=guardian,
        holder_name=f"{guardian.user.last_name}{guardian.user.first_name}",
    )


def test_district_admin_lists_and_revokes_their_districts_certificates_only(client, w):
    ours = _cert(w, alliance=w.alliance, unit=w.school, guardian=w.mum)
    theirs = _cert(w, alliance=w.other_alliance, unit=w.other_school, guardian=w.dad)
    client.force_login(w.zhenhai_admin)
    body = client.get(reverse("certificates:manage")).content.decode()
    assert ours.code_display in body and theirs.code_display not in body
    assert "开始发放" in body  # they issue for their district's alliance
    for name in ("certificates:revoke", "certificates:reissue"):
        assert client.get(reverse(name, args=[theirs.pk])).status_code == 404
    assert (
        client.post(reverse("certificates:revoke", args=[theirs.pk]), {"reason": "错发"})
    ).status_code == 404
    done = client.post(reverse("certificates:revoke", args=[ours.pk]), {"reason": "出勤有误"})
    assert done.status_code == 302
    ours.refresh_from_db()
    theirs.refresh_from_db()
    assert (ours.status, theirs.status) == ("revoked", "valid")

    # the admin list: the same scope
    listed = client.get(reverse("admin:certificates_certificate_changelist"))
    assert list(listed.context["cl"].result_list) == [ours]
    change = reverse("admin:certificates_certificate_change", args=[theirs.pk])
    assert client.get(change).status_code == 404

    client.force_login(w.city_admin)
    listed = client.get(reverse("admin:certificates_certificate_changelist"))
    assert set(listed.context["cl"].result_list) == {ours, theirs}


def test_district_admin_starts_batches_for_their_districts_alliance_only(client, w):
    CertificateRuleFactory(alliance=w.alliance, kind=Kind.COURSE)
    CertificateRuleFactory(alliance=w.other_alliance, kind=Kind.COURSE)
    their_batch = CertificateBatchFactory(alliance=w.other_alliance, term=w.term)
    client.force_login(w.zhenhai_admin)
    foreign = client.post(
        reverse("certificates:batch_start"), {"alliance": w.other_alliance.pk, "term": w.term.pk}
    )
    assert foreign.status_code == 400
    assert not CertificateBatch.objects.filter(requested_by=w.zhenhai_admin).exists()
    response = client.post(
        reverse("certificates:batch_start"), {"alliance": w.alliance.pk, "term": w.term.pk}
    )
    assert response.status_code == 302
    batch = CertificateBatch.objects.get(requested_by=w.zhenhai_admin)
    assert batch.alliance == w.alliance
    assert client.get(reverse("certificates:batch", args=[batch.pk])).status_code == 200
    assert client.get(reverse("certificates:batch", args=[their_batch.pk])).status_code == 404
    batches = client.get(reverse("admin:certificates_certificatebatch_changelist"))
    assert list(batches.context["cl"].result_list) == [batch]

    # the city starts the other district's
    client.force_login(w.city_admin)
    response = client.post(
        reverse("certificates:batch_start"), {"alliance": w.other_alliance.pk, "term": w.term.pk}
    )
    assert response.status_code == 302


def test_district_admin_sets_rules_for_their_districts_alliance_in_admin(client, w):
    theirs = CertificateRuleFactory(alliance=w.other_alliance, kind=Kind.COURSE)
    client.force_login(w.zhenhai_admin)
    add = reverse("admin:certificates_certificaterule_add")
    form = client.get(add).context["adminform"].form
    assert list(form.fields["alliance"].queryset) == [w.alliance]
    data = {
        "alliance": w.alliance.pk,
        "kind": Kind.CREDITS,
        "is_active": "on",
        "attendance_percent": "100",
        "lessons_required": "on",
        "credits_min": "6",
        "hours_min": "",
    }
    assert client.post(add, data).status_code == 302
    assert CertificateRule.objects.get(alliance=w.alliance).kind == Kind.CREDITS
    # the other district's alliance: not offered, not reachable
    response = client.post(add, {**data, "alliance": w.other_alliance.pk})
    assert response.status_code == 200
    assert not CertificateRule.objects.filter(alliance=w.other_alliance, kind=Kind.CREDITS).exists()
    rules = client.get(reverse("admin:certificates_certificaterule_changelist"))
    assert theirs not in list(rules.context["cl"].result_list)
    change = reverse("admin:certificates_certificaterule_change", args=[theirs.pk])
    assert client.get(change).status_code == 404
    design = client.get(reverse("admin:certificates_certificatedesign_add")).context["adminform"]
    assert list(design.form.fields["alliance"].queryset) == [w.alliance]
    assert Certificate.objects.count() == 0
