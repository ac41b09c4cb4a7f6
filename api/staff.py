"""API: staff (docs/API.md)."""

from ninja import Router

router = Router(tags=["staff"])
