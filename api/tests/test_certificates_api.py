"""我的证书 and the credit-bank transcript through the API: the holder lists and
opens their own certificates (another family's id is a 404 like a missing one),
downloads the PDF and the signed credential, asks for the transcript (the same
one again while nothing is new, a new one that replaces it after a new credit,
and a retried request with its Idempotency-Key answered, not repeated), and
exports it as JSON that follows docs/schemas/credit-transcript.schema.json,
audit-logged. No answer holds a phone, a child's nickname or the full name."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from pathlib import Path

import jsonschema_rs
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from certificates import services
from certificates.credentials import credential_verify
from certificates.models import Certificate, Kind
from certificates.tests.factories import CertificateFactory
from certificates.tests.issuing_world import (
    build_issuing_world,
    credit,
    mums_course_certificate,
)
from certificates.transcripts import SCHEMA_ID
from courses.models import CreditEntry
from members.models import ApiToken, AuditLog
from members.tests.factories import ApiTokenFactory

pytestmark = pytest.mark.django_db

API = "/api/v1/certificates"
MISSING_ID = 2**31 - 2
SCHEMA_FILE = Path(settings.BASE_DIR) / "docs" / "schemas" / "credit-transcript.schema.json"
# Measured: the token, its use marked, the caller's guardian, their family, the page
# (alliance, unit and term joined).
LIST_MAX_QUERIES = 5


@pytest.fixture(autouse=True)
def _no_rate_limits(settings):
    settings.API_RATE_PER_TOKEN = 1_000_000
    settings.API_RATE_PER_IP = 1_000_000


@pytest.fixture
def w():
    return build_issuing_world()


@pytest.fixture
def issued(w):
    """张晓华's course certificate, with her child's nickname on it (she opted in)."""
    certificate = mums_course_certificate(w)
    assert certificate.child_nickname == "小雨点"
    return certificate


def _client(user, scopes=("read", "write"), **extra):
    _, raw = ApiTokenFactory.create(user=user, scopes=scopes, **extra)
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def _transcript(client, key: str | None = None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(f"{API}/transcript", "{}", content_type="application/json", **headers)


def _text(response) -> str:
    return json.dumps(response.json(), ensure_ascii=False)


def _private_bits(w) -> list[str]:
    phone = w.mum.user.phone
    return [phone, "张晓华", "张妈妈", "小雨点", w.mum_child.nickname]


def _validator():
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert jsonschema_rs.meta.is_valid(schema)  # a valid draft 2020-12 schema itself
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True)


# --- my certificates -------------------------------------------------------------------


def test_the_holder_lists_and_opens_their_certificates_and_nothing_private(w, issued):
    client = _client(w.mum.user)

    listed = client.get(API)

    assert listed.status_code == 200, listed.content
    body = listed.json()
    assert [c["id"] for c in body["items"]] == [issued.pk]
    card = body["items"][0]
    assert card["code"] == issued.code and card["code_display"] == issued.code_display
    assert (card["kind"], card["kind_label"]) == ("course", "完成课程")
    assert card["title"] == "亲子沟通的艺术" and card["holder_masked"] == "张*华"
    assert card["term"] == str(w.term)
    assert (card["alliance"], card["unit"]) == (w.alliance.name, issued.unit.name)
    assert card["issued_on"] == issued.issued_on.isoformat()
    assert Decimal(card["credits"]) == issued.credits
    assert (card["status"], card["status_label"], card["revoked_on"]) == ("valid", "有效", None)
    assert card["verification_url"].endswith(f"/v/{issued.code}/")
    assert card["pdf_url"].endswith(f"{API}/{issued.pk}/pdf")
    assert card["credential_url"].endswith(f"{API}/{issued.pk}/credential")
    assert card["transcript_url"] is None

    detail = client.get(f"{API}/{issued.pk}")
    assert detail.status_code == 200, detail.content
    assert detail.json() == {**card, "current_code": None}

    for answer in (listed, detail):
        text = _text(answer)
        for private in _private_bits(w):
            assert private not in text

    # another family sees none of it
    assert [c["id"] for c in _client(w.dad.user).get(API).json()["items"]] == []


def test_another_familys_certificate_is_a_404_like_a_missing_one(w, issued):
    other = _client(w.dad.user)
    for suffix in ("", "/pdf", "/credential", "/transcript.json"):
        theirs = other.get(f"{API}/{issued.pk}{suffix}")
        missing = other.get(f"{API}/{MISSING_ID}{suffix}")
        assert theirs.status_code == 404, (suffix, theirs.content)
        assert theirs.json()["code"] == "certificate_missing"
        assert theirs.json() == missing.json(), suffix
    assert not AuditLog.objects.filter(action="certificates.transcript.export").exists()


def test_the_pdf_and_the_signed_credential_download(w, issued):
    client = _client(w.mum.user)

    pdf = client.get(f"{API}/{issued.pk}/pdf")

    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf["Content-Disposition"].startswith("attachment")
    assert "no-store" in pdf["Cache-Control"]
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")

    credential = client.get(f"{API}/{issued.pk}/credential")
    assert credential.status_code == 200
    document = credential.json()
    assert document == Certificate.objects.get(pk=issued.pk).credential
    assert credential_verify(document).ok
    assert document["credentialSubject"]["name"] == "张*华"
    # the credential is a course certificate's: no transcript export for it
    assert client.get(f"{API}/{issued.pk}/transcript.json").status_code == 404


def test_a_revoked_certificate_shows_the_date_and_never_the_reason(w, issued):
    services.certificate_revoke(user=w.coordinator, certificate=issued, reason="出勤记录有误")

    card = _client(w.mum.user).get(f"{API}/{issued.pk}").json()

    assert card["status"] == "revoked" and card["status_label"] == "已撤销"
    assert card["revoked_on"] is not None
    assert "出勤记录有误" not in json.dumps(card, ensure_ascii=False)


def test_a_reissued_certificate_names_the_current_one(w, issued):
    second = services.certificate_reissue(user=w.coordinator, certificate=issued)
    third = services.certificate_reissue(user=w.coordinator, certificate=second)
    client = _client(w.mum.user)

    old = client.get(f"{API}/{issued.pk}").json()

    assert old["status"] == "superseded" and old["current_code"] == third.code
    assert [c["id"] for c in client.get(API).json()["items"]] == [third.pk]


def test_the_list_is_keyset_paged(w):
    for _ in range(3):
        CertificateFactory(guardian=w.mum, alliance=w.alliance, unit=w.school)
    client = _client(w.mum.user)

    first = client.get(API, {"limit": 2}).json()
    second = client.get(API, {"limit": 2, "cursor": first["next_cursor"]}).json()

    assert len(first["items"]) == 2 and len(second["items"]) == 1
    assert second["next_cursor"] is None
    seen = [c["id"] for c in first["items"] + second["items"]]
    assert len(set(seen)) == 3
    assert client.get(API, {"cursor": "not-a-cursor"}).json()["code"] == "bad_cursor"


def test_the_list_takes_a_constant_number_of_queries(w):
    CertificateFactory(guardian=w.mum, alliance=w.alliance, unit=w.school)
    client = _client(w.mum.user)  # each a new token: its first use is marked

    with CaptureQueriesContext(connection) as one:
        assert len(client.get(API).json()["items"]) == 1
    for _ in range(14):
        CertificateFactory(guardian=w.mum, alliance=w.alliance, unit=w.school)
    client = _client(w.mum.user)
    with CaptureQueriesContext(connection) as fifteen:
        assert len(client.get(API).json()["items"]) == 15

    assert len(fifteen) == len(one) <= LIST_MAX_QUERIES, "\n".join(q["sql"][:70] for q in fifteen)


def test_reads_need_the_read_scope_and_a_device_is_refused(w, issued):
    assert Client().get(API).status_code == 401
    no_read = _client(w.mum.user, scopes=("write",)).get(API)
    assert (no_read.status_code, no_read.json()["code"]) == (403, "scope_missing")
    device = _client(w.unit_coordinator, scopes=("checkin",), unit=w.school)
    assert ApiToken.objects.filter(kind=ApiToken.Kind.DEVICE).exists()
    device = device.get(f"{API}/{issued.pk}")
    assert (device.status_code, device.json()["code"]) == (403, "device_forbidden")


# --- the transcript ----------------------------------------------------------------------


@pytest.fixture
def credited(w):
    credit(w.mum, w.course, 2)
    return w


def test_asking_again_with_nothing_new_is_the_same_transcript(credited):
    w = credited
    client = _client(w.mum.user)

    first = _transcript(client, key=str(uuid.uuid4()))
    again = _transcript(client, key=str(uuid.uuid4()))

    assert first.status_code == 201, first.content
    assert again.status_code == 200, again.content
    assert again.json()["code"] == first.json()["code"]
    body = first.json()
    assert (body["kind"], body["status"]) == ("transcript", "valid")
    assert body["term"] is None and Decimal(body["credits"]) == Decimal(2)
    assert body["transcript_url"].endswith(f"{API}/{body['id']}/transcript.json")
    assert body["holder_masked"] == "张*华" and "张晓华" not in _text(first)
    assert Certificate.objects.filter(kind=Kind.TRANSCRIPT).count() == 1


def test_a_retry_with_the_same_key_is_answered_not_repeated(credited):
    w = credited
    client = _client(w.mum.user)
    key = str(uuid.uuid4())

    first = _transcript(client, key=key)
    credit(w.mum, w.course, 1)  # something new: only a new request would see it
    retry = _transcript(client, key=key)

    assert first.status_code == retry.status_code == 201
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    assert Certificate.objects.filter(kind=Kind.TRANSCRIPT).count() == 1


def test_a_new_credit_makes_a_new_transcript_that_replaces_the_old(credited):
    w = credited
    client = _client(w.mum.user)
    old = _transcript(client, key=str(uuid.uuid4())).json()

    credit(w.mum, w.course, "0.5")
    new = _transcript(client, key=str(uuid.uuid4()))

    assert new.status_code == 201, new.content
    assert new.json()["code"] != old["code"]
    assert Decimal(new.json()["credits"]) == Decimal("2.5")
    replaced = client.get(f"{API}/{old['id']}").json()
    assert replaced["status"] == "superseded"
    assert replaced["current_code"] == new.json()["code"]
    listed = [c["id"] for c in client.get(API).json()["items"]]
    assert new.json()["id"] in listed and old["id"] not in listed


def test_the_transcript_json_follows_its_schema_and_is_audit_logged(credited):
    w = credited
    credit(w.mum, w.course, "-0.5")  # a correction is its own entry
    client = _client(w.mum.user)
    transcript = _transcript(client).json()

    export = client.get(f"{API}/{transcript['id']}/transcript.json")

    assert export.status_code == 200, export.content
    assert export["Content-Type"].startswith("application/json")
    assert export["Content-Disposition"].startswith("attachment")
    document = export.json()
    errors = [f"{e.instance_path}: {e.message}" for e in _validator().iter_errors(document)]
    assert errors == []
    assert document["$schema"] == SCHEMA_ID
    assert document["certificate"]["code"] == transcript["code"]
    assert [e["credits"] for e in document["entries"]] == ["2", "-0.5"]
    assert document["total_credits"] == "1.5"
    assert credential_verify(document["credential"]).ok
    logged = AuditLog.objects.get(action="certificates.transcript.export")
    assert logged.actor == w.mum.user
    assert logged.target_id == str(transcript["id"])
    assert logged.data == {"code": transcript["code"], "format": "json"}


def test_the_schema_is_the_documents_and_refuses_what_it_does_not_describe(credited):
    w = credited
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert schema["$id"] == SCHEMA_ID
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    entry = schema["$defs"]["entry"]["properties"]
    assert entry["reason_code"]["enum"] == list(CreditEntry.Reason.values)
    client = _client(w.mum.user)
    transcript = _transcript(client).json()
    document = client.get(f"{API}/{transcript['id']}/transcript.json").json()
    validator = _validator()

    # a field the schema does not name, a missing one, a credit that is not a number
    assert not validator.is_valid({**document, "phone": "13700000000"})
    assert not validator.is_valid({k: v for k, v in document.items() if k != "entries"})
    broken = json.loads(json.dumps(document))
    broken["entries"][0]["credits"] = "两分"
    assert not validator.is_valid(broken)


def test_the_transcript_is_refused_without_a_family_or_credits_or_the_write_scope(w):
    staff = _client(w.unit_coordinator)
    answer = _transcript(staff)
    assert (answer.status_code, answer.json()["code"]) == (400, "no_family")

    nothing = _transcript(_client(w.mum.user))
    assert (nothing.status_code, nothing.json()["code"]) == (400, "no_credits")

    read_only = _transcript(_client(w.mum.user, scopes=("read",)))
    assert (read_only.status_code, read_only.json()["code"]) == (403, "scope_missing")
    assert not Certificate.objects.filter(kind=Kind.TRANSCRIPT).exists()
