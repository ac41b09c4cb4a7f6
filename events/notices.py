"""Notices from apps above events: the skip hook (docs/EVENTS.md, "Notices from other apps").

An app that sends through ``events.services.notice_send`` may register, per
topic, a check the worker runs on each row just before sending it::

    # handbook/apps.py
    class HandbookConfig(AppConfig):
        def ready(self):
            from events.notices import notice_check_register

            from .selectors import learning_family_notice_check

            notice_check_register("handbook.learning_family", learning_family_notice_check)

``check(notice) -> str``: "" sends the row; any other text is why it is not
sent any more ("名单已撤回"), written on the row in the delivery log (status
"未发送（不再需要）"). The check is called once per notice and batch, not per
row, and must be a read (no writes: it runs inside the send task). A check that
raises counts as "send" (logged): a broken app must not silence the outbox.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.utils.translation import gettext_lazy as _

from .models import Notice

logger = logging.getLogger(__name__)


class NoticeError(ValueError):
    """``notice_send`` was given a field it cannot send; ``message`` names it."""

    def __init__(self, field: str, why):
        self.field = field
        self.message = _("通知的“%(field)s”%(why)s") % {"field": field, "why": why}
        super().__init__(str(self.message))


NoticeCheck = Callable[[Notice], str]

_checks: dict[str, NoticeCheck] = {}


def notice_check_register(topic: str, check: NoticeCheck) -> None:
    """Register ``check`` for ``topic`` (the last registration for a topic wins,
    so a repeated ``ready()`` is harmless)."""
    _checks[topic] = check


def notice_check_unregister(topic: str) -> None:
    """Forget the check of ``topic`` (tests)."""
    _checks.pop(topic, None)


def notice_skip_reason(notice: Notice) -> str:
    """Why ``notice`` should no longer go out ("" = send it), by its topic's check."""
    check = _checks.get(notice.topic)
    if check is None:
        return ""
    try:
        return str(check(notice) or "")[:300]
    except Exception:
        logger.warning("notice check for %s failed; sending", notice.topic, exc_info=True)
        return ""
