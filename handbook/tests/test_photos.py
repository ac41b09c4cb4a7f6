"""Photos on claims: checked, cleaned of EXIF (GPS), shrunk, renamed, fingerprinted."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from handbook import services
from handbook.errors import HandbookError
from handbook.models import Claim, ClaimTally, HandbookItem
from handbook.tests.conftest import jpeg_upload
from handbook.tests.factories import HandbookItemFactory

pytestmark = pytest.mark.django_db


def _gps_exif():
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: the camera was turned (rotate 90° to show upright)
    exif[0x010F] = "PhoneMakerXYZ"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (29.0, 33.0, 12.5), 3: "E", 4: (106.0, 34.0, 1.0)})
    return exif


def _photo_item(world):
    return HandbookItemFactory(
        alliance=world.alliance, evidence=HandbookItem.Evidence.PHOTO, limit_per_day=None
    )


def _submit(world, upload, item=None):
    return services.claim_submit(
        user=world.parent,
        item_id=(item or _photo_item(world)).pk,
        occurred_on=world.today,
        photo=upload,
    )


def test_the_stored_photo_has_no_exif_is_upright_shrunk_and_renamed(world):
    # given: a 2400×1800 phone photo with GPS, a camera maker and "turned" orientation
    upload = jpeg_upload(size=(2400, 1800), exif=_gps_exif())
    assert b"PhoneMakerXYZ" in upload.read()
    upload.seek(0)

    # when
    claim = _submit(world, upload)

    # then: the file on disk carries no EXIF at all (no GPS, no maker)
    claim.refresh_from_db()
    stored = Path(claim.photo.path).read_bytes()
    assert b"PhoneMakerXYZ" not in stored and b"Exif" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "JPEG"
        assert not image.getexif() and image.getexif().get_ifd(0x8825) == {}
        # turned upright first (orientation 6: 2400×1800 shows as 1800×2400), then ≤ 1600
        assert image.size == (1200, 1600)
    # a random name, never the uploaded one (it named the child and the day)
    name = Path(claim.photo.name).name
    assert "小明" not in claim.photo.name and "IMG" not in name and name.endswith(".jpg")
    assert len(claim.photo_hash) == 64


def test_the_same_picture_sent_again_is_flagged_whatever_its_name_or_metadata(world):
    first = _submit(world, jpeg_upload(name="a.jpg"))
    # the same picture under another name, with GPS and camera EXIF added
    exif = _gps_exif()
    del exif[0x0112]
    again = _submit(world, jpeg_upload(name="b.jpg", exif=exif))
    other = _submit(world, jpeg_upload(name="c.jpg", color=(10, 200, 30)))

    assert not first.flag_reused_photo
    assert again.flag_reused_photo and again.photo_hash == first.photo_hash
    assert not other.flag_reused_photo and other.photo_hash != first.photo_hash


def test_a_file_that_is_not_an_image_is_refused_naming_the_photo(world):
    fake = SimpleUploadedFile("photo.jpg", b"%PDF-1.4 not a picture", content_type="image/jpeg")
    with pytest.raises(HandbookError) as caught:
        _submit(world, fake)
    assert caught.value.code == "photo_not_image" and caught.value.field == "photo"
    assert "照片" in str(caught.value.message)
    assert not Claim.objects.exists() and not ClaimTally.objects.exists()


def test_a_too_large_photo_is_refused_naming_the_photo(world, settings):
    settings.HANDBOOK_PHOTO_MAX_BYTES = 20_000
    big = jpeg_upload(size=(1600, 1600))
    # a noisy picture, so the JPEG is well above the limit
    image = Image.effect_noise((1200, 1200), 80).convert("RGB")
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=95)
    big = SimpleUploadedFile("big.jpg", out.getvalue(), content_type="image/jpeg")
    assert big.size > 20_000

    with pytest.raises(HandbookError) as caught:
        _submit(world, big)

    assert caught.value.code == "photo_too_large" and caught.value.field == "photo"
    assert "照片" in str(caught.value.message)
    assert not Claim.objects.exists()


def test_a_refused_claim_leaves_no_photo_file_behind(world, settings):
    # given: the item's only place today is taken
    item = HandbookItemFactory(alliance=world.alliance, evidence=HandbookItem.Evidence.PHOTO)
    _submit(world, jpeg_upload(name="first.jpg"), item=item)
    media = Path(settings.MEDIA_ROOT, "handbook")
    before = {p for p in media.rglob("*") if p.is_file()}

    # when: a second one the same day
    with pytest.raises(HandbookError) as caught:
        _submit(world, jpeg_upload(name="second.jpg", color=(1, 2, 3)), item=item)

    # then: refused, and no file was left on disk
    assert caught.value.code == "limit_day"
    assert {p for p in media.rglob("*") if p.is_file()} == before
