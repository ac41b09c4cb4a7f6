"""Reads for the wechat app."""

from __future__ import annotations

from members.models import User

from .models import SubscriptionGrant, SubscriptionTemplate, WeChatIdentity


def wechat_identity_for(user: User) -> WeChatIdentity | None:
    """The user's WeChat identity, or None if they never signed in from the mini-program."""
    if user is None or not getattr(user, "pk", None):
        return None
    return WeChatIdentity.objects.filter(user=user).first()


def subscription_template_for(kind: str) -> SubscriptionTemplate | None:
    return SubscriptionTemplate.objects.filter(kind=kind, is_active=True).first()


def grants_left(user: User, kind: str) -> int:
    """Messages of ``kind`` that may still be sent to ``user`` (unspent acceptances
    of the kind's active template)."""
    template = subscription_template_for(kind)
    if template is None:
        return 0
    return SubscriptionGrant.objects.filter(
        user=user, template_id=template.template_id, spent_at__isnull=True, refused=False
    ).count()


def grants_left_by_kind(user: User) -> dict[str, int]:
    """Every active template's count for ``user``, in two queries."""
    from django.db.models import Count, Q

    templates = dict(
        SubscriptionTemplate.objects.filter(is_active=True).values_list("template_id", "kind")
    )
    counts = dict.fromkeys(templates.values(), 0)
    rows = (
        SubscriptionGrant.objects.filter(user=user, template_id__in=list(templates))
        .values("template_id")
        .annotate(left=Count("pk", filter=Q(spent_at__isnull=True, refused=False)))
    )
    for row in rows:
        counts[templates[row["template_id"]]] = row["left"]
    return counts


def subscription_templates_active() -> list[SubscriptionTemplate]:
    """The templates the mini-program may ask the user to accept, by kind."""
    return list(SubscriptionTemplate.objects.filter(is_active=True).order_by("kind"))
