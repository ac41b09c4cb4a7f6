"""The optional cloud check of what people post (docs/COMMUNITY.md, "Sensitive words
and the cloud check").

The district's own word list (community/filtering.py) always applies. On top of
it, a :class:`ContentChecker` may ask a cloud service; ``COMMUNITY_CONTENT_CHECK``
chooses which:

- ``""`` (the default): :class:`NullChecker`, every text passes;
- ``"wechat"``: :class:`WeChatChecker`, WeChat's ``msgSecCheck`` v2 for the
  mini-program's users (scene 3, 论坛);
- a dotted path to a class with the same ``check`` method (another provider).

community.services holds a post whose verdict is "review" or "risky", as it does
for a word-list hit; nothing is rejected. A cloud that cannot be asked (down,
slow, refusing) answers "pass" and is logged: a cloud outage never blocks posting.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger("community")

__all__ = ["ContentChecker", "NullChecker", "Verdict", "WeChatChecker", "get_checker"]

SUGGESTIONS = ("pass", "review", "risky")

# WeChat's msgSecCheck labels, in words for the moderation queue.
WECHAT_LABELS = {
    10001: _("广告"),
    20001: _("时政"),
    20002: _("色情"),
    20003: _("辱骂"),
    20006: _("违法犯罪"),
    20008: _("欺诈"),
    20012: _("低俗"),
    20013: _("版权"),
    21000: _("其他"),
}


@dataclass(frozen=True)
class Verdict:
    """``suggest``: "pass", "review" (a person should look) or "risky"; ``label``
    says why, for the moderators ("" when it passed)."""

    suggest: str
    label: str = ""

    def __post_init__(self):
        if self.suggest not in SUGGESTIONS:
            raise ValueError(f"suggest must be one of {SUGGESTIONS}, not {self.suggest!r}")

    @property
    def holds(self) -> bool:
        return self.suggest != "pass"


PASS = Verdict("pass")


class ContentChecker:
    """The interface: what the cloud says of ``text`` written by ``user``."""

    def check(self, *, text: str, user) -> Verdict:
        raise NotImplementedError


class NullChecker(ContentChecker):
    """The check is off: everything passes (the local word list still applies)."""

    def check(self, *, text: str, user) -> Verdict:
        return PASS


class WeChatChecker(ContentChecker):
    """WeChat's msgSecCheck v2 with the writer's openid, scene 3 (论坛).

    Only users who signed in from the mini-program have an openid; for the others
    (the web) WeChat cannot be asked and the text passes here."""

    SCENE_FORUM = 3

    def check(self, *, text: str, user) -> Verdict:
        from wechat.client import WeChatError, get_client
        from wechat.selectors import wechat_identity_for

        if not text or not text.strip():
            return PASS
        identity = wechat_identity_for(user)
        client = get_client()
        if identity is None or (client.app_id and identity.app_id != client.app_id):
            return PASS
        try:
            answer = client.msg_sec_check(
                openid=identity.openid, content=text, scene=self.SCENE_FORUM
            )
        except WeChatError as error:
            logger.warning(
                "WeChat msgSecCheck not answered for user %s (%s); the post is checked "
                "by the word list only",
                user.pk,
                error,
            )
            return PASS
        if answer.suggest == "pass":
            return PASS
        label = WECHAT_LABELS.get(answer.label, WECHAT_LABELS[21000])
        return Verdict(answer.suggest, str(label))


def get_checker() -> ContentChecker:
    """The checker ``COMMUNITY_CONTENT_CHECK`` names ("" off, "wechat", or a dotted path)."""
    choice = (getattr(settings, "COMMUNITY_CONTENT_CHECK", "") or "").strip()
    if not choice:
        return NullChecker()
    if choice == "wechat":
        return WeChatChecker()
    return import_string(choice)()
