"""Shapes shared by every area of the API."""

from __future__ import annotations

from ninja import Schema


class ErrorOut(Schema):
    """The one error shape: a stable ``code``, a ``message`` for people, and the wrong ``fields``."""

    code: str
    message: str
    fields: dict[str, str] = {}
