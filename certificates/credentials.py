"""The signed credential: what lets a certificate verify without this portal.

Each certificate carries an Open Badges 3.0 ``OpenBadgeCredential`` (a W3C
Verifiable Credential, data model 2.0) secured by a Data Integrity proof with the
``eddsa-jcs-2022`` cryptosuite (W3C "Data Integrity EdDSA Cryptosuites v1.0"):

- the document without its proof and the proof options (with the document's
  ``@context``) are each canonicalised with JCS (RFC 8785) and hashed with
  SHA-256; the Ed25519 signature covers ``sha256(proof options) ‖ sha256(document)``
  and is written as multibase base58-btc (``z…``);
- the key is the district's one Ed25519 key, published as a Multikey
  (``z6Mk…``) in the ``did:web`` document at ``/.well-known/did.json`` and in
  docs/CERTIFICATES.md, so a verifier who saved the key once needs nothing else.

Revocation is published as a Bitstring Status List v1.0 credential per 131,072
certificates (bit = the certificate's id), signed the same way.

Privacy: the credential is public (the verification page offers it), so it names
the holder only masked (张*华); it never carries a child or a phone number. It
has no Open Badges ``IdentityObject`` either: with its salt published beside the
masked name, a salted hash of a three-character Chinese name is undone by
trying the few thousand characters that could fill the mask.
"""

from __future__ import annotations

import base64
import copy
import datetime
import gzip
import hashlib
import io
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.cache import cache
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation

from certificates.models import STATUS_LIST_SIZE, CertificateDesign, Kind
from recognition.computation import mask_name

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
OB_SCHEMA = (
    "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
)
DID_CONTEXT = "https://www.w3.org/ns/did/v1"
MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"
PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-jcs-2022"
PROOF_PURPOSE = "assertionMethod"
#: Multicodec prefix of an Ed25519 public key (varint 0xed), as in every "z6Mk…".
ED25519_PUB_PREFIX = b"\xed\x01"

TITLES = {
    Kind.COURSE: "结业证书",
    Kind.CREDITS: "学分达标证书",
    Kind.LEARNING_FAMILY: "学习型家庭证书",
    Kind.VOLUNTEER: "志愿服务证书",
    Kind.TRANSCRIPT: "学分银行成绩单",
}
# What the holder did, in words a verifier can read without knowing our rules.
CRITERIA = {
    Kind.COURSE: "按联盟规则出席课程场次并完成线上微课。",
    Kind.CREDITS: "一个学期内获得的学分达到联盟规定的门槛。",
    Kind.LEARNING_FAMILY: "经联盟评选并公示为学习型家庭。",
    Kind.VOLUNTEER: "一个学期内的志愿服务时长达到联盟规定的门槛。",
    Kind.TRANSCRIPT: "家长在家长学校获得的全部学分记录。",
}
TRANSCRIPT_ROW_KEYS = ("term", "course", "date", "reason", "credits")


# --- JCS (RFC 8785) ---------------------------------------------------------------

#: Floats are written as ECMAScript would only where Python agrees with it:
#: whole numbers below 2**53 and other values with 1e-4 <= |x| < 1e16. Our own
#: documents hold numbers only as ints or strings (credits also as Open Badges'
#: ``creditsEarned`` float, one decimal); anything else is refused, not guessed.
_MAX_SAFE_INT = 2**53 - 1


