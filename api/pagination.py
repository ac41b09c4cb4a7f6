"""Keyset ("cursor") pagination: stable when rows are added while a client pages.

A page is the first ``limit`` rows after the cursor in a total order that ends
with the primary key; the cursor carries the last row's order values, signed so
that a client cannot forge one. A row inserted before the cursor is not shown
on later pages and no row is shown twice, unlike page numbers (docs/API.md).
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.core import signing
from django.db.models import F, Q
from ninja import Schema

from .errors import ApiError

SALT = "api.cursor"
MAX_LIMIT = 100


class PageMeta(Schema):
    next_cursor: str | None = None
    limit: int


def _encode(value):
    if isinstance(value, datetime.datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, datetime.date):
        return {"d": value.isoformat()}
    if isinstance(value, Decimal):
        return {"dec": str(value)}
    return value


def _decode(value):
    if isinstance(value, dict):
        if "dt" in value:
            return datetime.datetime.fromisoformat(value["dt"])
        if "d" in value:
            return datetime.date.fromisoformat(value["d"])
        if "dec" in value:
            return Decimal(value["dec"])
    return value


def cursor_make(values: list, *, scope: str) -> str:
    return signing.dumps({"s": scope, "v": [_encode(v) for v in values]}, salt=SALT, compress=True)


def cursor_read(cursor: str, *, scope: str, size: int) -> list:
    try:
        data = signing.loads(cursor, salt=SALT)
    except (signing.BadSignature, ValueError, TypeError):
        raise ApiError("bad_cursor", status=400, field="cursor") from None
    if not isinstance(data, dict) or data.get("s") != scope or len(data.get("v") or []) != size:
        raise ApiError("bad_cursor", status=400, field="cursor")
    try:
        return [_decode(v) for v in data["v"]]
    except (ValueError, TypeError):
        raise ApiError("bad_cursor", status=400, field="cursor") from None


def _after(order: tuple[str, ...], values: list) -> Q:
    """Rows strictly after ``values`` in ``order`` (fields prefixed '-' descend)."""
    condition = Q(pk__in=[])
    equal = Q()
    for name, value in zip(order, values, strict=True):
        field = name.lstrip("-")
        lookup = "lt" if name.startswith("-") else "gt"
        condition |= equal & Q(**{f"{field}__{lookup}": value})
        equal &= Q(**{field: value})
    return condition


def keyset_page(queryset, *, order: tuple[str, ...], cursor: str | None, limit: int, scope: str):
    """(rows, next_cursor). ``order`` must end with ``pk`` or ``-pk``; ``scope``
    names the list (and its filters) so a cursor is not reused elsewhere."""
    if not order or order[-1].lstrip("-") != "pk":
        raise ValueError("keyset order must end with the primary key")
    limit = max(1, min(limit, MAX_LIMIT))
    if cursor:
        queryset = queryset.filter(_after(order, cursor_read(cursor, scope=scope, size=len(order))))
    ordering = [F(n[1:]).desc() if n.startswith("-") else F(n).asc() for n in order]
    rows = list(queryset.order_by(*ordering)[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        values = [getattr(last, n.lstrip("-")) for n in order]
        next_cursor = cursor_make(values, scope=scope)
    return rows, next_cursor
