"""How personal contact data and free text are shown outside their owner's own pages.

Each rule has a Python function and, where exports build their cells in the
database, an SQL twin beside it; tests check that the two agree on the same
table of values (``reports/tests/test_phone_masking.py``,
``members/tests/test_spreadsheet_safe.py``).
"""

from __future__ import annotations

from django.db.models import CharField, Func


def mask_phone(phone: str | None) -> str:
    """'13812341234' → '138****1234'. Rosters, exports, logs and SMS logs use this.

    Anything too short to keep a prefix and suffix is masked entirely, so a
    malformed number never leaks whole.
    """
    if not phone:
        return ""
    if len(phone) < 7:
        return "*" * len(phone)
    return f"{phone[:3]}****{phone[-4:]}"


def mask_email(email: str | None) -> str:
    """'wang.mama@example.cn' → 'w***@example.cn' (pickers, invitations)."""
    if not email:
        return ""
    name, _sep, domain = email.partition("@")
    return f"{name[:1]}***@{domain}" if domain else "***"


def person_name(user) -> str:
    """How the portal names a person to others and to themselves: 「王妈妈」, else
    「138****5678」, else 「w***@example.cn」, else 「用户」; never the random username,
    which means nothing to a parent (sign-in message, greetings, credit lists)."""
    from django.utils.translation import gettext as _

    name = (getattr(user, "display_name", "") or "").strip()
    if not name:
        name = f"{getattr(user, 'last_name', '')}{getattr(user, 'first_name', '')}".strip()
    return name or mask_phone(user.phone or "") or mask_email(user.email) or _("用户")


#: A text cell starting with one of these is run as a formula (or as DDE) by
#: Excel, WPS or LibreOffice; a leading tab or carriage return is stripped by some
#: of them before they look. Full-width ＝＋－＠ are included because a Chinese
#: input method types them and WPS treats ＝ like =.
SPREADSHEET_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def spreadsheet_safe(value):
    """The one formula-escaping rule for every export (admin, reports, my data).

    A text cell that starts with = + - @, a tab, a carriage return or full-width
    ＝＋－＠ gets a leading apostrophe, so a spreadsheet shows the text instead of
    running it. Anything that is not text (numbers, dates, None) passes through.
    """
    if isinstance(value, str) and value.startswith(SPREADSHEET_FORMULA_STARTS):
        return "'" + value
    return value


def spreadsheet_unescape(value):
    """Undo :func:`spreadsheet_safe`, so that an exported file imports unchanged."""
    if isinstance(value, str) and value[:1] == "'" and value[1:2] in SPREADSHEET_FORMULA_STARTS:
        return value[1:]
    return value


class _SqlTwin(Func):
    """A template that names its one expression several times (and so its params)."""

    output_field = CharField()
    sql_template = ""

    def as_sql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        repeats = self.sql_template.count("{x}")
        template = self.sql_template.replace("{chr}", _chr_function(connection.vendor))
        return template.replace("{x}", sql), tuple(params) * repeats


def _chr_function(vendor: str) -> str:
    return "char" if vendor == "sqlite" else "chr"


def _sql_literal(char: str) -> str:
    # Control characters by code, so that the SQL text stays printable in logs.
    if char in ("\t", "\r"):
        return f"{{chr}}({ord(char)})"
    return "'" + char.replace("'", "''") + "'"


class SpreadsheetSafe(_SqlTwin):
    """SQL twin of :func:`spreadsheet_safe` (for cells formatted by the database)."""

    sql_template = (
        "CASE WHEN substr({x}, 1, 1) IN ("
        + ", ".join(_sql_literal(c) for c in SPREADSHEET_FORMULA_STARTS)
        + ") THEN '''' || {x} ELSE {x} END"
    )


class MaskPhone(_SqlTwin):
    """SQL twin of :func:`mask_phone`."""

    sql_template = (
        "CASE WHEN length({x}) >= 7 THEN substr({x}, 1, 3) || '****' || substr({x}, length({x}) - 3, 4) "
        "WHEN COALESCE({x}, '') = '' THEN '' ELSE '****' END"
    )
