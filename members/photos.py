"""Cleaning an uploaded picture, the one copy: the handbook's photos and the
boards' images both come through ``photo_clean``.

The picture is decoded, turned upright by its EXIF orientation, shrunk to at
most ``max_side`` pixels on its long side and re-encoded as a new JPEG from its
pixels alone: EXIF (GPS, camera, time) and every other chunk of metadata is left
behind. A tiny file of a huge picture (a decompression bomb) is refused before
it is decoded. Callers turn ``PhotoRejected`` into their own app's error.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

# Beyond this many pixels a picture is refused, not decoded (a 12 000 × 5 000
# panorama still passes; a bomb of 100 000 × 100 000 does not).
MAX_PIXELS = 64_000_000


@dataclass(frozen=True)
class CleanPhoto:
    content: bytes  # the re-encoded JPEG: pixels only, no metadata
    digest: str  # sha256 of the normalised RGB pixels (the same picture sent again)
    width: int
    height: int


class PhotoRejected(ValueError):
    """Not a picture we take: ``code`` is "too_large" (``mb`` is the limit) or "not_image"."""

    def __init__(self, code: str, *, mb: int = 0):
        self.code = code
        self.mb = mb
        super().__init__(code)


def photo_clean(upload, *, max_bytes: int, max_side: int) -> CleanPhoto:
    """Check, clean and shrink ``upload`` (a file-like object); PhotoRejected if it is not one."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    mb = max(1, max_bytes // (1024 * 1024))
    size = getattr(upload, "size", None)
    if size is not None and size > max_bytes:
        raise PhotoRejected("too_large", mb=mb)
    try:
        upload.seek(0)
    except (AttributeError, OSError):
        pass
    raw = upload.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise PhotoRejected("too_large", mb=mb)
    try:
        with Image.open(io.BytesIO(raw)) as probe:
            probe.verify()
        image = Image.open(io.BytesIO(raw))
        if image.width * image.height > MAX_PIXELS:
            raise PhotoRejected("too_large", mb=mb)
        image.draft("RGB", (max_side * 2, max_side * 2))
        image = ImageOps.exif_transpose(image)
        image = image.convert("RGB")
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    except PhotoRejected:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
    ) as error:
        raise PhotoRejected("not_image", mb=mb) from error
    pixels = image.tobytes()
    digest = hashlib.sha256(f"{image.width}x{image.height}:".encode() + pixels).hexdigest()
    # A new image from the pixels alone: nothing of the original file's metadata
    # (EXIF, XMP, ICC, comments) can come along.
    clean = Image.frombytes("RGB", image.size, pixels)
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=85, optimize=True)
    return CleanPhoto(content=out.getvalue(), digest=digest, width=clean.width, height=clean.height)
