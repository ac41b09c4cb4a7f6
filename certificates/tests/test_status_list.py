"""Bitstring Status List v1.0: the encoding, the signed list built from revoked
certificates (one query, cached until a revocation bumps it), the status check,
and the public did.json and status list URLs."""

import base64
import copy
import gzip

import pytest
from django.urls import reverse
from django.utils import timezone

from certificates import credentials
from certificates.models import Certificate
from certificates.tests.factories import CertificateFactory


def _revoke(cert):
    # The revoke service is helper C's; here only the row's status matters.
    Certificate.objects.filter(pk=cert.pk).update(
        status=Certificate.Status.REVOKED, revoked_at=timezone.now()
    )


def test_bitstring_encoding_msb_first_gzip_base64url():
    encoded = credentials.encode_bitstring([0, 9, 131071])
    assert encoded.startswith("u") and "=" not in encoded
    raw = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    assert len(raw) == 16384  # the spec's minimum, 131,072 bits
    assert raw[0] == 0x80 and raw[1] == 0x40 and raw[-1] == 0x01
    assert sum(bin(b).count("1") for b in raw) == 3
    assert credentials.decode_bitstring(encoded) == raw
    for bad in ("zabc", "u!!!", "u" + base64.urlsafe_b64encode(b"plain").decode()):
        with pytest.raises(ValueError):
            credentials.decode_bitstring(bad)


@pytest.mark.django_db
def test_status_follows_revocation_after_the_version_bump(django_assert_max_num_queries):
    cert = CertificateFactory()
    other = CertificateFactory()
    document = credentials.credential_for(cert)
    number = cert.status_list_number
    with django_assert_max_num_queries(1):
        status_list = credentials.status_list_credential(number)
    assert status_list["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert status_list["credentialSubject"]["statusPurpose"] == "revocation"
    assert credentials.credential_verify(status_list).ok
    assert credentials.credential_status(document, status_list) == "valid"

    _revoke(cert)
    # Cached: no query until the revoke service says the list changed.
    with django_assert_max_num_queries(0):
        assert credentials.status_list_credential(number) == status_list
    credentials.status_list_changed(number)
    fresh = credentials.status_list_credential(number)
    assert credentials.credential_status(document, fresh) == "revoked"
    assert credentials.credential_status(credentials.credential_for(other), fresh) == "valid"


@pytest.mark.django_db
def test_status_unknown_for_an_unsigned_forged_or_foreign_list():
    cert = CertificateFactory()
    document = credentials.credential_for(cert)
    status_list = credentials.status_list_build(cert.status_list_number)
    # A forger flips the bit in a copy of the list: the signature no longer holds.
    forged = copy.deepcopy(status_list)
    forged["credentialSubject"]["encodedList"] = credentials.encode_bitstring(
        [cert.status_list_index]
    )
    assert credentials.credential_status(document, forged) == "unknown"
    unsigned = {k: v for k, v in status_list.items() if k != "proof"}
    assert credentials.credential_status(document, unsigned) == "unknown"
    other_list = credentials.status_list_build(cert.status_list_number + 1)
    assert credentials.credential_status(document, other_list) == "unknown"
    assert credentials.credential_status({"no": "status"}, status_list) == "unknown"
    assert credentials.credential_status(document, "nonsense") == "unknown"


@pytest.mark.django_db
def test_public_urls_need_no_sign_in(client):
    response = client.get(reverse("certificates:did"))
    assert response.status_code == 200
    assert reverse("certificates:did") == "/.well-known/did.json"
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Content-Type"] == "application/did+json"
    assert "public" in response["Cache-Control"]
    assert response.json() == credentials.did_document()

    cert = CertificateFactory()
    _revoke(cert)
    url = reverse("certificates:status_list", args=[cert.status_list_number])
    assert url == f"/certificates/status/{cert.status_list_number}.json"
    response = client.get(url)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "max-age=300" in response["Cache-Control"]
    document = credentials.credential_for(Certificate.objects.get(pk=cert.pk))
    assert credentials.credential_status(document, response.json()) == "revoked"

    assert client.get(reverse("certificates:status_list", args=[5000])).status_code == 404
    assert client.post(url).status_code == 405
