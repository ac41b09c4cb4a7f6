"""Board notices through the outbox (events.services.notice_send): replies to my
thread, an accepted answer (told once), decisions; the skip hook for a post hidden
before the send; the daily digest instead for those who chose it."""

from __future__ import annotations

import pytest
from django.utils import timezone

from community import services
from community.errors import CommunityError
from community.models import CommunityPreference, DigestEntry
from events.models import Delivery, Notice
from events.notices import notice_skip_reason
from groups.models import GroupMembership

pytestmark = pytest.mark.django_db


def _question(w, user=None):
    return services.thread_create(
        user=user or w.mum.user,
        board_id=w.board.pk,
        kind="question",
        title="孩子晚上不肯睡觉",
        body="小学二年级，每晚十一点还不睡，怎么劝？",
    )


def _people(key):
    return set(Delivery.objects.filter(notice__key=key).values_list("user_id", flat=True))


def test_the_threads_author_is_told_of_each_reply_but_not_of_her_own_familys(board_world):
    from members.tests.factories import GuardianFactory, UserFactory

    w = board_world
    thread = _question(w)
    reply = services.reply_create(user=w.dad.user, thread_id=thread.pk, body="睡前别看手机")
    notice = Notice.objects.get(key=f"community.reply:{reply.pk}")
    assert notice.topic == "community" and notice.path == f"/community/threads/{thread.pk}/"
    assert _people(notice.key) == {w.mum.user.pk}
    assert thread.title in notice.subject
    # what the notice says names the replier by nickname only
    for secret in w.secrets() + [w.dad.user.display_name]:
        assert secret not in notice.subject + notice.lead
    own = services.reply_create(user=w.mum.user, thread_id=thread.pk, body="谢谢大家")
    co_guardian = GuardianFactory(family=w.mum.family, user=UserFactory(phone_verified=True))
    services.reply_create(user=co_guardian.user, thread_id=thread.pk, body="我是孩子爸爸")
    assert not Notice.objects.filter(key=f"community.reply:{own.pk}").exists()
    assert Notice.objects.filter(key__startswith="community.reply:").count() == 1


def test_an_accepted_answer_tells_the_asker_once_and_the_answerer_once(board_world):
    w = board_world
    thread = _question(w)
    first = services.reply_create(user=w.instructor, thread_id=thread.pk, body="固定作息")
    second = services.reply_create(user=w.dad.user, thread_id=thread.pk, body="讲故事")

    accepted = services.answer_accept(user=w.instructor, thread_id=thread.pk, post_id=first.pk)
    services.answer_accept(user=w.instructor, thread_id=thread.pk, post_id=first.pk)

    assert accepted.accepted_post_id == first.pk and accepted.accepted_by == w.instructor
    assert _people(f"community.accepted:{thread.pk}") == {w.mum.user.pk}
    # the instructor accepted their own answer: no notice to themselves
    assert not Notice.objects.filter(key=f"community.answer_accepted:{first.pk}").exists()
    # the asker changes her mind: the new answer's author is told, she is not told again
    services.answer_accept(user=w.mum.user, thread_id=thread.pk, post_id=second.pk)
    assert _people(f"community.answer_accepted:{second.pk}") == {w.dad.user.pk}
    assert Notice.objects.filter(key__startswith="community.accepted:").count() == 1
    assert (
        Delivery.objects.filter(
            notice__key__startswith="community.accepted:", user=w.mum.user, channel="inbox"
        ).count()
        == 1
    )


def test_who_may_accept_and_what(board_world):
    w = board_world
    thread = _question(w)
    reply = services.reply_create(user=w.dad.user, thread_id=thread.pk, body="试试白噪音")
    with pytest.raises(CommunityError) as error:
        services.answer_accept(user=w.dad.user, thread_id=thread.pk, post_id=reply.pk)
    assert error.value.code == "not_allowed"
    for post_id in (thread.opening_post.pk, 0, "x"):
        with pytest.raises(CommunityError) as error:
            services.answer_accept(user=w.mum.user, thread_id=thread.pk, post_id=post_id)
        assert (error.value.code, error.value.field) == ("post_not_answer", "post")
    sharing = services.thread_create(
        user=w.mum.user, board_id=w.board.pk, kind="sharing", title="分享睡前故事", body="三只小猪"
    )
    other = services.reply_create(user=w.dad.user, thread_id=sharing.pk, body="好")
    with pytest.raises(CommunityError) as error:
        services.answer_accept(user=w.mum.user, thread_id=sharing.pk, post_id=other.pk)
    assert error.value.code == "not_allowed"
    with pytest.raises(CommunityError) as error:
        services.answer_accept(user=w.outsider.user, thread_id=thread.pk, post_id=reply.pk)
    assert error.value.code == "thread_missing"


