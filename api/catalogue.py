"""API: catalogue (docs/API.md)."""

from ninja import Router

router = Router(tags=["catalogue"])
