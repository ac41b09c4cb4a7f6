"""The certificate as a PDF (docs/CERTIFICATES.md, "the document").

``certificate_pdf`` draws one A4 page with ReportLab (a transcript: as many pages
as its rows need) and returns the bytes. What it prints:

* the alliance's design (``CertificateDesign``): the issuer line with the seal
  image over it, the signatory and the footer; without a design, the alliance's
  name and no seal;
* the holder's full name (this is the holder's own document; the public page and
  the credential show it masked), a child's nickname only when the certificate
  carries one, never a phone;
* a QR code of the verification URL (``credentials.verification_url``), the short
  code and the URL in writing, so it can be checked by phone or typed in;
* the signed credential as an embedded file ``credential.json`` (pypdf), so the
  certificate still verifies offline if the portal moves or is down.

Fonts: Droid Sans Fallback (certificates/fonts) has the Chinese characters but no
Latin letters or digits, so Latin runs are set in Bitstream Vera, which ships with
ReportLab. Both are embedded as subsets (TrueType ``FontFile2``): the PDF looks the
same on every phone, with nothing installed.
"""

from __future__ import annotations

import datetime
import io
import json
import logging
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as pdf_canvas
from reportlab.platypus import Paragraph, Spacer, Table, TableStyle
from reportlab.platypus.doctemplate import BaseDocTemplate, PageTemplate
from reportlab.platypus.frames import Frame

from .models import Certificate, CertificateDesign, Kind

logger = logging.getLogger(__name__)

FONT_PATH = Path(__file__).resolve().parent / "fonts" / "DroidSansFallbackFull.ttf"
CJK_FONT = "CertificateCJK"
LATIN_FONT = "CertificateLatin"
#: The file name of the embedded credential (credentials.credential_from_pdf reads it).
CREDENTIAL_FILENAME = "credential.json"

# Colours: a deep seal red for the frame and title, an old gold for the inner
# line, near-black for text and a grey for small print.
RED = colors.HexColor("#A31F24")
GOLD = colors.HexColor("#B08D3C")
INK = colors.HexColor("#222222")
GREY = colors.HexColor("#666666")
PALE = colors.HexColor("#F6F1E7")

PAGE_W, PAGE_H = A4
#: Baseline of the last footer line (above the frame's lower corner marks).
FOOTER_Y = 20 * mm


def _titles() -> dict[str, str]:
    return {
        Kind.COURSE: _("结业证书"),
        Kind.CREDITS: _("学分达标证书"),
        Kind.LEARNING_FAMILY: _("学习型家庭证书"),
        Kind.VOLUNTEER: _("志愿服务证书"),
        Kind.TRANSCRIPT: _("学分银行成绩单"),
    }


def document_title(certificate: Certificate) -> str:
    """「结业证书」, 「学分银行成绩单」 …: the large title printed on the document."""
    return _titles().get(certificate.kind, _("证书"))


# -- fonts and text ------------------------------------------------------------------


@lru_cache(maxsize=1)
def _fonts() -> frozenset[int]:
    """Register both fonts once per process (parsing the 4 MB font takes a while);
    returns the code points the Chinese font has."""
    cjk = TTFont(CJK_FONT, str(FONT_PATH))
    pdfmetrics.registerFont(cjk)
    pdfmetrics.registerFont(TTFont(LATIN_FONT, "Vera.ttf"))
    return frozenset(cjk.face.charToGlyph)


def _runs(text: str) -> list[tuple[str, str]]:
    """Split ``text`` into (font, run) pieces: Chinese in Droid Sans Fallback,
    everything that font lacks (letters, digits, ASCII punctuation) in Vera."""
    cjk = _fonts()
    runs: list[tuple[str, str]] = []
    for ch in text:
        font = CJK_FONT if ord(ch) in cjk else LATIN_FONT
        if runs and runs[-1][0] == font:
            runs[-1] = (font, runs[-1][1] + ch)
        else:
            runs.append((font, ch))
    return runs


def _width(text: str, size: float, char_space: float = 0) -> float:
    return sum(pdfmetrics.stringWidth(run, font, size) for font, run in _runs(text)) + (
        char_space * len(text)
    )


