"""The credit-bank transcript (学分银行成绩单): the rows a family's transcript
freezes at issue, and the machine-readable exports a provincial credit bank can
import (CSV, and JSON following docs/schemas/credit-transcript.schema.json).

A row is one credit-bank entry: its term, course, day, reason and credits (a
correction is its own row with negative credits, as the ledger has it). Rows
come ordered by term, then by day, so the PDF can group them under terms. The
texts are Chinese whatever the language of the request: they are signed.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils import timezone, translation

from courses.models import CreditEntry
from members.models import Membership
from members.privacy import spreadsheet_safe

from .models import Certificate

#: The JSON export's schema (docs/schemas/credit-transcript.schema.json).
SCHEMA_ID = "https://schemas.alliance.local/credit-transcript/1.json"
SCHEMA_VERSION = "1.0"
#: A family has a few dozen rows; a cap keeps one transcript one page-set.
ROWS_MAX = 5000
CSV_COLUMNS = (
    "certificate_code",
    "holder",
    "term_code",
    "term",
    "course_id",
    "course",
    "date",
    "reason_code",
    "reason",
    "credits",
)


@dataclass(frozen=True)
class TranscriptSource:
    """What a new transcript is made of: its rows, total, and the unit that issues it."""

    rows: list[dict]
    total: Decimal
    alliance_id: int | None
    unit_id: int | None

    @property
    def total_text(self) -> str:
        return _credits_text(self.total)

    @property
    def digest(self) -> str:
        """Same rows and total → same digest (asking twice is one transcript)."""
        payload = json.dumps({"rows": self.rows, "total": self.total_text}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _credits_text(value) -> str:
    text = format(Decimal(value), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def transcript_source(family) -> TranscriptSource:
    """The family's credit-bank rows now (two queries), and the issuer: the alliance
    of the most recent row's school (its base unit signs, else the school's unit)."""
    entries = list(
        CreditEntry.objects.filter(family=family)
        .select_related("term", "course__parent_school")
        .order_by("term__starts_on", "term_id", "created_at", "pk")[:ROWS_MAX]
    )
    rows: list[dict] = []
    total = Decimal(0)
    with translation.override(settings.LANGUAGE_CODE):
        for entry in entries:
            total += entry.amount
            rows.append(
                {
                    "term": str(entry.term),
                    "term_code": entry.term.code,
                    "course": entry.course.title if entry.course else "",
                    "course_id": entry.course_id,
                    "date": timezone.localdate(entry.created_at).isoformat(),
                    "reason": str(entry.get_reason_display()),
                    "reason_code": entry.reason,
                    "credits": _credits_text(entry.amount),
                }
            )
    host_units = [
        e.course.parent_school.host_unit_id for e in reversed(entries) if e.course is not None
    ]
    alliance_id = unit_id = None
    if host_units:
        memberships = (
            Membership.objects.filter(unit_id__in=set(host_units), left_on__isnull=True)
            .select_related("alliance")
            .order_by("alliance_id")
        )
        by_unit: dict[int, Membership] = {}
        for membership in memberships:
            by_unit.setdefault(membership.unit_id, membership)
        for host in host_units:
            membership = by_unit.get(host)
            if membership is not None:
                alliance_id = membership.alliance_id
                unit_id = membership.alliance.base_unit_id or host
                break
    return TranscriptSource(rows=rows, total=total, alliance_id=alliance_id, unit_id=unit_id)


# --- exports ------------------------------------------------------------------------


def transcript_document(certificate: Certificate) -> dict:
    """The JSON export of an issued transcript (the frozen rows, the code and the
    verification URL, and the signed credential for offline checking)."""
    from .credentials import verification_url

    data = certificate.data or {}
    return {
        "$schema": SCHEMA_ID,
        "schema_version": SCHEMA_VERSION,
        "certificate": {
            "code": certificate.code,
            "id": f"urn:uuid:{certificate.uuid}",
            "status": certificate.status,
            "issued_on": certificate.issued_on.isoformat(),
            "verification_url": verification_url(certificate),
        },
        "issuer": {
            "alliance": certificate.alliance.name,
            "unit": certificate.unit.name,
        },
        "holder": {"name": certificate.holder_name},
        "total_credits": str(data.get("total", "0")),
        "entries": [
            {
                "term_code": row.get("term_code", ""),
                "term": row.get("term", ""),
                "course_id": row.get("course_id"),
                "course": row.get("course", ""),
                "date": row.get("date", ""),
                "reason_code": row.get("reason_code", ""),
                "reason": row.get("reason", ""),
                "credits": str(row.get("credits", "0")),
            }
            for row in data.get("rows", [])
        ],
        "credential": certificate.credential,
    }


def transcript_csv_lines(certificate: Certificate) -> Iterable[str]:
    """The CSV export, line by line: a header of ``CSV_COLUMNS`` and one line per
    row. Text cells pass the one formula-escaping rule; credits stay numbers."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(values)
        return buffer.getvalue()

    yield "\ufeff" + line(CSV_COLUMNS)  # the BOM: Excel opens UTF-8 as such
    data = certificate.data or {}
    for row in data.get("rows", []):
        yield line(
            [
                certificate.code,
                spreadsheet_safe(certificate.holder_name),
                spreadsheet_safe(row.get("term_code", "")),
                spreadsheet_safe(row.get("term", "")),
                row.get("course_id") or "",
                spreadsheet_safe(row.get("course", "")),
                row.get("date", ""),
                row.get("reason_code", ""),
                spreadsheet_safe(row.get("reason", "")),
                Decimal(str(row.get("credits") or 0)),
            ]
        )
