"""API: family (docs/API.md)."""

from ninja import Router

router = Router(tags=["family"])
