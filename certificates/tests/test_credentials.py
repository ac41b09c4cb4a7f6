"""The signed credential: eddsa-jcs-2022 against the W3C test vector, JCS, the
Open Badges 3.0 content (masked name, identity hash, no child, no phone), tamper
detection, keys and the DID document."""

import base64
import copy
import datetime
import io
import json
from decimal import Decimal

import pytest
from pypdf import PdfWriter

from certificates import credentials
from certificates.models import Kind
from certificates.tests.factories import CertificateFactory

# W3C "Data Integrity EdDSA Cryptosuites v1.0", TestVectors/keyPair.json and
# TestVectors/eddsa-jcs-2022/signedJCS.json.
W3C_PUBLIC = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
W3C_PRIVATE = "z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq"
W3C_CONTEXT = [
    "https://www.w3.org/ns/credentials/v2",
    "https://www.w3.org/ns/credentials/examples/v2",
]
W3C_SIGNED = {
    "@context": W3C_CONTEXT,
    "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
    "type": ["VerifiableCredential", "AlumniCredential"],
    "name": "Alumni Credential",
    "description": "A minimum viable example of an Alumni Credential.",
    "issuer": "https://vc.example/issuers/5678",
    "validFrom": "2023-01-01T00:00:00Z",
    "credentialSubject": {"id": "did:example:abcdefgh", "alumniOf": "The School of Examples"},
    "proof": {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-jcs-2022",
        "created": "2023-02-24T23:36:38Z",
        "verificationMethod": f"https://vc.example/issuers/5678#{W3C_PUBLIC}",
        "proofPurpose": "assertionMethod",
        "@context": W3C_CONTEXT,
        "proofValue": "z63t83Y53KfzJ5ZosfKTnqfMcKB2dmTrfjSaQjeNNjAD5srBowQfmWqeRb8rRjmeEuCBEsddF9LsVogtuTsijJKh4",
    },
}


def _use_w3c_key(settings):
    seed = credentials.base58btc_decode(W3C_PRIVATE[1:])[2:]  # 0x8026 + 32 bytes
    settings.CERTIFICATES_SIGNING_KEY = base64.urlsafe_b64encode(seed).rstrip(b"=").decode()
    settings.CERTIFICATES_ISSUER_ID = "https://vc.example/issuers/5678"


def test_w3c_vector_verifies_and_signing_reproduces_it(settings):
    assert credentials.credential_verify(W3C_SIGNED, public_keys=[W3C_PUBLIC]).ok
    _use_w3c_key(settings)
    assert credentials.public_key_multibase() == W3C_PUBLIC
    unsigned = {k: v for k, v in W3C_SIGNED.items() if k != "proof"}
    created = datetime.datetime(2023, 2, 24, 23, 36, 38, tzinfo=datetime.UTC)
    # Ed25519 is deterministic: the same document, options and key give the same proof.
    assert credentials.credential_sign(unsigned, created=created) == W3C_SIGNED


def test_jcs_orders_keys_by_utf16_and_escapes_like_ecmascript():
    # RFC 8785 §3.2.3: sorting by UTF-16 code units puts U+1F600 before U+FB33.
    value = {"\u20ac": 1, "\r": 2, "\ufb33": 3, "1": 4, "\U0001f600": 5, "\u0080": 6, "ö": 7}
    assert credentials.jcs(value).decode() == (
        '{"\\r":2,"1":4,"\u0080":6,"ö":7,"\u20ac":1,"\U0001f600":5,"\ufb33":3}'
    )
    assert credentials.jcs({"a": 'line\n\u0001"\\ 张'}) == (
        '{"a":"line\\n\\u0001\\"\\\\ 张"}'.encode()
    )
    assert credentials.jcs([2.0, 2.5, True, None]) == b"[2,2.5,true,null]"
    for bad in (float("nan"), 1e-7, 2**60, {1: "x"}, Decimal("1.5")):
        with pytest.raises(ValueError):
            credentials.jcs(bad)


def test_base58_round_trip_keeps_leading_zeros():
    for data in (b"", b"\0\0abc", bytes(range(40))):
        assert credentials.base58btc_decode(credentials.base58btc_encode(data)) == data