def _draw(
    c,
    x: float,
    y: float,
    text: str,
    size: float,
    *,
    align: str = "left",
    color=INK,
    char_space: float = 0,
    bold: bool = False,
) -> float:
    """Draw one line of mixed Chinese/Latin text; returns its width. ``bold``
    strokes the glyph outlines as well (the font has no bold face)."""
    width = _width(text, size, char_space)
    if align == "center":
        x -= width / 2
    elif align == "right":
        x -= width
    c.saveState()
    c.setFillColor(color)
    text_object = c.beginText(x, y)
    if char_space:
        text_object.setCharSpace(char_space)
    if bold:
        c.setStrokeColor(color)
        c.setLineWidth(size * 0.035)
        text_object.setTextRenderMode(2)
    for font, run in _runs(text):
        text_object.setFont(font, size)
        text_object.textOut(run)
    c.drawText(text_object)
    c.restoreState()
    return width


# A line may not start with these (Chinese typesetting keeps them on the line before).
_NO_LINE_START = set("，。、；：？！）」』》〉】”’,.;:?!)")


def _wrap(text: str, size: float, width: float) -> list[str]:
    """Break ``text`` into lines no wider than ``width`` (Chinese breaks anywhere;
    closing punctuation stays with the character before it)."""
    lines: list[str] = []
    line = ""
    for ch in text:
        if line and ch not in _NO_LINE_START and _width(line + ch, size) > width:
            lines.append(line)
            line = ch
        else:
            line += ch
    if line:
        lines.append(line)
    return lines


def _markup(text: str) -> str:
    """``text`` as Paragraph markup, each run in its font (for the transcript table)."""
    return "".join(
        escape(run) if font == CJK_FONT else f'<font name="{LATIN_FONT}">{escape(run)}</font>'
        for font, run in _runs(str(text))
    )


def date_label(value: datetime.date | str | None) -> str:
    """2026-01-20 → 「2026年1月20日」."""
    if isinstance(value, str):
        try:
            value = datetime.date.fromisoformat(value[:10])
        except ValueError:
            return value
    if value is None:
        return ""
    return _("%(year)s年%(month)s月%(day)s日") % {
        "year": value.year,
        "month": value.month,
        "day": value.day,
    }


def number_label(value) -> str:
    """Decimal("12.0") → "12", Decimal("2.5") → "2.5" (credits and hours)."""
    if value is None or value == "":
        return ""
    number = Decimal(str(value))
    text = format(number.quantize(Decimal("0.1")), "f")
    return text[:-2] if text.endswith(".0") else text


# -- shared pieces -------------------------------------------------------------------


def _design(certificate: Certificate) -> CertificateDesign | None:
    return CertificateDesign.objects.filter(alliance_id=certificate.alliance_id).first()


def _issuer_name(certificate: Certificate, design: CertificateDesign | None) -> str:
    return (design.issuer_name if design else "") or certificate.alliance.name


def _seal_image(design: CertificateDesign | None) -> ImageReader | None:
    """The seal as ReportLab reads it (its alpha kept), or None. A seal file that
    has gone missing leaves the certificate without a seal rather than unprinted."""
    if design is None or not design.seal:
        return None
    try:
        with design.seal.storage.open(design.seal.name, "rb") as handle:
            return ImageReader(io.BytesIO(handle.read()))
    except (OSError, ValueError) as error:
        logger.warning("certificate seal %s unreadable: %s", design.seal.name, error)
        return None


def _verification_url(certificate: Certificate) -> str:
    from . import credentials  # noqa: PLC0415  (credentials imports the models, not us)

    return credentials.verification_url(certificate)


def _draw_qr(c, url: str, x: float, y: float, size: float) -> None:
    """The QR code of ``url`` as vector squares, ``size`` wide with its quiet zone,
    lower-left corner at (x, y); a white ground so it reads on any background."""
    import segno  # noqa: PLC0415

    qr = segno.make(url, error="m", micro=False)
    matrix = qr.matrix
    border = 4
    count = len(matrix) + 2 * border
    module = size / count
    c.saveState()
    c.setFillColor(colors.white)
    c.rect(x, y, size, size, stroke=0, fill=1)
    c.setFillColor(colors.black)
    for row_index, row in enumerate(matrix):
        top = y + size - (row_index + border + 1) * module
        column = 0
        while column < len(row):
            if not row[column]:
                column += 1
                continue
            start = column
            while column < len(row) and row[column]:
                column += 1
            # Slightly overlapping squares: no hairline gaps when rasterised.
            c.rect(
                x + (start + border) * module,
                top - 0.01,
                (column - start) * module + 0.01,
                module + 0.02,
                stroke=0,
                fill=1,
            )
    c.restoreState()


