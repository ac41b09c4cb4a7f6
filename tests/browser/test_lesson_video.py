"""Done-when: a lesson video plays in the page in Chromium on a phone; watching it to
90% posts the credit once; seeking to the end does not. Plus axe on the lesson page.

The video is the real 16-second WebM of courses/tests/lesson_files, served by the
lesson's range-request view; the page's own script (static/js/lesson-progress.js)
sends the heartbeats, and the server counts them against its own clock.
"""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from bookings.tests.conftest import make_family
from courses.models import CreditEntry, LessonProgress
from courses.tests.factories import TEST_VIDEO_SECONDS, CourseFactory, OnlineLessonFactory
from tests.a11y import axe_violations
from tests.phone import fits_without_horizontal_scroll, signed_in_phone

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COMPLETED = "已完成，学分已记入学分银行。"


@pytest.fixture
def lesson(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.MEDIA_ACCEL_REDIRECT_PREFIX = ""
    # Heartbeats every 4 s, so a 16 s video sends several while it plays.
    settings.LESSON_HEARTBEAT_SECONDS = 4
    course = CourseFactory(title="亲子沟通的艺术", credits=1)
    return OnlineLessonFactory(course=course, title="倾听的第一步", uploaded=True)


def open_lesson(page, live_server, lesson):
    page.goto(live_server.url + reverse("courses:lesson", args=[lesson.pk]))
    page.wait_for_function("document.getElementById('lesson-video').readyState >= 1")


def play(page):
    # Muted, so Chromium's autoplay policy lets a script start it (no sound in it anyway).
    page.evaluate(
        "() => { const v = document.getElementById('lesson-video'); v.muted = true; return v.play(); }"
    )


def video_state(page) -> dict:
    return page.evaluate(
        """() => { const v = document.getElementById('lesson-video');
        return {time: v.currentTime, paused: v.paused, ended: v.ended, duration: v.duration,
                width: v.videoWidth, rate: v.playbackRate}; }"""
    )


def test_watching_the_video_to_the_end_posts_the_credit_once(live_server, browser, lesson):
    # given a parent on a phone, on the lesson page
    family, guardians, _ = make_family()
    context, page = signed_in_phone(browser, live_server, guardians[0].user)
    try:
        open_lesson(page, live_server, lesson)
        assert fits_without_horizontal_scroll(page)
        state = video_state(page)
        assert state["duration"] == pytest.approx(TEST_VIDEO_SECONDS, abs=0.2)
        assert axe_violations(page) == []

        # when the video plays (at normal speed) in the page
        started = time.monotonic()
        play(page)
        page.wait_for_timeout(1500)
        first = video_state(page)
        assert not first["paused"] and first["time"] > 0.5 and first["width"] == 320

        # then the page's heartbeats make progress on the server while it plays
        page.wait_for_function(
            "() => document.getElementById('lesson-progress-bar').value > 0", timeout=15_000
        )
        assert video_state(page)["time"] > first["time"]
        midway = LessonProgress.objects.get(lesson=lesson, family=family)
        assert 0 < midway.seconds_watched < TEST_VIDEO_SECONDS
        assert CreditEntry.objects.count() == 0  # not yet at 90%

        # and at the end the credit is posted, once
        page.wait_for_function(
            "() => document.getElementById('lesson-video').ended", timeout=30_000
        )
        page.wait_for_function(
            f"() => document.getElementById('lesson-progress').textContent.trim() === '{COMPLETED}'",
            timeout=10_000,
        )
        page.wait_for_load_state("networkidle")
        assert time.monotonic() - started >= TEST_VIDEO_SECONDS * 0.9
        progress = LessonProgress.objects.get(lesson=lesson, family=family)
        assert progress.percent >= 90 and progress.completed_at is not None
        # never more than the real time it took
        assert progress.seconds_watched <= time.monotonic() - started
        entries = CreditEntry.objects.filter(family=family)
        assert entries.count() == 1
        assert entries.get().reason == CreditEntry.Reason.ONLINE_LESSON

        # when the parent watches it again, no second credit
        play(page)
        page.wait_for_timeout(5000)
        page.evaluate("() => document.getElementById('lesson-video').pause()")
        page.wait_for_load_state("networkidle")
        assert CreditEntry.objects.filter(family=family).count() == 1

        # the page, completed, still passes axe
        page.reload()
        page.wait_for_load_state("networkidle")
        assert page.locator("#lesson-progress").inner_text().strip() == COMPLETED
        assert axe_violations(page) == []
    finally:
        page.wait_for_load_state("networkidle")
        context.close()


def test_seeking_to_the_end_posts_no_credit_and_the_page_resumes(live_server, browser, lesson):
    # given a parent on a phone who starts the video
    family, guardians, _ = make_family()
    context, page = signed_in_phone(browser, live_server, guardians[0].user)
    try:
        open_lesson(page, live_server, lesson)
        play(page)
        page.wait_for_timeout(2500)
        assert not video_state(page)["paused"]

        # when she drags the player to the end
        page.evaluate(
            "() => { const v = document.getElementById('lesson-video'); v.currentTime = v.duration - 0.3; }"
        )
        page.wait_for_function(
            "() => document.getElementById('lesson-video').ended", timeout=10_000
        )
        page.wait_for_timeout(500)
        page.wait_for_load_state("networkidle")

        # then only the seconds really played count, and no credit is posted
        progress = LessonProgress.objects.get(lesson=lesson, family=family)
        assert progress.percent < 50
        assert progress.completed_at is None
        assert not CreditEntry.objects.filter(family=family).exists()
        assert page.locator("#lesson-progress").inner_text().strip() != COMPLETED

        # when she plays from the middle, pauses and comes back later
        page.evaluate(
            "() => { const v = document.getElementById('lesson-video'); v.currentTime = 6; v.play(); }"
        )
        page.wait_for_timeout(1500)
        page.evaluate("() => document.getElementById('lesson-video').pause()")
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(300)
        stopped_at = LessonProgress.objects.get(lesson=lesson, family=family).position_seconds
        assert 6.5 < stopped_at < 10
        page.reload()
        page.wait_for_function("document.getElementById('lesson-video').readyState >= 1")

        # then the player starts where she stopped
        page.wait_for_function(
            f"() => Math.abs(document.getElementById('lesson-video').currentTime - {stopped_at}) < 1"
        )
        assert "将从上次看到的位置继续播放" in page.content()
        assert not CreditEntry.objects.filter(family=family).exists()
    finally:
        page.wait_for_load_state("networkidle")
        context.close()


def test_playing_twice_as_fast_is_credited_no_faster_than_real_time(live_server, browser, lesson):
    # given a parent who plays the video at double speed to the end (8 s of real time)
    family, guardians, _ = make_family()
    context, page = signed_in_phone(browser, live_server, guardians[0].user)
    try:
        open_lesson(page, live_server, lesson)
        started = time.monotonic()
        page.evaluate("() => { document.getElementById('lesson-video').playbackRate = 2; }")
        play(page)
        page.wait_for_function(
            "() => document.getElementById('lesson-video').ended", timeout=30_000
        )
        page.wait_for_timeout(500)
        page.wait_for_load_state("networkidle")
        took = time.monotonic() - started

        # then what counts is at most the real time, short of 90%: no credit
        progress = LessonProgress.objects.get(lesson=lesson, family=family)
        assert progress.seconds_watched <= took
        assert progress.percent < 90
        assert not CreditEntry.objects.filter(family=family).exists()
    finally:
        page.wait_for_load_state("networkidle")
        context.close()


def test_an_outside_link_page_passes_axe_on_a_phone(live_server, browser, settings):
    lesson = OnlineLessonFactory(video_url="https://v.example.cn/1", duration_seconds=900)
    family, guardians, _ = make_family()
    context, page = signed_in_phone(browser, live_server, guardians[0].user)
    try:
        page.goto(live_server.url + reverse("courses:lesson", args=[lesson.pk]))
        assert "外部链接" in page.inner_text("main")
        assert "不计学分" in page.inner_text("main")
        assert fits_without_horizontal_scroll(page)
        assert axe_violations(page) == []
        page.goto(live_server.url + reverse("courses:lessons"))
        assert fits_without_horizontal_scroll(page)
        assert axe_violations(page) == []
    finally:
        page.wait_for_load_state("networkidle")
        context.close()