def _jcs_number(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INT:
            raise ValueError("integer out of the JSON-safe range")
        return str(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("NaN and infinity have no JSON form")
    if value.is_integer() and abs(value) <= _MAX_SAFE_INT:
        return str(int(value))
    if 1e-4 <= abs(value) < 1e16:
        return repr(value)
    raise ValueError("float outside the range written the same by Python and ECMAScript")


def _jcs_write(value, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif isinstance(value, str):
        # json.dumps escapes exactly what ECMAScript's JSON.stringify escapes
        # (quote, backslash, controls; lowercase \u00xx) when ensure_ascii is off.
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, (bool, int, float)):
        out.append(_jcs_number(value))
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _jcs_write(item, out)
        out.append("]")
    elif isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise ValueError("object keys must be strings")
        out.append("{")
        # RFC 8785 orders keys by their UTF-16 code units (not code points).
        for i, key in enumerate(sorted(value, key=lambda k: k.encode("utf-16-be"))):
            if i:
                out.append(",")
            out.append(json.dumps(key, ensure_ascii=False))
            out.append(":")
            _jcs_write(value[key], out)
        out.append("}")
    else:
        raise ValueError(f"{type(value).__name__} has no JSON form")


def jcs(value) -> bytes:
    """``value`` canonicalised by RFC 8785, as UTF-8 bytes (ValueError if it cannot be)."""
    out: list[str] = []
    _jcs_write(value, out)
    # A lone surrogate cannot be UTF-8: strict encoding refuses it (ValueError).
    return "".join(out).encode("utf-8")


# --- multibase base58-btc -----------------------------------------------------------

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}


def base58btc_encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    text = ""
    while number:
        number, rest = divmod(number, 58)
        text = _B58[rest] + text
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + text


def base58btc_decode(text: str) -> bytes:
    number = 0
    for char in text:
        if char not in _B58_INDEX:
            raise ValueError("not base58-btc")
        number = number * 58 + _B58_INDEX[char]
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + body


# --- the key --------------------------------------------------------------------------

_key_cache: dict[tuple[str, str], Ed25519PrivateKey] = {}


def signing_key() -> Ed25519PrivateKey:
    """The district's signing key: ``CERTIFICATES_SIGNING_KEY`` (a base64url 32-byte
    seed), or, when that is empty (development, tests), one derived from SECRET_KEY.
    A district sets the setting once: changing it leaves earlier certificates
    verifiable only if the old public key goes into CERTIFICATES_RETIRED_PUBLIC_KEYS."""
    seed_text = getattr(settings, "CERTIFICATES_SIGNING_KEY", "") or ""
    cache_key = (seed_text, "" if seed_text else settings.SECRET_KEY)
    key = _key_cache.get(cache_key)
    if key is None:
        if seed_text:
            seed = base64.urlsafe_b64decode(seed_text + "=" * (-len(seed_text) % 4))
            if len(seed) != 32:
                raise ValueError("CERTIFICATES_SIGNING_KEY must be 32 bytes (base64url)")
        else:
            seed = HKDF(
                algorithm=hashes.SHA256(),
                length=32,
                salt=b"alliance.certificates",
                info=b"ed25519 signing key",
            ).derive(settings.SECRET_KEY.encode())
        key = Ed25519PrivateKey.from_private_bytes(seed)
        _key_cache[cache_key] = key
    return key


def new_seed() -> str:
    """A fresh seed for CERTIFICATES_SIGNING_KEY (``certificate_key --generate``)."""
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def public_key_multibase(public_key: Ed25519PublicKey | None = None) -> str:
    """The public key as a Multikey value: "z6Mk…" (base58-btc of 0xed01 + 32 bytes)."""
    public_key = public_key or signing_key().public_key()
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "z" + base58btc_encode(ED25519_PUB_PREFIX + raw)


def public_key_from_multibase(value: str) -> Ed25519PublicKey:
    """ValueError unless ``value`` is an Ed25519 Multikey ("z6Mk…")."""
    if not isinstance(value, str) or not value.startswith("z"):
        raise ValueError("not a base58-btc multibase value")
    raw = base58btc_decode(value[1:])
    if len(raw) != 34 or not raw.startswith(ED25519_PUB_PREFIX):
        raise ValueError("not an Ed25519 public key")
    return Ed25519PublicKey.from_public_bytes(raw[2:])


def trusted_public_keys() -> list[str]:
    """The current key first, then the retired ones (still good for old certificates)."""
    keys = [public_key_multibase()]
    for retired in getattr(settings, "CERTIFICATES_RETIRED_PUBLIC_KEYS", []) or []:
        if retired and retired not in keys:
            keys.append(retired)
    return keys


def issuer_id() -> str:
    """``CERTIFICATES_ISSUER_ID`` or ``did:web:<host of PORTAL_BASE_URL>`` (a port is
    written %3A, as did:web requires)."""
    configured = getattr(settings, "CERTIFICATES_ISSUER_ID", "") or ""
    if configured:
        return configured
    host = urlsplit(settings.PORTAL_BASE_URL).netloc.rsplit("@", 1)[-1]
    return "did:web:" + host.replace(":", "%3A")


def verification_method() -> str:
    return f"{issuer_id()}#{public_key_multibase()}"


# --- URLs -----------------------------------------------------------------------------


def _absolute(path: str) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + path


def verification_url(certificate) -> str:
    """The public verification page of this certificate (never changes)."""
    try:
        path = reverse("certificates:verify", args=[certificate.code])
    except NoReverseMatch:
        # The holder pages' route (helper D); the path is fixed by the spec.
        path = f"/v/{certificate.code}/"
    return _absolute(path)


def status_list_url(list_number: int) -> str:
    return _absolute(reverse("certificates:status_list", args=[list_number]))


# --- building the credential --------------------------------------------------------


def public_name(certificate) -> str:
    """The holder as the public sees them: 张*华, or 张*华家庭 for a family."""
    name = certificate.holder_name or ""
    if certificate.kind == Kind.LEARNING_FAMILY and name.endswith("家庭") and len(name) > 2:
        return mask_name(name[:-2]) + "家庭"
    return mask_name(name)


def _decimal_text(value) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _date_time(day: datetime.date) -> str:
    # validFrom is a date-time; the issue date starts at midnight in the portal's zone.
    start = datetime.datetime.combine(day, datetime.time.min)
    return timezone.make_aware(start).isoformat()


def _urn(*parts) -> str:
    name = ":".join(str(p) for p in parts)
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"


def credential_build(certificate) -> dict:
    """The unsigned Open Badges 3.0 credential of ``certificate`` (see module doc)."""
    kind = Kind(certificate.kind)
    title = TITLES[kind]
    issuer = issuer_id()
    try:
        design_name = certificate.alliance.certificate_design.issuer_name
    except CertificateDesign.DoesNotExist:
        design_name = ""
    issuer_name = design_name or certificate.alliance.name
    unit = certificate.unit
    term = certificate.term

    achievement = {
        "id": _urn(issuer, "achievement", certificate.alliance_id, kind.value, certificate.key),
        "type": ["Achievement"],
        "achievementType": "Certificate",
        "name": title,
        "description": certificate.subject_title,
        "criteria": {"narrative": CRITERIA[kind]},
    }
    subject = {
        "type": ["AchievementSubject"],
        # Public: the masked name only (see the module's note on privacy).
        "name": public_name(certificate),
        "achievement": achievement,
        "source": {
            "id": _urn(issuer, "unit", unit.pk),
            "type": ["Profile"],
            "name": unit.name,
        },
    }
    if term is not None:
        # The signed text is Chinese whatever the language of the request that issues it.
        with translation.override(settings.LANGUAGE_CODE):
            subject["term"] = str(term)
    if certificate.credits is not None:
        subject["creditsEarned"] = float(certificate.credits)
    if certificate.hours is not None:
        # Open Badges has no hours; a string keeps the number exact.
        subject["serviceHours"] = _decimal_text(certificate.hours)
    if kind == Kind.TRANSCRIPT:
        data = certificate.data or {}
        subject["transcript"] = {
            "rows": [
                {key: str(row.get(key, "")) for key in TRANSCRIPT_ROW_KEYS}
                for row in data.get("rows", [])
            ],
            "total": str(data.get("total", "")),
        }

    list_number = certificate.status_list_number
    list_url = status_list_url(list_number)
    return {
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": f"urn:uuid:{certificate.uuid}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": title,
        "description": certificate.subject_title,
        "issuer": {
            "id": issuer,
            "type": ["Profile"],
            "name": issuer_name,
            "url": settings.PORTAL_BASE_URL.rstrip("/") + "/",
        },
        "validFrom": _date_time(certificate.issued_on),
        "credentialSubject": subject,
        "credentialSchema": [{"id": OB_SCHEMA, "type": "1EdTechJsonSchemaValidator2019"}],
        "credentialStatus": {
            "id": f"{list_url}#{certificate.status_list_index}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": str(certificate.status_list_index),
            "statusListCredential": list_url,
        },
        "evidence": [
            {
                "id": verification_url(certificate),
                "type": ["Evidence"],
                "name": "在线验证",
                "description": f"验证码 {certificate.code_display}",
            }
        ],
    }


# --- eddsa-jcs-2022 -------------------------------------------------------------------


def _hash_data(document: dict, proof_config: dict) -> bytes:
    # Hashing step of eddsa-jcs-2022: proof configuration hash first, then the document.
    return hashlib.sha256(jcs(proof_config)).digest() + hashlib.sha256(jcs(document)).digest()


def _timestamp(moment: datetime.datetime) -> str:
    moment = moment.astimezone(datetime.UTC).replace(microsecond=0)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def credential_sign(document: dict, *, created: datetime.datetime | None = None) -> dict:
    """A copy of ``document`` with a DataIntegrityProof (eddsa-jcs-2022) by our key."""
    unsecured = copy.deepcopy(document)
    unsecured.pop("proof", None)
    proof_config = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": _timestamp(created or timezone.now()),
        "verificationMethod": verification_method(),
        "proofPurpose": PROOF_PURPOSE,
    }
    if "@context" in unsecured:
        proof_config["@context"] = unsecured["@context"]
    signature = signing_key().sign(_hash_data(unsecured, proof_config))
    secured = copy.deepcopy(unsecured)
    secured["proof"] = {**proof_config, "proofValue": "z" + base58btc_encode(signature)}
    return secured