def _draw_verification(
    c, certificate: Certificate, url: str, x: float, y: float, size: float, text_width: float
):
    """The QR block, lower-left at (x, y): the code, and to its right the short
    code and the URL to type (kept within ``text_width``, however long the host)."""
    _draw_qr(c, url, x, y, size)
    left = x + size + 3 * mm
    top = y + size - 4.5 * mm
    _draw(c, left, top, _("扫码核验真伪"), 9, color=GREY)
    code_size = 15 if _width(certificate.code_display, 15) <= text_width else 12
    _draw(c, left, top - 7.5 * mm, certificate.code_display, code_size, char_space=0.6)
    _draw(c, left, top - 12.5 * mm, _("或用浏览器打开下列网址："), 7.5, color=GREY)
    url_size = 7.5
    while url_size > 5 and _width(url, url_size) > text_width:
        url_size -= 0.25
    line_y = top - 16.5 * mm
    for line in _wrap(url, url_size, text_width)[:2]:
        _draw(c, left, line_y, line, url_size, color=GREY)
        line_y -= url_size + 1.5


def _draw_frame(c) -> None:
    """The double frame: a red outer line, a gold inner one, and corner marks."""
    c.saveState()
    c.setStrokeColor(RED)
    c.setLineWidth(2.4)
    c.rect(10 * mm, 10 * mm, PAGE_W - 20 * mm, PAGE_H - 20 * mm, stroke=1, fill=0)
    c.setStrokeColor(GOLD)
    c.setLineWidth(0.8)
    c.rect(13 * mm, 13 * mm, PAGE_W - 26 * mm, PAGE_H - 26 * mm, stroke=1, fill=0)
    # Red corner brackets inside the gold line.
    c.setStrokeColor(RED)
    c.setLineWidth(1.6)
    arm, inset = 7 * mm, 15.5 * mm
    for cx, dx in ((inset, 1), (PAGE_W - inset, -1)):
        for cy, dy in ((inset, 1), (PAGE_H - inset, -1)):
            c.line(cx, cy, cx + dx * arm, cy)
            c.line(cx, cy, cx, cy + dy * arm)
    c.restoreState()


def _draw_rule(c, y: float, half_width: float) -> None:
    """A thin gold rule under the title with a diamond in its middle."""
    middle = PAGE_W / 2
    c.saveState()
    c.setStrokeColor(GOLD)
    c.setLineWidth(0.7)
    c.line(middle - half_width, y, middle - 3 * mm, y)
    c.line(middle + 3 * mm, y, middle + half_width, y)
    c.setFillColor(GOLD)
    path = c.beginPath()
    path.moveTo(middle, y + 1.6 * mm)
    path.lineTo(middle + 1.6 * mm, y)
    path.lineTo(middle, y - 1.6 * mm)
    path.lineTo(middle - 1.6 * mm, y)
    path.close()
    c.drawPath(path, stroke=0, fill=1)
    c.restoreState()


def _draw_issuer(
    c,
    certificate: Certificate,
    design: CertificateDesign | None,
    seal: ImageReader | None,
    x: float,
    y: float,
) -> None:
    """The issuer line centred at ``x`` (baseline ``y``), the signatory and date
    under it, and the seal over it, as a seal is stamped over a signature."""
    issuer = _issuer_name(certificate, design)
    size = 13 if _width(issuer, 14) > 70 * mm else 14
    _draw(c, x, y, issuer, size, align="center")
    line_y = y - 7 * mm
    if design and design.signatory:
        _draw(c, x, line_y, _("签发人：%(name)s") % {"name": design.signatory}, 11, align="center")
        line_y -= 6.5 * mm
    _draw(c, x, line_y, date_label(certificate.issued_on), 11, align="center")
    if seal is not None:
        diameter = 38 * mm
        c.drawImage(
            seal,
            x - diameter / 2,
            y + 2 * mm - diameter / 2,
            diameter,
            diameter,
            mask="auto",
            preserveAspectRatio=True,
            anchor="c",
        )


def _draw_footer(c, design: CertificateDesign | None, certificate: Certificate) -> None:
    notes = []
    if design and design.footer:
        notes.append(design.footer)
    if certificate.credential:
        notes.append(_("本文件内附可离线验证的电子凭证（credential.json）。"))
    y = FOOTER_Y
    for note in reversed(notes):
        for line in reversed(_wrap(note, 8, PAGE_W - 70 * mm)):
            _draw(c, PAGE_W / 2, y, line, 8, align="center", color=GREY)
            y += 4 * mm


