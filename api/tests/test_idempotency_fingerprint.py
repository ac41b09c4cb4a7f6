"""The idempotency row remembers a request by an HMAC, not a bare hash of its body."""

import hashlib

from django.test import RequestFactory, override_settings

from api.idempotency import _fingerprint


def _request(body: bytes):
    return RequestFactory().post(
        "/api/v1/surveys/7/submit", data=body, content_type="application/json"
    )


def test_a_small_body_cannot_be_found_by_hashing_every_candidate():
    body = b'{"answers":{"satisfaction":2}}'
    remembered = _fingerprint(_request(body))
    # What a database reader could compute for each possible answer.
    bare = hashlib.sha256(b"POST\0/api/v1/surveys/7/submit\0" + body).hexdigest()
    assert remembered != bare
    # Still the same request twice, and a different body differs.
    assert _fingerprint(_request(body)) == remembered
    assert _fingerprint(_request(b'{"answers":{"satisfaction":3}}')) != remembered


def test_the_fingerprint_depends_on_the_deployment_secret():
    body = b'{"answers":{"satisfaction":2}}'
    here = _fingerprint(_request(body))
    with override_settings(SECRET_KEY="another-deployment-secret"):
        assert _fingerprint(_request(body)) != here