def credential_for(certificate) -> dict:
    """The signed credential to store in ``certificate.credential`` at issue."""
    return credential_sign(credential_build(certificate))


@dataclass
class CredentialCheck:
    ok: bool
    #: "", "no_proof", "unsupported", "unknown_key", "bad_signature", "malformed"
    problem: str = ""


def _issuer_of(document: dict) -> str | None:
    issuer = document.get("issuer")
    if isinstance(issuer, dict):
        issuer = issuer.get("id")
    return issuer if isinstance(issuer, str) else None


def credential_verify(document, *, public_keys: Iterable[str] | None = None) -> CredentialCheck:
    """Check the eddsa-jcs-2022 proof of ``document`` against ``public_keys``
    (Multikey strings; None: our current and retired keys). Never raises."""
    if not isinstance(document, dict):
        return CredentialCheck(False, "malformed")
    proof = document.get("proof")
    if proof is None:
        return CredentialCheck(False, "no_proof")
    if isinstance(proof, list) and len(proof) == 1:
        proof = proof[0]
    if not isinstance(proof, dict):
        # A proof set or chain is not something we issue.
        return CredentialCheck(False, "unsupported")
    if proof.get("type") != PROOF_TYPE or proof.get("cryptosuite") != CRYPTOSUITE:
        return CredentialCheck(False, "unsupported")
    if proof.get("proofPurpose") != PROOF_PURPOSE:
        return CredentialCheck(False, "unsupported")
    method = proof.get("verificationMethod")
    value = proof.get("proofValue")
    if not isinstance(method, str) or "#" not in method or not isinstance(value, str):
        return CredentialCheck(False, "malformed")
    controller, _, key_text = method.partition("#")
    # The key must be the issuer's own (the issuer may be an older address of ours).
    if controller != _issuer_of(document):
        return CredentialCheck(False, "unknown_key")
    allowed = list(public_keys) if public_keys is not None else trusted_public_keys()
    if key_text not in allowed:
        return CredentialCheck(False, "unknown_key")
    try:
        public_key = public_key_from_multibase(key_text)
        if not value.startswith("z"):
            return CredentialCheck(False, "malformed")
        signature = base58btc_decode(value[1:])
        created = proof.get("created")
        if created is not None:
            datetime.datetime.fromisoformat(str(created).replace("Z", "+00:00"))
        unsecured = {k: v for k, v in document.items() if k != "proof"}
        proof_options = {k: v for k, v in proof.items() if k != "proofValue"}
        if "@context" in proof_options:
            # The document's contexts must start with the proof's, in order.
            contexts = proof_options["@context"]
            doc_contexts = unsecured.get("@context")
            if not isinstance(contexts, list) or not isinstance(doc_contexts, list):
                contexts, doc_contexts = [contexts], [doc_contexts]
            if doc_contexts[: len(contexts)] != contexts:
                return CredentialCheck(False, "bad_signature")
            unsecured["@context"] = proof_options["@context"]
        data = _hash_data(unsecured, proof_options)
    except ValueError:
        return CredentialCheck(False, "malformed")
    if len(signature) != 64:
        return CredentialCheck(False, "malformed")
    try:
        public_key.verify(signature, data)
    except InvalidSignature:
        return CredentialCheck(False, "bad_signature")
    return CredentialCheck(True)