def test_a_reply_hidden_before_the_send_is_not_announced(board_world):
    w = board_world
    thread = _question(w)
    reply = services.reply_create(user=w.dad.user, thread_id=thread.pk, body="回复")
    services.answer_accept(user=w.mum.user, thread_id=thread.pk, post_id=reply.pk)
    reply_notice = Notice.objects.get(key=f"community.reply:{reply.pk}")
    accepted_notice = Notice.objects.get(key=f"community.answer_accepted:{reply.pk}")
    assert notice_skip_reason(reply_notice) == "" and notice_skip_reason(accepted_notice) == ""

    services.post_decide(user=w.coordinator, post_id=reply.pk, action="hide", reason="广告")

    assert notice_skip_reason(reply_notice) != ""
    assert notice_skip_reason(accepted_notice) != ""
    decision = Notice.objects.get(key__startswith="community.decision:")
    assert notice_skip_reason(decision) == ""


def test_the_accepted_notice_is_skipped_once_the_answer_is_gone(board_world):
    w = board_world
    thread = _question(w)
    reply = services.reply_create(user=w.instructor, thread_id=thread.pk, body="早点关灯")
    services.answer_accept(user=w.instructor, thread_id=thread.pk, post_id=reply.pk)
    notice = Notice.objects.get(key=f"community.accepted:{thread.pk}")
    assert notice_skip_reason(notice) == ""
    services.post_decide(user=w.coordinator, post_id=reply.pk, action="hide", reason="不准确")
    assert notice_skip_reason(notice) != ""


def test_people_who_chose_the_digest_get_entries_not_notices(board_world):
    w = board_world
    services.digest_preference_set(user=w.mum.user, daily=True)
    assert CommunityPreference.objects.get(user=w.mum.user).daily_digest
    thread = _question(w)
    reply = services.reply_create(user=w.dad.user, thread_id=thread.pk, body="陪着一起读书")
    assert not Notice.objects.filter(key=f"community.reply:{reply.pk}").exists()
    entry = DigestEntry.objects.get(user=w.mum.user)
    assert entry.key == f"community.reply:{reply.pk}:{w.mum.user.pk}"
    assert entry.day == timezone.localdate() and entry.sent_at is None
    assert thread.title in entry.subject
    # the other person of the same notice (digest off) is told at once
    services.answer_accept(user=w.instructor, thread_id=thread.pk, post_id=reply.pk)
    assert _people(f"community.answer_accepted:{reply.pk}") == {w.dad.user.pk}
    assert DigestEntry.objects.filter(
        key=f"community.accepted:{thread.pk}:{w.mum.user.pk}"
    ).exists()
    # turned off again: notices one by one
    services.digest_preference_set(user=w.mum.user, daily=False)
    later = services.reply_create(user=w.instructor, thread_id=thread.pk, body="再补充一点")
    assert _people(f"community.reply:{later.pk}") == {w.mum.user.pk}


def test_a_group_members_reply_notice_speaks_for_the_schools_unit(board_world):
    w = board_world
    GroupMembership.objects.create(group=w.group, family=w.dad.family, status="active")
    thread = services.thread_create(
        user=w.mum.user,
        board_id=w.group_board.pk,
        kind="question",
        title="下次活动去哪里",
        body="大家投票",
    )
    reply = services.reply_create(user=w.dad.user, thread_id=thread.pk, body="图书馆")
    assert Notice.objects.get(key=f"community.reply:{reply.pk}").unit_id == w.school.pk
