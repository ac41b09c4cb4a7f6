"""API: wechat (docs/API.md)."""

from ninja import Router

router = Router(tags=["wechat"])
