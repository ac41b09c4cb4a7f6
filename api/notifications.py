"""API: notifications (docs/API.md)."""

from ninja import Router

router = Router(tags=["notifications"])
