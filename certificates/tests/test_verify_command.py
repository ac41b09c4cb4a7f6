"""certificate_verify: a downloaded credential (JSON or inside the PDF) verifies
against the key and the status list, fails if one character changes, exits 2 when
revoked and 3 when the status cannot be checked; certificate_key shows the key."""

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from pypdf import PdfWriter

from certificates import credentials
from certificates.models import Certificate
from certificates.tests.factories import CertificateFactory


def _run(*args) -> str:
    out = io.StringIO()
    call_command("certificate_verify", *args, stdout=out)
    return out.getvalue()


def _exit_code(*args) -> tuple[int, str]:
    with pytest.raises(CommandError) as excinfo:
        _run(*args)
    return excinfo.value.returncode, str(excinfo.value)


@pytest.fixture
def issued(tmp_path):
    cert = CertificateFactory(holder_name="张晓华")
    document = credentials.credential_for(cert)
    path = tmp_path / "credential.json"
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
    status = tmp_path / "status.json"
    status.write_text(json.dumps(credentials.status_list_build(cert.status_list_number)))
    return cert, document, path, status


@pytest.mark.django_db
def test_valid_json_and_pdf(issued, tmp_path):
    cert, document, path, status = issued
    output = _run(str(path), "--status-list", str(status))
    assert "证书有效" in output and "Valid" in output and "张*华" in output
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.add_attachment("credential.json", json.dumps(document).encode())
    pdf = tmp_path / "证书.pdf"
    with pdf.open("wb") as stream:
        writer.write(stream)
    key = credentials.public_key_multibase()
    assert "证书有效" in _run(str(pdf), "--status-list", str(status), "--public-key", key)
    assert "未查撤销状态" in _run(str(pdf), "--offline")


@pytest.mark.django_db
def test_one_changed_character_fails(issued):
    cert, document, path, status = issued
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("亲子沟通的艺术", "亲子沟通的艺朮", 1), encoding="utf-8")
    code, message = _exit_code(str(path), "--status-list", str(status))
    assert code == 1 and "签名不符" in message
    path.write_text(text[:-5], encoding="utf-8")
    assert _exit_code(str(path), "--offline")[0] == 1
    path.write_text(text, encoding="utf-8")
    code, message = _exit_code(
        str(path), "--offline", "--public-key", "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
    )
    assert code == 1 and "公钥" in message


@pytest.mark.django_db
def test_revoked_exits_2_and_unchecked_status_exits_3(issued, tmp_path, settings):
    cert, document, path, status = issued
    Certificate.objects.filter(pk=cert.pk).update(
        status=Certificate.Status.REVOKED, revoked_at=timezone.now()
    )
    fresh = tmp_path / "fresh.json"
    fresh.write_text(json.dumps(credentials.status_list_build(cert.status_list_number)))
    code, message = _exit_code(str(path), "--status-list", str(fresh))
    assert code == 2 and "已被撤销" in message
    # A list that is not the credential's (another number) cannot answer.
    other = tmp_path / "other.json"
    other.write_text(json.dumps(credentials.status_list_build(cert.status_list_number + 1)))
    assert _exit_code(str(path), "--status-list", str(other))[0] == 3
    # The list's URL does not answer (nothing listens on port 9): exit 3, not a crash.
    settings.PORTAL_BASE_URL = "http://127.0.0.1:9"
    unreachable = credentials.credential_for(Certificate.objects.get(pk=cert.pk))
    path.write_text(json.dumps(unreachable))
    code, message = _exit_code(str(path))
    assert code == 3 and "--offline" in message


@pytest.mark.django_db
def test_certificate_key_prints_key_and_generates_a_seed():
    out = io.StringIO()
    call_command("certificate_key", stdout=out)
    assert credentials.public_key_multibase() in out.getvalue()
    assert credentials.issuer_id() in out.getvalue()
    out = io.StringIO()
    call_command("certificate_key", "--generate", stdout=out)
    seed = out.getvalue().splitlines()[0].split("=", 1)[1]
    assert len(seed) == 43
