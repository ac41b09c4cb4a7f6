"""How a post's text is shown: plain text only (community/services stores it as
typed). Everything is escaped first; only http(s) addresses become links, and
line breaks become <br>. No markup a poster types ever reaches the page."""

from __future__ import annotations

import re

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# An address ends at white space, at anything that cannot be in a URL as typed in
# a post, and at Chinese punctuation (a parent writes 「见 https://x.cn/a。」).
_URL = re.compile(
    r"""https?://[^\s<>"'`\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65]+""",
    re.I,
)
# Punctuation that usually closes the sentence rather than the address.
_TRAILING = ".,;:!?)]}'\""
_REL = "nofollow ugc noopener noreferrer"


def _link(url: str) -> tuple[str, str]:
    """(the link's HTML, what followed it and belongs to the text)."""
    tail = ""
    while url and url[-1] in _TRAILING:
        # Keep a closing parenthesis that has its opening one inside the address
        # (https://zh.wikipedia.org/wiki/A_(B)).
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        tail = url[-1] + tail
        url = url[:-1]
    if "://" not in url or url.endswith("://"):
        return escape(url), tail
    href = escape(url)
    return f'<a href="{href}" rel="{_REL}" target="_blank">{href}</a>', tail


@register.filter(name="community_text", is_safe=True)
def community_text(value) -> SafeString:
    """Escape the text, link its http(s) addresses, keep its line breaks."""
    text = "" if value is None else str(value)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    parts: list[str] = []
    position = 0
    for match in _URL.finditer(text):
        parts.append(escape(text[position : match.start()]))
        link, tail = _link(match.group(0))
        parts.append(link)
        parts.append(escape(tail))
        position = match.end()
    parts.append(escape(text[position:]))
    return mark_safe("".join(parts).replace("\n", "<br>\n"))  # noqa: S308 - every piece escaped above


@register.filter(name="written_by")
def written_by(post, user) -> bool:
    """The post is the user's own (or their family's): no 举报 on it."""
    from community.selectors import family_of

    if post.author_user_id is not None and post.author_user_id == getattr(user, "pk", None):
        return True
    family = family_of(user)
    return family is not None and post.author_family_id == family.pk


@register.filter(name="held_notice")
def held_notice(post) -> str:
    """The polite words a held post's author reads (never which word matched)."""
    from community.services import held_message

    return held_message(post)


@register.filter(name="decide_form")
def decide_form(post):
    """A moderator's decision form for this post (its fields prefixed by its id)."""
    from community.forms import DecideForm

    return DecideForm(post=post)


@register.filter(name="real_name")
def real_name(user) -> str:
    """The poster's name as the school knows it (moderators' queue only)."""
    from members.privacy import person_name

    return person_name(user) if user is not None else ""


@register.filter(name="masked_phone")
def masked_phone(user) -> str:
    """The poster's phone with its middle four digits hidden (moderators only)."""
    from members.privacy import mask_phone

    return mask_phone(getattr(user, "phone", "") or "") if user is not None else ""


@register.filter(name="category_labels")
def category_labels(value) -> str:
    """The matched categories' names ('ads,fraud' → 「广告引流、诈骗与违法」)."""
    from community.models import SensitiveWord

    labels = dict(SensitiveWord.Category.choices)
    codes = [c for c in str(value or "").replace("，", ",").split(",") if c.strip()]
    return "、".join(str(labels.get(c.strip(), c.strip())) for c in codes)
