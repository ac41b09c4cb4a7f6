"""Uploaded media on S3-compatible storage (MEDIA_S3_BUCKET): moto's server on a
loopback port is the bucket, the default storage is the one alliance/settings/base.py
builds from the MEDIA_S3_* variables, and the files are stored by the services
that normally store them (a handbook claim's photo, a lesson's video, a
certificate's PDF).

The protected views still decide who may see a file; the allowed user gets a
302 to a signed URL of the object, never cached, and the bucket serves the exact
bytes and the ranges. Everyone else gets the view's own refusal, and the object
has no public address. (moto checks that an anonymous request carries a signature,
not the signature itself: a tampered or expired URL is the real service's to
refuse.)
"""

from __future__ import annotations

import runpy
import socket
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
import pytest
from botocore.config import Config
from django.core.files.storage import default_storage
from django.test import RequestFactory
from django.urls import reverse
from django.utils.http import content_disposition_header
from moto.server import ThreadedMotoServer
from storages.backends.s3 import S3Storage

from certificates import services as certificate_services
from certificates.tests.issuing_world import build_issuing_world, mums_course_certificate
from courses.streaming import file_response
from courses.tests.factories import TEST_VIDEO, OnlineLessonFactory
from handbook import services as handbook_services
from handbook.models import Claim
from handbook.tests.conftest import build_world, jpeg_upload
from members.tests.factories import GuardianFactory

pytestmark = pytest.mark.django_db