def _statement(certificate: Certificate) -> str:
    """The sentence under the holder's name, by kind."""
    term = str(certificate.term) if certificate.term_id else ""
    subject = certificate.subject_title
    if certificate.kind == Kind.COURSE:
        if certificate.child_nickname:
            return _(
                "与孩子「%(nickname)s」一同参加「%(subject)s」课程学习，"
                "完成规定的学习要求，准予结业，特发此证。"
            ) % {"nickname": certificate.child_nickname, "subject": subject}
        return _("参加「%(subject)s」课程学习，完成规定的学习要求，准予结业，特发此证。") % {
            "subject": subject
        }
    if certificate.kind == Kind.CREDITS:
        return _(
            "在%(term)s的家庭教育学习中累计获得 %(credits)s 学分，达到学分要求，特发此证。"
        ) % {
            "term": term,
            "credits": number_label(certificate.credits),
        }
    if certificate.kind == Kind.LEARNING_FAMILY:
        return _("被评为%(term)s「学习型家庭」，特发此证，以资鼓励。") % {"term": term}
    if certificate.kind == Kind.VOLUNTEER:
        return _(
            "在%(term)s参加家庭教育志愿服务，累计服务 %(hours)s 小时，特发此证，以资鼓励。"
        ) % {"term": term, "hours": number_label(certificate.hours)}
    return subject


def _details(certificate: Certificate) -> list[tuple[str, str]]:
    rows = [(_("证书内容"), certificate.subject_title)]
    if certificate.term_id:
        rows.append((_("学期"), str(certificate.term)))
    if certificate.credits is not None:
        rows.append((_("学分"), number_label(certificate.credits)))
    if certificate.hours is not None:
        rows.append(
            (_("服务时长"), _("%(hours)s 小时") % {"hours": number_label(certificate.hours)})
        )
    if certificate.child_nickname:
        rows.append((_("孩子昵称"), certificate.child_nickname))
    rows.append((_("发证单位"), certificate.unit.name))
    rows.append((_("所属联盟"), certificate.alliance.name))
    rows.append((_("证书编号"), certificate.code_display))
    return rows


# -- the certificate page ------------------------------------------------------------


def _certificate_page(c, certificate: Certificate, design, seal, url: str) -> None:
    _draw_frame(c)
    middle = PAGE_W / 2
    top = PAGE_H

    _draw(c, middle, top - 38 * mm, certificate.alliance.name, 13, align="center", color=GREY)
    title = document_title(certificate)
    title_size = 40 if len(title) <= 5 else 34
    _draw(
        c,
        middle,
        top - 62 * mm,
        title,
        title_size,
        align="center",
        color=RED,
        char_space=title_size * 0.28,
        bold=True,
    )
    _draw_rule(c, top - 72 * mm, 55 * mm)

    left = 32 * mm
    body_width = PAGE_W - 2 * left
    _draw(c, left, top - 94 * mm, _("兹证明"), 15)
    name = certificate.holder_name
    name_size = 26 if _width(name, 26) < body_width - 20 * mm else 20
    name_y = top - 112 * mm
    name_width = _draw(c, middle, name_y, name, name_size, align="center", bold=True)
    c.saveState()
    c.setStrokeColor(INK)
    c.setLineWidth(0.6)
    half = max(name_width / 2 + 10 * mm, 35 * mm)
    c.line(middle - half, name_y - 3 * mm, middle + half, name_y - 3 * mm)
    c.restoreState()

    y = top - 128 * mm
    first = True
    for line in _wrap(_statement(certificate), 15, body_width - 15 * mm):
        # The first line is indented by two characters, as a Chinese paragraph is.
        _draw(c, left + (15 * 2 if first else 0), y, line, 15)
        first = False
        y -= 9 * mm

    # The particulars on a pale panel.
    details = _details(certificate)
    row_height = 7.5 * mm
    panel_top = y - 4 * mm
    panel_height = row_height * len(details) + 5 * mm
    c.saveState()
    c.setFillColor(PALE)
    c.setStrokeColor(PALE)
    c.roundRect(left, panel_top - panel_height, body_width, panel_height, 2 * mm, stroke=0, fill=1)
    c.restoreState()
    label_x = left + 8 * mm
    value_x = left + 34 * mm
    value_width = body_width - 42 * mm
    row_y = panel_top - 7 * mm
    for label, value in details:
        _draw(c, label_x, row_y, label, 11, color=GREY)
        lines = _wrap(str(value), 11, value_width) or [""]
        _draw(c, value_x, row_y, lines[0] if len(lines) == 1 else lines[0][:-1] + "…", 11)
        row_y -= row_height

    qr_size = 32 * mm
    _draw_verification(c, certificate, url, 24 * mm, 42 * mm, qr_size, 48 * mm)
    _draw_issuer(c, certificate, design, seal, PAGE_W - 62 * mm, 66 * mm)
    _draw_footer(c, design, certificate)


