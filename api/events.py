"""API: events (docs/API.md)."""

from ninja import Router

router = Router(tags=["events"])
