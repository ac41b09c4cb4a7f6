"""Demo certificates for ``manage.py load_demo`` (after volunteers.demo).

溪口协同育人联盟 gets its rules (a course finished with every session attended and
its lessons watched; 5 credits in a term) and a design whose seal is a red stamp
drawn here with Pillow (an invented seal; the footer says 演示数据). Then its
coordinator presses the button for the term: a manual batch, worked through to
the end in this process. The demo has one term, still running, so what is
certified is what was reached so far: the demo parent's and 陈妈妈's 5 credits.
The PDFs are rendered by the worker after the commit, or on the first download.
Only one alliance: load_demo's query budget (portal/tests/test_load_demo.py)
leaves room for about a hundred queries, and each rule, design and certificate
goes through its service (about ten queries each).

Idempotent: rules and designs that exist are left as they are, the batch is
started once per alliance and term, and issuing is once per person and reason.
"""

from __future__ import annotations

import io
import math
from decimal import Decimal
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from PIL import Image, ImageDraw, ImageFont

from members.demo import DEMO_ALLIANCES, DEMO_USERS
from members.models import Alliance
from parent_school.models import Term

from . import services
from .models import Certificate, CertificateBatch, CertificateDesign, CertificateRule, Kind

FONT = Path(__file__).resolve().parent / "fonts" / "DroidSansFallbackFull.ttf"
SEAL_SIZE = 600
SEAL_RED = (200, 16, 30)

XIKOU = DEMO_ALLIANCES[0]
# (alliance, who presses the button, issuer line, signatory, rules as (kind, fields))
ALLIANCES = [
    (
        XIKOU,
        "xikou",
        "溪口协同育人联盟家长学校",
        "联盟秘书处",
        [
            (Kind.COURSE, {"attendance_percent": 100, "lessons_required": True}),
            (Kind.CREDITS, {"credits_min": Decimal("5")}),
        ],
    ),
]
FOOTER = "演示数据：本证书为系统演示而生成。扫描二维码或输入验证码，可在手机上核验真伪。"


def seal_png(text: str) -> bytes:
    """A round red stamp on a transparent ground: a double ring, a star and the
    unit's name along the top, 「证书专用章」 under the star (drawn, not a real seal)."""
    size = SEAL_SIZE
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    centre = size / 2
    draw.ellipse([12, 12, size - 12, size - 12], outline=SEAL_RED + (235,), width=22)
    draw.ellipse([44, 44, size - 44, size - 44], outline=SEAL_RED + (200,), width=5)
    # a five-pointed star in the middle
    points = []
    for i in range(10):
        radius = 80 if i % 2 == 0 else 32
        angle = -math.pi / 2 + i * math.pi / 5
        points.append((centre + radius * math.cos(angle), centre - 10 + radius * math.sin(angle)))
    draw.polygon(points, fill=SEAL_RED + (235,))
    # the name, one character at a time along the upper arc
    name_font = ImageFont.truetype(str(FONT), 56)
    characters = list(text)[:16]
    span = math.radians(220)
    for i, character in enumerate(characters):
        angle = -math.pi / 2 - span / 2 + span * (i + 0.5) / len(characters)
        glyph = Image.new("RGBA", (72, 72), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((8, 4), character, font=name_font, fill=SEAL_RED + (235,))
        glyph = glyph.rotate(-math.degrees(angle) - 90, resample=Image.BICUBIC)
        x = centre + 205 * math.cos(angle) - 36
        y = centre + 205 * math.sin(angle) - 36
        image.alpha_composite(glyph, (int(x), int(y)))
    label_font = ImageFont.truetype(str(FONT), 44)
    label = "证书专用章"
    width = draw.textlength(label, font=label_font)
    draw.text((centre - width / 2, centre + 95), label, font=label_font, fill=SEAL_RED + (235,))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _user(who: str):
    return get_user_model().objects.get(username=DEMO_USERS[who][0])


def _rules(user, alliance: Alliance, rules) -> None:
    have = set(CertificateRule.objects.filter(alliance=alliance).values_list("kind", flat=True))
    for kind, fields in rules:
        if kind.value not in have:
            services.rule_update(user=user, alliance=alliance, kind=kind.value, **fields)


def _design(user, alliance: Alliance, issuer_name: str, signatory: str) -> None:
    if CertificateDesign.objects.filter(alliance=alliance).exists():
        return
    seal = SimpleUploadedFile("seal.png", seal_png(alliance.name), content_type="image/png")
    services.design_update(
        user=user,
        alliance=alliance,
        issuer_name=issuer_name,
        signatory=signatory,
        footer=FOOTER,
        seal=seal,
    )


def _issue(user, alliance: Alliance, term: Term) -> None:
    """The coordinator's button for the term, once; the chunks are worked here."""
    if CertificateBatch.objects.filter(alliance=alliance, term=term).exists():
        return
    batch = services.batch_start(
        alliance=alliance, term=term, trigger=CertificateBatch.Trigger.MANUAL, user=user
    )
    while services.batch_run_chunk(batch_id=batch.pk):
        pass


@transaction.atomic
def load(stdout=None) -> dict[str, int]:
    term = Term.objects.filter(is_current=True).order_by("-starts_on").first()
    for name, who, issuer_name, signatory, rules in ALLIANCES:
        alliance = Alliance.objects.filter(name=name).first()
        if alliance is None:
            continue
        user = _user(who)
        _rules(user, alliance, rules)
        _design(user, alliance, issuer_name, signatory)
        if term is not None:
            _issue(user, alliance, term)
    counts = {
        "证书规则": CertificateRule.objects.count(),
        "证书": Certificate.objects.count(),
    }
    if stdout is not None:
        stdout.write("证书演示数据已载入。")
    return counts