# -- the transcript ------------------------------------------------------------------


def _transcript_story(certificate: Certificate) -> list:
    style = ParagraphStyle(
        "cell", fontName=CJK_FONT, fontSize=9.5, leading=13, textColor=INK, wordWrap="CJK"
    )
    right = ParagraphStyle("cell_right", parent=style, alignment=TA_RIGHT)
    head = ParagraphStyle("head", parent=style, textColor=colors.white)
    head_right = ParagraphStyle("head_right", parent=head, alignment=TA_RIGHT)
    term_style = ParagraphStyle("term", parent=style, textColor=RED, fontSize=10)
    term_right = ParagraphStyle("term_right", parent=term_style, alignment=TA_RIGHT)
    info = ParagraphStyle("info", parent=style, fontSize=11, leading=17, alignment=TA_LEFT)

    data = certificate.data or {}
    rows = data.get("rows") or []
    story: list = []
    particulars = [
        (_("持有人"), certificate.holder_name),
        (_("出具单位"), certificate.unit.name),
        (_("所属联盟"), certificate.alliance.name),
        (_("出具日期"), date_label(certificate.issued_on)),
        (_("累计学分"), number_label(data.get("total", certificate.credits))),
        (_("记录条数"), str(len(rows))),
    ]
    cells = [
        Paragraph(f'<font color="#666666">{_markup(label)}</font>　{_markup(value)}', info)
        for label, value in particulars
    ]
    info_table = Table(
        [cells[i : i + 2] for i in range(0, len(cells), 2)],
        colWidths=[(PAGE_W - 50 * mm) / 2] * 2,
    )
    info_table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), LATIN_FONT),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    story += [info_table, Spacer(1, 5 * mm)]

    header = [
        Paragraph(_markup(_("课程")), head),
        Paragraph(_markup(_("日期")), head),
        Paragraph(_markup(_("原因")), head),
        Paragraph(_markup(_("学分")), head_right),
    ]
    body = [header]
    commands = [
        ("FONTNAME", (0, 0), (-1, -1), LATIN_FONT),  # the empty cells' font
        ("BACKGROUND", (0, 0), (-1, 0), RED),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 1), (-1, -1), 0.4, colors.HexColor("#D9D2C3")),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
    ]
    # Rows by term: a shaded line with the term and its subtotal, then its rows
    # (consecutive rows of one term form a group; the rows come ordered by term).
    groups: list[tuple[str, list[dict]]] = []
    for row in rows:
        term = str(row.get("term") or "") or _("未分学期")
        if groups and groups[-1][0] == term:
            groups[-1][1].append(row)
        else:
            groups.append((term, [row]))
    for term, term_rows in groups:
        subtotal = sum((Decimal(str(r.get("credits") or 0)) for r in term_rows), Decimal(0))
        index = len(body)
        body.append(
            [
                Paragraph(_markup(term), term_style),
                "",
                "",
                Paragraph(_markup(number_label(subtotal)), term_right),
            ]
        )
        commands += [
            ("SPAN", (0, index), (2, index)),
            ("BACKGROUND", (0, index), (-1, index), PALE),
        ]
        for row in term_rows:
            body.append(
                [
                    Paragraph(_markup(row.get("course") or "—"), style),
                    Paragraph(_markup(row.get("date") or ""), style),
                    Paragraph(_markup(row.get("reason") or ""), style),
                    Paragraph(_markup(number_label(row.get("credits"))), right),
                ]
            )
    if not rows:
        commands.append(("SPAN", (0, 1), (-1, 1)))
        body.append([Paragraph(_markup(_("暂无学分记录。")), style), "", "", ""])
    body.append(
        [
            Paragraph(_markup(_("合计")), term_style),
            "",
            "",
            Paragraph(_markup(number_label(data.get("total", certificate.credits))), term_right),
        ]
    )
    commands.append(("LINEABOVE", (0, -1), (-1, -1), 0.9, INK))
    width = PAGE_W - 50 * mm
    table = Table(
        body,
        colWidths=[width * 0.52, width * 0.16, width * 0.20, width * 0.12],
        repeatRows=1,
    )
    table.setStyle(TableStyle(commands))
    story.append(table)
    return story


