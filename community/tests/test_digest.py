"""The daily digest (community.services.digests_send, the 20:00 beat entry): one
notice per person and day listing what waited, entries marked sent with it,
idempotent; hidden posts left out; a real Celery worker runs the beat's task."""

from __future__ import annotations

import datetime

import pytest
from django.conf import settings
from django.utils import timezone

from community import services, tasks
from community.models import DigestEntry
from community.tests.world import build_world
from events.models import Delivery, Notice
from tests.helpers import wait_for


def _digest_world(w):
    services.digest_preference_set(user=w.mum.user, daily=True)
    thread = services.thread_create(
        user=w.mum.user,
        board_id=w.board.pk,
        kind="question",
        title="暑假作业怎么安排",
        body="想让孩子每天做一点，怎么坚持？",
    )
    first = services.reply_create(user=w.dad.user, thread_id=thread.pk, body="做个打卡表")
    second = services.reply_create(user=w.instructor, thread_id=thread.pk, body="上午学习下午玩")
    services.answer_accept(user=w.instructor, thread_id=thread.pk, post_id=second.pk)
    return thread, first, second


def test_the_beat_entry_runs_the_digest_task_every_evening():
    entry = settings.CELERY_BEAT_SCHEDULE["community-daily-digests"]
    assert entry["task"] == "community.tasks.digests_send"
    assert entry["schedule"].hour == {settings.COMMUNITY_DIGEST_HOUR}
    assert entry["schedule"].minute == {0}


@pytest.mark.django_db
def test_one_digest_per_person_and_day_listing_the_waiting_entries(board_world):
    w = board_world
    thread, first, second = _digest_world(w)
    assert DigestEntry.objects.filter(user=w.mum.user, sent_at__isnull=True).count() == 3
    today = timezone.localdate()

    sent = services.digests_send()

    assert sent == 1
    notice = Notice.objects.get(key=f"community.digest:{w.mum.user.pk}:{today.isoformat()}")
    assert notice.subject == "交流区今日动态（3 条）"
    assert notice.lead.count("·") == 3 and thread.title in notice.lead
    assert notice.path == "/community/"
    assert set(Delivery.objects.filter(notice=notice).values_list("user_id", flat=True)) == {
        w.mum.user.pk
    }
    assert not DigestEntry.objects.filter(sent_at__isnull=True).exists()
    # idempotent: nothing new, nothing sent
    assert services.digests_send() == 0
    assert Notice.objects.filter(key__startswith="community.digest:").count() == 1


@pytest.mark.django_db
def test_entries_after_todays_digest_wait_for_tomorrows(board_world):
    w = board_world
    thread, _first, _second = _digest_world(w)
    services.digests_send()
    later = services.reply_create(user=w.dad.user, thread_id=thread.pk, body="晚上又想到一点")
    entry = DigestEntry.objects.get(key=f"community.reply:{later.pk}:{w.mum.user.pk}")

    assert services.digests_send() == 0  # today's digest is out: the entry waits
    entry.refresh_from_db()
    assert entry.sent_at is None

    tomorrow = timezone.now() + datetime.timedelta(days=1)
    assert services.digests_send(now=tomorrow) == 1
    day = timezone.localdate(tomorrow).isoformat()
    notice = Notice.objects.get(key=f"community.digest:{w.mum.user.pk}:{day}")
    assert notice.subject == "交流区今日动态（1 条）"
    entry.refresh_from_db()
    assert entry.sent_at is not None


@pytest.mark.django_db
def test_a_post_hidden_before_the_digest_is_left_out(board_world):
    w = board_world
    _thread, first, _second = _digest_world(w)
    services.post_decide(user=w.coordinator, post_id=first.pk, action="hide", reason="广告")
    services.digests_send()
    notice = Notice.objects.get(key__startswith="community.digest:")
    assert notice.subject == "交流区今日动态（2 条）"
    assert not DigestEntry.objects.filter(sent_at__isnull=True).exists()


@pytest.mark.django_db
def test_no_digest_when_every_waiting_post_was_hidden(board_world):
    w = board_world
    services.digest_preference_set(user=w.mum.user, daily=True)
    thread = services.thread_create(
        user=w.mum.user,
        board_id=w.board.pk,
        kind="sharing",
        title="分享一个好习惯",
        body="早睡早起",
    )
    reply = services.reply_create(user=w.dad.user, thread_id=thread.pk, body="加我微信聊")
    services.post_decide(user=w.coordinator, post_id=reply.pk, action="hide", reason="引流")
    assert services.digests_send() == 0
    assert not Notice.objects.filter(key__startswith="community.digest:").exists()
    assert not DigestEntry.objects.filter(sent_at__isnull=True).exists()


@pytest.mark.celery_worker
def test_the_worker_sends_the_digest_once(celery_worker_process):
    # given a parent who chose the digest, with three board notices waiting
    w = build_world()
    _digest_world(w)

    # when the beat's task is queued twice (a redelivery, a second beat)
    tasks.digests_send.delay()
    tasks.digests_send.delay()

    # then one digest is written and its in-site row delivered, once
    notices = Notice.objects.filter(key__startswith=f"community.digest:{w.mum.user.pk}:")
    wait_for(lambda: notices.exists(), timeout=60)
    rows = Delivery.objects.filter(notice__in=notices, channel="inbox")
    wait_for(lambda: rows.filter(status="sent").exists(), timeout=60)
    wait_for(lambda: not DigestEntry.objects.filter(sent_at__isnull=True).exists(), timeout=60)
    assert notices.count() == 1 and rows.count() == 1


@pytest.mark.django_db
def test_people_are_taken_in_batches_and_each_gets_one_digest(board_world, monkeypatch):
    w = board_world
    monkeypatch.setattr(services, "DIGEST_BATCH", 1)
    services.digest_preference_set(user=w.dad.user, daily=True)
    thread, _first, _second = _digest_world(w)
    other = services.thread_create(
        user=w.dad.user, board_id=w.board.pk, kind="sharing", title="分享一本绘本", body="好看"
    )
    services.reply_create(user=w.mum.user, thread_id=other.pk, body="收藏了")

    assert services.digests_send() == 2

    keys = set(
        Notice.objects.filter(key__startswith="community.digest:").values_list("key", flat=True)
    )
    day = timezone.localdate().isoformat()
    assert keys == {
        f"community.digest:{w.mum.user.pk}:{day}",
        f"community.digest:{w.dad.user.pk}:{day}",
    }
    assert not DigestEntry.objects.filter(sent_at__isnull=True).exists()
