"""``manage.py load_demo`` gives 溪口协同育人联盟 certificate rules and a seal, and
issues the term's certificates through the services; a second run changes nothing."""

import io

import pytest
from django.core.management import call_command
from PIL import Image

from certificates.credentials import credential_verify
from certificates.models import Certificate, CertificateBatch, CertificateDesign, CertificateRule

pytestmark = pytest.mark.django_db


def _rows():
    return {
        "rules": list(CertificateRule.objects.order_by("pk").values_list()),
        "designs": list(CertificateDesign.objects.order_by("pk").values_list()),
        "batches": list(CertificateBatch.objects.order_by("pk").values_list()),
        "certificates": list(
            Certificate.objects.order_by("pk").values_list(
                "pk", "key", "revision", "code", "status", "holder_name", "credential"
            )
        ),
    }


def test_the_demo_issues_certificates_once(django_capture_on_commit_callbacks):
    # when the demo is loaded (with what runs after its commit)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("load_demo", stdout=io.StringIO())
    first = _rows()

    # then 溪口 has its rules and a design with a transparent seal PNG
    assert set(CertificateRule.objects.values_list("kind", flat=True)) == {"course", "credits"}
    assert CertificateDesign.objects.get().seal
    for design in CertificateDesign.objects.all():
        with design.seal.open("rb") as handle, Image.open(handle) as seal:
            assert seal.format == "PNG" and seal.mode == "RGBA"
            assert seal.getextrema()[3][0] == 0  # a transparent ground
    # and the coordinator's button issued the term's certificates, signed
    batches = CertificateBatch.objects.all()
    assert batches.count() == 1
    assert {b.status for b in batches} == {CertificateBatch.Status.DONE}
    assert {b.trigger for b in batches} == {CertificateBatch.Trigger.MANUAL}
    parent = Certificate.objects.get(user__username="demo_parent", kind="credits")
    assert credential_verify(parent.credential).ok
    assert parent.holder_name == "溪口家长（演示）" and parent.credits >= 5

    # when it is loaded again, nothing changes
    with django_capture_on_commit_callbacks(execute=True):
        call_command("load_demo", stdout=io.StringIO())
    assert _rows() == first