@pytest.mark.django_db
def test_credential_is_open_badge_with_the_masked_name_only(settings):
    settings.PORTAL_BASE_URL = "https://jiaxiao.example.cn"
    cert = CertificateFactory(holder_name="张晓华", child_nickname="小雨点", credits=Decimal("2.5"))
    document = credentials.credential_for(cert)
    assert document["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert document["@context"][0] == "https://www.w3.org/ns/credentials/v2"
    assert document["id"] == f"urn:uuid:{cert.uuid}"
    assert document["issuer"]["id"] == "did:web:jiaxiao.example.cn"
    assert document["name"] == "结业证书"
    subject = document["credentialSubject"]
    assert subject["name"] == "张*华"
    assert subject["achievement"]["description"] == "亲子沟通的艺术"
    assert subject["creditsEarned"] == 2.5
    assert subject["term"] == f"{cert.term.school_year}学年{cert.term.get_semester_display()}"
    # no salted hash of the full name: with the salt beside 张*华 it would give it away
    assert "identifier" not in subject
    assert "张晓华" not in json.dumps(document, ensure_ascii=False)
    assert "小雨点" not in json.dumps(document, ensure_ascii=False)
    status = document["credentialStatus"]
    assert status["type"] == "BitstringStatusListEntry"
    assert status["statusPurpose"] == "revocation"
    assert status["statusListIndex"] == str(cert.pk % 131072)
    assert status["statusListCredential"] == (
        f"https://jiaxiao.example.cn/certificates/status/{cert.pk // 131072}.json"
    )
    assert document["evidence"][0]["id"] == credentials.verification_url(cert)
    assert credentials.verification_url(cert) == f"https://jiaxiao.example.cn/v/{cert.code}/"
    text = json.dumps(document, ensure_ascii=False)
    # Public: no full name, no child, no phone.
    assert "张晓华" not in text and "小雨点" not in text
    assert cert.user.phone not in text
    proof = document["proof"]
    assert proof["cryptosuite"] == "eddsa-jcs-2022"
    assert proof["verificationMethod"] == (
        f"did:web:jiaxiao.example.cn#{credentials.public_key_multibase()}"
    )
    assert credentials.credential_verify(document).ok
    # Building again gives the same unsigned document (the salt is stable).
    assert credentials.credential_build(cert) == credentials.credential_build(cert)


@pytest.mark.django_db
def test_family_and_transcript_credentials():
    family = CertificateFactory(kind=Kind.LEARNING_FAMILY, holder_name="李建国家庭")
    assert credentials.credential_build(family)["credentialSubject"]["name"] == "李*国家庭"
    rows = [
        {
            "term": "2025秋",
            "course": "亲子沟通",
            "date": "2025-11-02",
            "reason": "出席",
            "credits": "2",
            "child": "不该出现",
        }
    ]
    transcript = CertificateFactory(
        kind=Kind.TRANSCRIPT, term=None, credits=Decimal("2"), data={"rows": rows, "total": "2"}
    )
    subject = credentials.credential_for(transcript)["credentialSubject"]
    assert subject["transcript"]["rows"] == [
        {
            "term": "2025秋",
            "course": "亲子沟通",
            "date": "2025-11-02",
            "reason": "出席",
            "credits": "2",
        }
    ]
    assert "term" not in subject


@pytest.mark.django_db
def test_one_changed_character_or_another_key_fails(settings):
    document = credentials.credential_for(CertificateFactory())
    tampered = copy.deepcopy(document)
    tampered["credentialSubject"]["achievement"]["description"] = "亲子沟通的艺朮"
    assert credentials.credential_verify(tampered) == credentials.CredentialCheck(
        False, "bad_signature"
    )
    moved = copy.deepcopy(document)
    moved["proof"]["created"] = "2020-01-01T00:00:00Z"
    assert credentials.credential_verify(moved).problem == "bad_signature"
    assert credentials.credential_verify(document, public_keys=[W3C_PUBLIC]).problem == (
        "unknown_key"
    )
    no_proof = {k: v for k, v in document.items() if k != "proof"}
    assert credentials.credential_verify(no_proof).problem == "no_proof"
    other_suite = copy.deepcopy(document)
    other_suite["proof"]["cryptosuite"] = "eddsa-rdfc-2022"
    assert credentials.credential_verify(other_suite).problem == "unsupported"
    broken = copy.deepcopy(document)
    broken["proof"]["proofValue"] = "z0OIl"
    assert credentials.credential_verify(broken).problem == "malformed"
    assert credentials.credential_verify("not json").problem == "malformed"
    # A new key: old certificates still verify once the old key is listed as retired.
    old_key = credentials.public_key_multibase()
    settings.CERTIFICATES_SIGNING_KEY = credentials.new_seed()
    assert credentials.public_key_multibase() != old_key
    assert credentials.credential_verify(document).problem == "unknown_key"
    settings.CERTIFICATES_RETIRED_PUBLIC_KEYS = [old_key]
    assert credentials.credential_verify(document).ok


def test_issuer_and_did_document(settings):
    settings.PORTAL_BASE_URL = "http://127.0.0.1:8000"
    settings.CERTIFICATES_RETIRED_PUBLIC_KEYS = [W3C_PUBLIC]
    assert credentials.issuer_id() == "did:web:127.0.0.1%3A8000"
    did = credentials.did_document()
    assert did["id"] == "did:web:127.0.0.1%3A8000"
    keys = [m["publicKeyMultibase"] for m in did["verificationMethod"]]
    assert keys == [credentials.public_key_multibase(), W3C_PUBLIC]
    assert did["assertionMethod"][0] == credentials.verification_method()
    settings.CERTIFICATES_ISSUER_ID = "did:web:jyj.example.gov.cn"
    assert credentials.issuer_id() == "did:web:jyj.example.gov.cn"


def test_signing_key_from_setting_or_derived(settings):
    derived = credentials.public_key_multibase()
    assert derived.startswith("z6Mk")
    settings.SECRET_KEY = "another-secret"
    assert credentials.public_key_multibase() != derived
    seed = credentials.new_seed()
    settings.CERTIFICATES_SIGNING_KEY = seed
    configured = credentials.public_key_multibase()
    settings.SECRET_KEY = "yet-another"
    assert credentials.public_key_multibase() == configured


def test_credential_from_pdf():
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.add_attachment("credential.json", json.dumps(W3C_SIGNED).encode())
    buffer = io.BytesIO()
    writer.write(buffer)
    assert credentials.credential_from_pdf(buffer.getvalue()) == W3C_SIGNED
    plain = PdfWriter()
    plain.add_blank_page(595, 842)
    buffer = io.BytesIO()
    plain.write(buffer)
    assert credentials.credential_from_pdf(buffer.getvalue()) is None
    assert credentials.credential_from_pdf(b"not a pdf") is None
