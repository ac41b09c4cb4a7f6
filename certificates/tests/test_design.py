"""The alliance's certificate design (services.design_update): only who issues
for the alliance, the seal re-encoded from its pixels as a PNG that keeps its
transparency, bad files refused on the seal field, audit-logged, and the seal
drawn in red over the issuer line of the PDF."""

from __future__ import annotations

import io

import pypdfium2
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw
from PIL.PngImagePlugin import PngInfo
from pypdf import PdfReader

from certificates import documents, services
from certificates.errors import CertificateError
from certificates.models import CertificateDesign
from certificates.tests.factories import CertificateFactory
from certificates.tests.issuing_world import build_issuing_world
from members.models import AuditLog

pytestmark = pytest.mark.django_db


def seal_upload(*, size=1600, alpha=True, fmt="PNG", name="seal.png") -> SimpleUploadedFile:
    """A red ring on a transparent (or white) ground, with a secret in its metadata."""
    image = Image.new("RGBA" if alpha else "RGB", (size, size), (0, 0, 0, 0) if alpha else "white")
    draw = ImageDraw.Draw(image)
    draw.ellipse(
        (size // 20, size // 20, size - size // 20, size - size // 20),
        outline=(210, 20, 30),
        width=size // 12,
    )
    draw.rectangle((size * 2 // 5, size * 2 // 5, size * 3 // 5, size * 3 // 5), fill=(210, 20, 30))
    out = io.BytesIO()
    if fmt == "PNG":
        info = PngInfo()
        info.add_text("Comment", "secret-13712345678")
        image.save(out, "PNG", pnginfo=info)
    else:
        image.save(out, fmt, comment=b"secret-13712345678")
    return SimpleUploadedFile(name, out.getvalue(), content_type=f"image/{fmt.lower()}")


@pytest.fixture
def w():
    return build_issuing_world()


def stored_seal(design) -> tuple[bytes, Image.Image]:
    with design.seal.storage.open(design.seal.name, "rb") as handle:
        raw = handle.read()
    return raw, Image.open(io.BytesIO(raw))


def test_the_seal_is_re_encoded_with_its_alpha_and_the_change_audited(
    w, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        design = services.design_update(
            user=w.coordinator,
            alliance=w.alliance,
            issuer_name="  镇海区家庭教育指导中心 ",
            signatory="周主任",
            footer="扫码可核验真伪。",
            seal=seal_upload(),
        )
    design.refresh_from_db()
    assert (design.issuer_name, design.signatory) == ("镇海区家庭教育指导中心", "周主任")
    assert design.seal.name.startswith("certificates/seals/") and design.seal.name.endswith(".png")
    assert "seal" not in design.seal.name.rsplit("/", 1)[-1]  # a random name, not the upload's
    raw, image = stored_seal(design)
    assert image.format == "PNG" and image.mode == "RGBA"
    assert max(image.size) == services.SEAL_MAX_SIDE
    assert image.getpixel((image.width // 2, image.height // 2))[:3] == (210, 20, 30)
    assert image.getpixel((2, 2))[3] == 0  # the transparent ground stays transparent
    assert b"secret" not in raw and not image.text
    entry = AuditLog.objects.get(action="certificates.design.update")
    assert entry.actor == w.coordinator and "seal" in entry.data["changed"]

    # Replacing the seal writes a new file and removes the old one after the commit.
    old = design.seal.name
    with django_capture_on_commit_callbacks(execute=True):
        design = services.design_update(
            user=w.coordinator, alliance=w.alliance.pk, seal=seal_upload(size=300)
        )
    assert design.seal.name != old and not design.seal.storage.exists(old)
    assert max(stored_seal(design)[1].size) == 300  # a small seal is not enlarged

    with django_capture_on_commit_callbacks(execute=True):
        design = services.design_update(user=w.coordinator, alliance=w.alliance, seal_remove=True)
    assert not CertificateDesign.objects.get(pk=design.pk).seal
    assert design.issuer_name == ""  # the form sends every field; empty means the alliance's name


def test_a_seal_scanned_on_white_gets_a_transparent_ground(w, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        design = services.design_update(
            user=w.coordinator,
            alliance=w.alliance,
            seal=seal_upload(alpha=False, fmt="JPEG", name="scan.jpg"),
        )
    _, image = stored_seal(design)
    assert image.mode == "RGBA"
    assert image.getpixel((2, 2))[3] == 0
    assert image.getpixel((image.width // 2, image.height // 2))[3] == 255


def test_only_who_issues_for_the_alliance_and_bad_input_named(w):
    for user in (w.other_coordinator, w.unit_coordinator, w.mum.user):
        with pytest.raises(CertificateError) as caught:
            services.design_update(user=user, alliance=w.alliance, issuer_name="冒名")
        assert caught.value.code == "not_allowed"
    assert not CertificateDesign.objects.exists()
    # a district administrator may
    services.design_update(user=w.district_admin, alliance=w.alliance, issuer_name="区教育局")

    bad = [
        (SimpleUploadedFile("seal.png", b"not a picture"), "seal_invalid"),
        (SimpleUploadedFile("seal.png", b"\x89PNG\r\n\x1a\n" + b"0" * 100), "seal_invalid"),
        (SimpleUploadedFile("big.png", b"0" * (services.SEAL_MAX_BYTES + 1)), "seal_too_large"),
    ]
    for upload, code in bad:
        with pytest.raises(CertificateError) as caught:
            services.design_update(user=w.coordinator, alliance=w.alliance, seal=upload)
        assert (caught.value.code, caught.value.field) == (code, "seal")
        assert "印章图片" in caught.value.message
    for field, limit in services.DESIGN_FIELD_MAX.items():
        with pytest.raises(CertificateError) as caught:
            services.design_update(
                user=w.coordinator, alliance=w.alliance, **{field: "字" * (limit + 1)}
            )
        assert caught.value.field == field
    assert CertificateDesign.objects.get(alliance=w.alliance).issuer_name == "区教育局"


def test_the_seal_is_drawn_in_red_over_the_issuer_line(w, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.design_update(
            user=w.coordinator,
            alliance=w.alliance,
            issuer_name="镇海区家庭教育指导中心",
            signatory="周主任",
            footer="本证书可扫码核验。",
            seal=seal_upload(),
        )
    certificate = CertificateFactory(alliance=w.alliance, unit=w.school)
    pdf = documents.certificate_pdf(certificate)
    text = "".join(PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split())
    assert "镇海区家庭教育指导中心" in text and "签发人：周主任" in text
    assert "本证书可扫码核验。" in text

    # The seal is an image with a soft mask (its alpha), drawn once.
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    images = [x.get_object() for x in page["/Resources"]["/XObject"].values()]
    assert [("/SMask" in image) for image in images] == [True]

    # Rendered: the seal's red square sits over the issuer line's centre.
    bitmap = pypdfium2.PdfDocument(pdf)[0].render(scale=1).to_pil().convert("RGB")
    scale = bitmap.width / documents.PAGE_W
    x = (documents.PAGE_W - 62 * documents.mm) * scale
    y = (documents.PAGE_H - (66 + 2) * documents.mm) * scale
    red, green, blue = bitmap.getpixel((round(x), round(y)))
    assert red > 180 and green < 80 and blue < 80
