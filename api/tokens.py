"""API: tokens (docs/API.md)."""

from ninja import Router

router = Router(tags=["tokens"])
