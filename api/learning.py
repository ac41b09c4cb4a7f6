"""API: learning (docs/API.md)."""

from ninja import Router

router = Router(tags=["learning"])