class _NumberedCanvas(pdf_canvas.Canvas):
    """Holds the pages until the end so each can say 「第 2 页，共 5 页」."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []

    def showPage(self):  # noqa: N802  (ReportLab's name)
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self):
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            _draw(
                self,
                PAGE_W - 25 * mm,
                FOOTER_Y,
                _("第 %(page)s 页，共 %(total)s 页") % {"page": number, "total": total},
                8,
                align="right",
                color=GREY,
            )
            super().showPage()
        super().save()


def _transcript_pdf(certificate: Certificate, design, seal, url: str, out) -> None:
    margin_x = 25 * mm
    # The header (title) above the frame, the QR block and issuer below it.
    frame = Frame(
        margin_x,
        70 * mm,
        PAGE_W - 2 * margin_x,
        PAGE_H - 70 * mm - 52 * mm,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
    )

    def on_page(c, doc):
        _draw_frame(c)
        _draw(
            c,
            PAGE_W / 2,
            PAGE_H - 30 * mm,
            certificate.alliance.name,
            12,
            align="center",
            color=GREY,
        )
        _draw(
            c,
            PAGE_W / 2,
            PAGE_H - 44 * mm,
            document_title(certificate),
            26,
            align="center",
            color=RED,
            char_space=6,
            bold=True,
        )
        _draw_rule(c, PAGE_H - 49 * mm, 50 * mm)
        # The QR block on every page: a single page printed alone still verifies.
        _draw_verification(c, certificate, url, 24 * mm, 33 * mm, 28 * mm, 52 * mm)
        _draw_issuer(c, certificate, design, seal, PAGE_W - 62 * mm, 52 * mm)
        _draw_footer(c, design, certificate)

    doc = BaseDocTemplate(
        out,
        pagesize=A4,
        title=f"{document_title(certificate)} {certificate.code_display}",
        author=_issuer_name(certificate, design),
        subject=document_title(certificate),
        creator="alliance certificates",
        # Our font from the start: no unembedded Helvetica in the page resources.
        initialFontName=LATIN_FONT,
    )
    doc.addPageTemplates([PageTemplate(id="transcript", frames=[frame], onPage=on_page)])
    doc.build(_transcript_story(certificate), canvasmaker=_NumberedCanvas)


# -- the document ----------------------------------------------------------------------


def _attach_credential(pdf: bytes, credential: dict) -> bytes:
    """Embed the signed credential as ``credential.json`` (an associated file of
    the document, type application/json)."""
    from pypdf import PdfReader, PdfWriter  # noqa: PLC0415
    from pypdf.generic import NameObject, TextStringObject  # noqa: PLC0415

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    content = json.dumps(credential, ensure_ascii=False, sort_keys=True, indent=2).encode()
    attachment = writer.add_attachment(CREDENTIAL_FILENAME, content)
    attachment.subtype = NameObject("/application#2Fjson")
    attachment.description = TextStringObject(_("可验证凭证（Open Badges 3.0）"))
    attachment.associated_file_relationship = NameObject("/Data")
    # The viewer opens the attachments panel, so the file is easy to find.
    writer.page_mode = "/UseAttachments"
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def certificate_pdf(certificate: Certificate) -> bytes:
    """The certificate (or transcript) as an A4 PDF, fonts embedded, with its QR
    code, short code and URL, and the signed credential attached when it has one."""
    _fonts()
    design = _design(certificate)
    seal = _seal_image(design)
    url = _verification_url(certificate)
    out = io.BytesIO()
    if certificate.kind == Kind.TRANSCRIPT:
        _transcript_pdf(certificate, design, seal, url, out)
    else:
        # The initial font is ours too: no unembedded Helvetica in the page resources.
        c = pdf_canvas.Canvas(out, pagesize=A4, initialFontName=LATIN_FONT)
        c.setTitle(f"{document_title(certificate)} {certificate.code_display}")
        c.setAuthor(_issuer_name(certificate, design))
        c.setSubject(certificate.subject_title)
        c.setCreator("alliance certificates")
        _certificate_page(c, certificate, design, seal, url)
        c.showPage()
        c.save()
    pdf = out.getvalue()
    if certificate.credential:
        pdf = _attach_credential(pdf, certificate.credential)
    return pdf