BASE_SETTINGS = Path(__file__).resolve().parents[2] / "alliance" / "settings" / "base.py"
REGION = "cn-east-1"
KEY_ID, SECRET = "portal-media", "portal-media-secret"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def fake_s3():
    """moto's S3 API over HTTP on 127.0.0.1, for this module's tests."""
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def bucket(fake_s3, settings, monkeypatch, tmp_path):
    """A new private bucket, and the settings' own S3 storage pointed at it."""
    name = f"media-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=fake_s3,
        region_name=REGION,
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
        config=Config(s3={"addressing_style": "path"}),
    )
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    # The STORAGES that base.py builds from the environment, as production reads it.
    for variable, value in {
        "MEDIA_S3_BUCKET": name,
        "MEDIA_S3_ENDPOINT_URL": fake_s3,
        "MEDIA_S3_ACCESS_KEY_ID": KEY_ID,
        "MEDIA_S3_SECRET_ACCESS_KEY": SECRET,
        "MEDIA_S3_ADDRESSING_STYLE": "path",
    }.items():
        monkeypatch.setenv(variable, value)
    monkeypatch.delenv("MEDIA_S3_REGION", raising=False)
    read = runpy.run_path(str(BASE_SETTINGS))
    built = read["STORAGES"]["default"]
    # the origins a page's CSP must allow for the redirect: path and virtual style
    host = fake_s3.removeprefix("http://")
    assert read["MEDIA_S3_ORIGINS"] == [fake_s3, f"http://{name}.{host}"]
    # and the pages' policy lets <img> and <video> follow the redirect there
    directives = read["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]
    for directive in ("img-src", "media-src"):
        assert set(read["MEDIA_S3_ORIGINS"]) <= set(directives[directive])
    assert not set(read["MEDIA_S3_ORIGINS"]) & set(directives["script-src"])
    assert built["BACKEND"] == "storages.backends.s3.S3Storage"
    assert built["OPTIONS"]["region_name"] == REGION  # the default
    assert built["OPTIONS"]["default_acl"] is None and built["OPTIONS"]["querystring_auth"]
    # Nothing may land in the local media folder.
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.MEDIA_ACCEL_REDIRECT_PREFIX = ""
    # setting_changed empties django's storages and default_storage, which every
    # FileField holds lazily: the fields now write to the bucket.
    settings.STORAGES = {**settings.STORAGES, "default": built}
    assert isinstance(Claim._meta.get_field("photo").storage, S3Storage)
    assert default_storage.bucket_name == name
    client.bucket = name
    client.endpoint = fake_s3
    return client


def _fetch(url: str, *, method: str = "GET", **headers):
    """(status, headers, body) of a plain HTTP request, as a browser would follow."""
    request = urllib.request.Request(url, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def _stored(bucket, name: str) -> bytes:
    return bucket.get_object(Bucket=bucket.bucket, Key=name)["Body"].read()


def _signed_location(response, bucket, name: str) -> str:
    """The redirect's target: this object in the bucket, signed, for minutes."""
    assert response.status_code == 302
    # (a never_cache view adds its own directives to these)
    directives = {part.strip() for part in response["Cache-Control"].split(",")}
    assert {"private", "no-store"} <= directives
    location = response["Location"]
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}" == bucket.endpoint
    assert parts.path == f"/{bucket.bucket}/{name}"
    query = parse_qs(parts.query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Signature"][0]
    assert query["X-Amz-Expires"] == ["300"]
    assert f"/{REGION}/s3/" in query["X-Amz-Credential"][0]
    return location


def test_a_claim_photo_is_stored_in_the_bucket_and_handed_out_by_a_signed_redirect(
    client, bucket, settings
):
    # given a family's claim with a photo, stored by the handbook's service
    world = build_world()
    claim = handbook_services.claim_submit(
        user=world.parent,
        item_id=world.chores.pk,
        child_id=world.child.pk,
        occurred_on=world.today,
        photo=jpeg_upload(),
    )
    stored = _stored(bucket, claim.photo.name)
    assert stored[:2] == b"\xff\xd8"  # the re-encoded JPEG, in the bucket
    assert not (Path(settings.MEDIA_ROOT) / claim.photo.name).exists()
    url = reverse("handbook:claim_photo", args=[claim.pk])

    # when the family asks the portal for it
    client.force_login(world.parent)
    response = client.get(url)

    # then a redirect to the signed object, which the bucket serves as the view would
    location = _signed_location(response, bucket, claim.photo.name)
    status, headers, body = _fetch(location)
    assert status == 200 and body == stored
    assert headers["Content-Type"] == "image/jpeg"
    assert headers["Cache-Control"] == "private, no-store"
    assert headers["Content-Disposition"] == "inline"
    # and the bucket answers ranges itself
    status, headers, body = _fetch(location, Range="bytes=0-99")
    assert status == 206 and body == stored[:100]
    assert headers["Content-Range"] == f"bytes 0-99/{len(stored)}"
    status, _, body = _fetch(location, Range="bytes=-10")
    assert status == 206 and body == stored[-10:]

    # a HEAD is redirected to a URL signed for HEAD
    head = client.head(url)
    head_location = _signed_location(head, bucket, claim.photo.name)
    status, headers, body = _fetch(head_location, method="HEAD")
    assert status == 200 and body == b"" and headers["Content-Length"] == str(len(stored))

    # the unit's verifier may see it too
    client.force_login(world.teacher)
    _signed_location(client.get(url), bucket, claim.photo.name)

    # a verifier of another school and another family get the view's 404, no address
    for user in (world.other_teacher, GuardianFactory().user):
        client.force_login(user)
        refused = client.get(url)
        assert refused.status_code == 404, user
        assert bucket.bucket not in refused.get("Location", "")
    # and a visitor is sent to sign in, not to the bucket
    client.logout()
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]

    # the object itself is private: without the signature the bucket refuses it
    bare = f"{bucket.endpoint}/{bucket.bucket}/{claim.photo.name}"
    assert _fetch(bare)[0] == 403
    assert _fetch(bare, Range="bytes=0-99")[0] == 403


def test_a_lesson_video_in_the_bucket_is_served_with_ranges_by_the_bucket(client, bucket):
    # given a lesson whose video was uploaded through the model's FileField
    lesson = OnlineLessonFactory(uploaded=True)
    video = TEST_VIDEO.read_bytes()
    assert _stored(bucket, lesson.video_file.name) == video

    # when a visitor's <video> asks for it
    response = client.get(reverse("courses:lesson_video", args=[lesson.pk]))

    # then the bucket serves the exact bytes, whole and by ranges
    location = _signed_location(response, bucket, lesson.video_file.name)
    status, headers, body = _fetch(location)
    assert status == 200 and body == video
    assert headers["Content-Type"] == "video/webm"
    assert headers["Cache-Control"] == "private, max-age=3600"  # the lesson's own policy
    status, headers, body = _fetch(location, Range="bytes=1000-")
    assert status == 206 and body == video[1000:]
    assert headers["Content-Range"] == f"bytes 1000-{len(video) - 1}/{len(video)}"
    assert _fetch(f"{bucket.endpoint}/{bucket.bucket}/{lesson.video_file.name}")[0] == 403


def test_a_download_keeps_its_file_name_through_the_redirect(bucket):
    # given a photo in the bucket and a view that hands it out as a named download
    world = build_world()
    claim = handbook_services.claim_submit(
        user=world.parent,
        item_id=world.chores.pk,
        child_id=world.child.pk,
        occurred_on=world.today,
        photo=jpeg_upload(),
    )
    disposition = content_disposition_header(True, "家庭手册照片.jpg")

    # when
    response = file_response(
        RequestFactory().get("/"),
        claim.photo,
        cache_control="private, no-store",
        disposition=disposition,
    )

    # then the bucket names the file as the local answer would (RFC 5987 for Chinese)
    status, headers, body = _fetch(_signed_location(response, bucket, claim.photo.name))
    assert status == 200 and body == _stored(bucket, claim.photo.name)
    assert headers["Content-Disposition"] == disposition
    assert disposition.startswith("attachment; filename*=utf-8''")


def test_a_certificate_pdf_is_drawn_into_the_bucket_and_only_its_family_gets_it(client, bucket):
    # given an issued certificate, its PDF drawn by the certificates' service
    world = build_issuing_world()
    certificate = certificate_services.certificate_pdf_ensure(mums_course_certificate(world))
    stored = _stored(bucket, certificate.pdf.name)
    assert stored.startswith(b"%PDF")
    url = reverse("certificates:pdf", args=[certificate.pk])

    # when the family downloads it, then the bucket hands out the exact PDF
    client.force_login(world.mum.user)
    location = _signed_location(client.get(url), bucket, certificate.pdf.name)
    status, headers, body = _fetch(location)
    assert status == 200 and body == stored
    assert headers["Content-Type"] == "application/pdf"
    # under the download name the local answer gives (kind and code), not the key's
    assert headers["Content-Disposition"].startswith("attachment;")
    assert certificate.code in unquote(headers["Content-Disposition"])

    # and another family is refused by the view
    client.force_login(world.dad.user)
    assert client.get(url).status_code == 404
