"""What a link shows when it is shared: the card a chat app draws from a page
(Open Graph tags), and the mini-program page that opens the same thing.

``courses.selectors.course_share`` and ``events.selectors.event_share`` decide
a card for a course or an event with these helpers; the pages (their ``<meta>``
tags) and the API's detail answers show what they decided (docs/API.md,
"Sharing"). Every address is absolute, from ``PORTAL_BASE_URL``: a card is read
by a chat server that knows nothing of the request that rendered the page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.templatetags.static import static
from django.utils.html import strip_tags

# WeChat's card shows two short lines of its description; longer text is cut
# off by the app mid-word, so the portal cuts it first, at a whole character.
SHARE_SUMMARY_MAX_CHARS = 60
# Square, 500×500: WeChat and QQ crop a card's picture to a square thumbnail.
SHARE_DEFAULT_IMAGE = "img/share-default.png"

_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class ShareCard:
    """A shared link's card, and the mini-program page for the same thing."""

    title: str
    summary: str
    image_url: str
    url: str
    miniprogram_path: str


def absolute_url(path: str) -> str:
    """``path`` (``/courses/12/``, or a static URL) on the portal's public address."""
    if path.startswith(("http://", "https://")):
        return path
    return settings.PORTAL_BASE_URL.rstrip("/") + "/" + path.lstrip("/")


def plain_summary(*texts: str, limit: int = SHARE_SUMMARY_MAX_CHARS) -> str:
    """The first non-empty text as one plain line of at most ``limit`` characters
    (tags stripped, whitespace folded, an ellipsis when cut)."""
    for text in texts:
        line = _SPACES.sub(" ", strip_tags(text or "")).strip()
        if line:
            return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"
    return ""


def default_share_image_url() -> str:
    return absolute_url(static(SHARE_DEFAULT_IMAGE))
