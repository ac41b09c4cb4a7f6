"""Writes of parent_school that need more than a model's save: a brand
programme's logo (re-encoded from its pixels, no metadata, a random name)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _

from members.photos import PhotoRejected, photo_clean
from members.services import audit_log_record

from .models import BrandProgramme

# A logo is small on every page: refused above this size, shrunk to this many
# pixels on its long side (settings may override both).
BRAND_LOGO_MAX_BYTES = 4 * 1024 * 1024
BRAND_LOGO_MAX_SIDE = 600


class BrandLogoRejected(ValueError):
    """Not a picture the brand can use; ``message`` says why, in Chinese, naming 标志."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


def brand_logo_clean(upload) -> bytes:
    """Check and re-encode ``upload`` through members.photos.photo_clean (upright,
    at most BRAND_LOGO_MAX_SIDE px, a new JPEG from its pixels alone: EXIF, GPS
    and every other chunk of metadata left behind). BrandLogoRejected otherwise."""
    try:
        clean = photo_clean(
            upload,
            max_bytes=getattr(settings, "BRAND_LOGO_MAX_BYTES", BRAND_LOGO_MAX_BYTES),
            max_side=getattr(settings, "BRAND_LOGO_MAX_SIDE", BRAND_LOGO_MAX_SIDE),
        )
    except PhotoRejected as error:
        if error.code == "too_large":
            raise BrandLogoRejected(
                _("标志：图片太大，请上传不超过 %(mb)s MB 的图片。") % {"mb": error.mb}
            ) from error
        raise BrandLogoRejected(_("标志：无法识别这个文件，请上传 JPG 或 PNG 图片。")) from error
    return clean.content


def brand_logo_set(*, brand: BrandProgramme, upload=None, content: bytes | None = None, actor=None):
    """Replace the brand's logo with the cleaned picture (``content`` from
    brand_logo_clean, or ``upload`` cleaned here). Never the uploaded file's
    name: it is stored under a random one. The old file is removed after the
    commit. Returns the brand."""
    if content is None:
        content = brand_logo_clean(upload)
    old_name = brand.logo.name if brand.logo else ""
    with transaction.atomic():
        brand.logo.save(f"{secrets.token_hex(16)}.jpg", ContentFile(content), save=False)
        BrandProgramme.objects.filter(pk=brand.pk).update(logo=brand.logo.name)
        audit_log_record(actor=actor, action="parent_school.brand.logo", target=brand, data={})
        if old_name:
            storage = brand.logo.storage
            transaction.on_commit(lambda: storage.delete(old_name), robust=True)
    return brand


def brand_logo_remove(*, brand: BrandProgramme, actor=None) -> BrandProgramme:
    """Take the brand's logo off (the file is removed after the commit)."""
    if not brand.logo:
        return brand
    old_name, storage = brand.logo.name, brand.logo.storage
    with transaction.atomic():
        BrandProgramme.objects.filter(pk=brand.pk).update(logo="")
        brand.logo = ""
        audit_log_record(
            actor=actor, action="parent_school.brand.logo_remove", target=brand, data={}
        )
        transaction.on_commit(lambda: storage.delete(old_name), robust=True)
    return brand
