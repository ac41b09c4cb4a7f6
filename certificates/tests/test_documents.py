"""The certificate PDF (documents.certificate_pdf): the Chinese texts are there
(pypdf text extraction), the fonts are embedded, the QR code decodes (pypdfium2
render → zxing-cpp) to the verification URL, the attachment is the credential,
a transcript's rows run over pages with the QR block on each, no phone."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pypdfium2
import pytest
import zxingcpp
from pypdf import PdfReader

from certificates import credentials, documents, services
from certificates.eligibility import candidates
from certificates.models import Kind
from certificates.tests.factories import (
    CertificateFactory,
    CertificatePreferenceFactory,
    CertificateRuleFactory,
)
from certificates.tests.issuing_world import build_issuing_world, finish_course
from members.tests.factories import AllianceFactory, MemberUnitFactory

pytestmark = pytest.mark.django_db


def text_of(pdf: bytes) -> str:
    """All pages' text without whitespace (runs in two fonts may be split by spaces)."""
    reader = PdfReader(io.BytesIO(pdf))
    return "".join("".join(page.extract_text().split()) for page in reader.pages)


def qr_texts(pdf: bytes) -> list[str]:
    """The QR code read from each page's rendering (one per page)."""
    found = []
    document = pypdfium2.PdfDocument(pdf)
    for index in range(len(document)):
        image = document[index].render(scale=2).to_pil().convert("L")
        found.append([b.text for b in zxingcpp.read_barcodes(image)])
    return found


def fonts_of(pdf: bytes) -> list[tuple[str, bool]]:
    """(base font name, embedded as TrueType FontFile2) for every font used."""
    result = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendants = font.get("/DescendantFonts")
            target = descendants[0].get_object() if descendants else font
            descriptor = target.get("/FontDescriptor")
            embedded = descriptor is not None and "/FontFile2" in descriptor.get_object()
            result.append((str(font["/BaseFont"]), embedded))
    return result


@pytest.fixture
def issued():
    """A course certificate issued as in production: the signed credential stored."""
    w = build_issuing_world()
    finish_course(w, w.mum)
    rule = CertificateRuleFactory(alliance=w.alliance, kind=Kind.COURSE, mentions_child=True)
    CertificatePreferenceFactory(family=w.mum.family, child_nickname_shown=True)
    (candidate,) = candidates(rule, w.term, limit=1)
    certificate, _ = services.certificate_issue(
        candidate=candidate, alliance=w.alliance, term=w.term
    )
    return w, certificate


def test_the_certificate_prints_its_texts_qr_and_credential(issued):
    w, certificate = issued
    assert certificate.credential  # signed at issue
    pdf = documents.certificate_pdf(certificate)
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    width, height = (float(v) for v in reader.pages[0].mediabox[2:])
    assert (round(width), round(height)) == (595, 842)  # A4

    text = text_of(pdf)
    url = credentials.verification_url(certificate)
    for expected in (
        "结业证书",
        "兹证明",
        "张晓华",  # the holder's full name: this is the holder's document
        "亲子沟通的艺术",
        "小雨点",  # the opted-in nickname
        str(w.term),
        "蛟川书院",
        "镇海区家校社协同育人联盟",
        documents.date_label(certificate.issued_on),
        certificate.code_display,
        url,
    ):
        assert "".join(expected.split()) in text, expected
    for phone in w.phones():
        assert phone not in text
    assert w.school.contact_phone not in text  # the unit's phone neither

    # Chinese and Latin fonts, both embedded as TrueType subsets.
    fonts = fonts_of(pdf)
    assert {name.split("+")[-1] for name, _ in fonts} == {
        "DroidSansFallback",
        "BitstreamVeraSans-Roman",
    }
    assert all(embedded for _, embedded in fonts), fonts

    assert qr_texts(pdf) == [[url]]

    attached = reader.attachments[documents.CREDENTIAL_FILENAME]
    assert json.loads(attached[0]) == certificate.credential
    assert credentials.credential_from_pdf(pdf) == certificate.credential
    assert credentials.credential_verify(credentials.credential_from_pdf(pdf)).ok


@pytest.mark.parametrize(
    ("kind", "title", "extra", "printed"),
    [
        (Kind.COURSE, "结业证书", {}, "准予结业"),
        (Kind.CREDITS, "学分达标证书", {"credits": Decimal("12.5")}, "累计获得12.5学分"),
        (
            Kind.LEARNING_FAMILY,
            "学习型家庭证书",
            {"holder_name": "张晓华家庭"},
            "「学习型家庭」",
        ),
        (Kind.VOLUNTEER, "志愿服务证书", {"hours": Decimal("16.0")}, "累计服务16小时"),
    ],
)
def test_each_kind_has_its_title_and_sentence(kind, title, extra, printed):
    certificate = CertificateFactory(kind=kind, **extra)
    pdf = documents.certificate_pdf(certificate)
    text = text_of(pdf)
    assert title in text
    assert printed in text
    assert certificate.holder_name in text
    # no credential yet: nothing attached, and no line saying there is
    assert not PdfReader(io.BytesIO(pdf)).attachments
    assert "credential.json" not in text
    assert qr_texts(pdf) == [[credentials.verification_url(certificate)]]


def test_no_nickname_unless_the_certificate_carries_one():
    certificate = CertificateFactory(child_nickname="")
    text = text_of(documents.certificate_pdf(certificate))
    assert "孩子" not in text


def test_a_transcript_runs_over_pages_with_the_qr_block_on_each():
    alliance = AllianceFactory(name="镇海区家校社协同育人联盟")
    rows = [
        {
            "term": "2025–2026学年第一学期" if i < 40 else "2025–2026学年第二学期",
            "course": f"亲子沟通的艺术第{i}讲",
            "date": f"2025-10-{i % 28 + 1:02d}",
            "reason": "出席课程",
            "credits": "1.5",
        }
        for i in range(70)
    ]
    certificate = CertificateFactory(
        kind=Kind.TRANSCRIPT,
        alliance=alliance,
        unit=MemberUnitFactory(name="镇海区家庭教育指导中心"),
        term=None,
        subject_title="学分银行成绩单",
        data={"rows": rows, "total": "105"},
        credits=Decimal("105"),
        credential={"type": ["VerifiableCredential"], "id": "urn:uuid:test"},
    )
    pdf = documents.certificate_pdf(certificate)
    reader = PdfReader(io.BytesIO(pdf))
    pages = len(reader.pages)
    assert pages >= 3
    text = text_of(pdf)
    assert "学分银行成绩单" in text and "张晓华" in text
    for row in rows:
        assert row["course"] in text
    assert "2025–2026学年第一学期" in text and "2025–2026学年第二学期" in text
    assert "合计105" in text
    assert f"第{pages}页，共{pages}页" in text
    assert all(embedded for _, embedded in fonts_of(pdf))
    url = credentials.verification_url(certificate)
    assert qr_texts(pdf) == [[url]] * pages
    assert json.loads(reader.attachments["credential.json"][0]) == certificate.credential