# --- Bitstring Status List v1.0 ------------------------------------------------------

STATUS_LIST_CACHE_SECONDS = 300


def encode_bitstring(indexes: Iterable[int], size: int = STATUS_LIST_SIZE) -> str:
    """``encodedList``: multibase base64url (no padding, "u") of the GZIP-compressed
    bitstring; bit 0 is the most significant bit of the first byte."""
    bits = bytearray(size // 8)
    for index in indexes:
        bits[index // 8] |= 0x80 >> (index % 8)
    compressed = gzip.compress(bytes(bits), mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode()


def decode_bitstring(encoded: str) -> bytes:
    """The raw bitstring of an ``encodedList`` (ValueError if it is not one)."""
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise ValueError("encodedList must be multibase base64url ('u')")
    body = encoded[1:]
    try:
        compressed = base64.b64decode(body + "=" * (-len(body) % 4), altchars=b"-_", validate=True)
        # A list larger than 16 MiB is not ours; refuse rather than inflate it.
        with gzip.GzipFile(fileobj=io.BytesIO(compressed)) as stream:
            raw = stream.read(16 * 1024 * 1024 + 1)
    except (OSError, EOFError, base64.binascii.Error) as exc:
        raise ValueError("encodedList is not GZIP base64url") from exc
    if not raw or len(raw) > 16 * 1024 * 1024:
        raise ValueError("status list empty or too large")
    return raw


def _version_key(list_number: int) -> str:
    return f"certificates:status-list-version:{list_number}"


def status_list_changed(list_number: int) -> None:
    """A certificate in this list was revoked: the next request rebuilds the list."""
    cache.set(_version_key(list_number), uuid.uuid4().hex, None)


def status_list_build(list_number: int) -> dict:
    """The signed BitstringStatusListCredential of list ``list_number``, from the
    revoked certificates whose id falls in its range (one query)."""
    from certificates.models import Certificate

    start = list_number * STATUS_LIST_SIZE
    revoked = Certificate.objects.filter(
        pk__gte=start, pk__lt=start + STATUS_LIST_SIZE, status=Certificate.Status.REVOKED
    ).values_list("pk", flat=True)
    url = status_list_url(list_number)
    document = {
        "@context": [VC_CONTEXT],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer_id(),
        "validFrom": _timestamp(timezone.now()),
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": encode_bitstring(pk - start for pk in revoked),
            # Milliseconds a verifier may keep this list before fetching it again.
            "ttl": STATUS_LIST_CACHE_SECONDS * 1000,
        },
    }
    return credential_sign(document)


def status_list_credential(list_number: int) -> dict:
    """``status_list_build`` cached until the list changes (or an hour passes)."""
    version = cache.get(_version_key(list_number)) or "0"
    key = f"certificates:status-list:{list_number}:{version}"
    document = cache.get(key)
    if document is None:
        document = status_list_build(list_number)
        # An hour at most, so a lost version key cannot keep an old list for long.
        cache.set(key, document, 3600)
    return document


def credential_status(document, status_list, *, public_keys=None) -> str:
    """ "valid" | "revoked" | "unknown" for ``document`` by ``status_list`` (a
    BitstringStatusListCredential); "unknown" when the list is unsigned, signed by
    another key, or not the list the credential points to."""
    try:
        entry = document["credentialStatus"]
        if isinstance(entry, list):
            entry = next(e for e in entry if e.get("statusPurpose") == "revocation")
        if entry.get("type") != "BitstringStatusListEntry":
            return "unknown"
        index = int(entry["statusListIndex"])
        list_url = entry["statusListCredential"]
    except (KeyError, TypeError, ValueError, StopIteration, AttributeError):
        return "unknown"
    if not isinstance(status_list, dict):
        return "unknown"
    if not credential_verify(status_list, public_keys=public_keys).ok:
        return "unknown"
    if "BitstringStatusListCredential" not in (status_list.get("type") or []):
        return "unknown"
    if status_list.get("id") != list_url or _issuer_of(status_list) != _issuer_of(document):
        return "unknown"
    subject = status_list.get("credentialSubject")
    if not isinstance(subject, dict) or subject.get("statusPurpose") != entry.get("statusPurpose"):
        return "unknown"
    try:
        bits = decode_bitstring(subject.get("encodedList"))
    except ValueError:
        return "unknown"
    if index < 0 or index >= len(bits) * 8:
        return "unknown"
    return "revoked" if bits[index // 8] & (0x80 >> (index % 8)) else "valid"


# --- DID document and the PDF's attachment ------------------------------------------


def did_document() -> dict:
    """The did:web document: our current key and the retired ones, for assertions."""
    did = issuer_id()
    methods = [
        {
            "id": f"{did}#{key}",
            "type": "Multikey",
            "controller": did,
            "publicKeyMultibase": key,
        }
        for key in trusted_public_keys()
    ]
    return {
        "@context": [DID_CONTEXT, MULTIKEY_CONTEXT],
        "id": did,
        "verificationMethod": methods,
        "assertionMethod": [m["id"] for m in methods],
    }


CREDENTIAL_ATTACHMENT = "credential.json"


def credential_from_pdf(data: bytes) -> dict | None:
    """The credential.json attached to a certificate PDF, or None."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        contents = reader.attachments.get(CREDENTIAL_ATTACHMENT)
        if not contents:
            return None
        document = json.loads(contents[0].decode("utf-8"))
    except (PyPdfError, ValueError, KeyError, TypeError, OSError):
        return None
    return document if isinstance(document, dict) else None
