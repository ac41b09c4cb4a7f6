"""Writes for the members app. Views, admin, tasks and commands call these."""

from __future__ import annotations

from typing import Any

from django.db import models

from .models import AuditLog


def audit_log_record(
    *,
    actor,
    action: str,
    target: models.Model | None = None,
    data: dict[str, Any] | None = None,
    ip_address: str | None = None,
) -> AuditLog:
    """Append one audit entry. ``action`` is a dotted name: ``<app>.<thing>.<verb>``."""
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditLog.objects.create(
        actor=actor if is_user else None,
        actor_label=(actor.get_username() if is_user else "system")[:150],
        action=action,
        target_type=target._meta.label if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_repr=str(target)[:200] if target is not None else "",
        data=data or {},
        ip_address=ip_address,
    )
