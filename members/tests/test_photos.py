"""members.photos.photo_clean, the one picture cleaner (handbook photos, board
images): upright, shrunk, re-encoded from the pixels alone, bombs and non-pictures
refused with a code the caller turns into its own message."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from members.photos import MAX_PIXELS, PhotoRejected, photo_clean

MB = 1024 * 1024


def _picture(size=(2400, 1800), fmt="JPEG", exif=None, color=(20, 120, 200)) -> io.BytesIO:
    image = Image.new("RGB", size, color)
    out = io.BytesIO()
    image.save(out, format=fmt, **({"exif": exif} if exif is not None else {}))
    out.seek(0)
    return out


def test_exif_is_gone_the_picture_is_upright_and_shrunk():
    exif = Image.Exif()
    exif[0x0112] = 6  # taken turned: show rotated by 90°
    exif[0x010F] = "PhoneMakerXYZ"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (29.0, 33.0, 12.5)})
    clean = photo_clean(_picture(exif=exif), max_bytes=8 * MB, max_side=1600)
    assert b"PhoneMakerXYZ" not in clean.content and b"Exif" not in clean.content
    with Image.open(io.BytesIO(clean.content)) as image:
        assert image.format == "JPEG" and not image.getexif()
        assert image.size == (clean.width, clean.height) == (1200, 1600)  # turned upright


def test_png_is_taken_and_small_pictures_keep_their_size():
    clean = photo_clean(_picture(size=(300, 200), fmt="PNG"), max_bytes=MB, max_side=1600)
    assert (clean.width, clean.height) == (300, 200)
    assert clean.content.startswith(b"\xff\xd8")


def test_the_same_pixels_give_the_same_digest_whatever_the_file():
    one = photo_clean(_picture(fmt="PNG"), max_bytes=8 * MB, max_side=800)
    two = photo_clean(_picture(fmt="PNG"), max_bytes=8 * MB, max_side=800)
    other = photo_clean(_picture(fmt="PNG", color=(1, 2, 3)), max_bytes=8 * MB, max_side=800)
    assert one.digest == two.digest != other.digest


@pytest.mark.parametrize("data", [b"", b"GIF89a not really", b"\xff\xd8\xff\xe0broken jpeg"])
def test_what_is_not_a_picture_is_refused(data):
    with pytest.raises(PhotoRejected) as refused:
        photo_clean(io.BytesIO(data), max_bytes=MB, max_side=100)
    assert refused.value.code == "not_image"


def test_too_many_bytes_is_refused_before_decoding():
    upload = _picture(size=(1000, 1000))
    with pytest.raises(PhotoRejected) as refused:
        photo_clean(upload, max_bytes=1024, max_side=100)
    assert (refused.value.code, refused.value.mb) == ("too_large", 1)


def test_a_decompression_bomb_is_refused_not_decoded():
    side = int(MAX_PIXELS**0.5) + 100
    # A huge one-colour PNG compresses to a small file: small on disk, huge in memory.
    with pytest.raises(PhotoRejected) as refused:
        photo_clean(_picture(size=(side, side), fmt="PNG"), max_bytes=64 * MB, max_side=100)
    assert refused.value.code == "too_large"
