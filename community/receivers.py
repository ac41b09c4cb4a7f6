"""What the boards do when other apps call them: a dissolved group's board is
archived (groups.signals.group_dissolved, inside the dissolving transaction), and
the outbox asks whether a board notice still holds before sending it."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from .models import Board, Post, Thread


def group_board_archive(sender, *, group, **kwargs) -> None:
    """Archive the group's board in the dissolving transaction: its former members
    and facilitator keep reading it (community.selectors), nobody else gains it."""
    Board.objects.filter(group_id=group.pk, is_archived=False).update(
        is_archived=True, archived_at=getattr(group, "dissolved_at", None) or timezone.now()
    )


def receivers_connect() -> None:
    from groups.signals import group_dissolved

    group_dissolved.connect(group_board_archive, dispatch_uid="community.group_board_archive")


def _id_of(key: str) -> int | None:
    # "community.reply:<post id>" (a notice) or "…:<post id>:<user id>" (a digest entry).
    parts = str(key).split(":")
    try:
        return int(parts[1])
    except (IndexError, ValueError):
        return None


def community_notice_check(notice) -> str:
    """The outbox's skip hook for topic "community" (events/notices.py): a reply or
    an accepted-answer notice goes out only while its post is still shown, so a
    post hidden before the send is not announced. A read only. "" = send."""
    key = str(notice.key)
    kind = key.split(":", 1)[0]
    if kind in ("community.reply", "community.answer_accepted"):
        status = Post.objects.filter(pk=_id_of(key)).values_list("status", flat=True).first()
        if status != Post.Status.PUBLISHED:
            return str(_("帖子已隐藏或删除"))
    elif kind == "community.accepted":
        accepted = (
            Thread.objects.filter(pk=_id_of(key), status=Post.Status.PUBLISHED)
            .values_list("accepted_post__status", flat=True)
            .first()
        )
        if accepted != Post.Status.PUBLISHED:
            return str(_("采纳的回答已隐藏或取消"))
    return ""
