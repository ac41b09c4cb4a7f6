"""Online-lesson progress is counted by the server from heartbeats, never faster
than the clock, and the credit is posted once at LESSON_CREDIT_PERCENT."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from bookings.tests.conftest import make_family
from courses import services
from courses.errors import CourseError
from courses.models import CreditEntry, LessonProgress
from courses.tests.factories import CourseFactory, OnlineLessonFactory
from members.models import AuditLog

pytestmark = pytest.mark.django_db

START = timezone.now().replace(microsecond=0)


class Clock:
    """The server's time, moved by the test (services read timezone.now())."""

    def __init__(self):
        self.now = START

    def __call__(self):
        return self.now

    def advance(self, seconds: float):
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock():
    clock = Clock()
    with mock.patch("courses.services.timezone.now", clock):
        yield clock


@pytest.fixture
def lesson(lesson_media):
    # a 100-second uploaded lesson: one second is one per cent
    return OnlineLessonFactory(uploaded=True, duration_seconds=100, course=CourseFactory(credits=2))


@pytest.fixture
def guardian():
    return make_family()[1][0]


def beat(lesson, guardian, *, position, watched):
    return services.lesson_progress_record(
        lesson=lesson, user=guardian.user, position_seconds=position, watched_seconds=watched
    )


def test_the_first_heartbeat_starts_the_clock_and_counts_nothing(clock, lesson, guardian):
    progress, credited = beat(lesson, guardian, position=0, watched=5)
    assert (progress.seconds_watched, progress.percent, credited) == (0, 0, False)
    assert progress.last_heartbeat_at == clock.now


def test_watching_in_real_time_counts_and_credits_once_at_ninety_percent(clock, lesson, guardian):
    # given a parent who plays the lesson, the page beating every 10 s
    beat(lesson, guardian, position=0, watched=0)
    results = []
    for second in range(10, 101, 10):
        clock.advance(10)
        results.append(beat(lesson, guardian, position=second, watched=10))

    # then every heartbeat counted its ten seconds, and the one reaching 90% credited
    assert [p.percent for p, _ in results] == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert [credited for _, credited in results] == [False] * 8 + [True, False]
    entry = CreditEntry.objects.get()
    assert entry.reason == CreditEntry.Reason.ONLINE_LESSON
    assert entry.amount == Decimal("2.0")  # the course's only lesson carries its credits
    assert entry.guardian == guardian and entry.family == guardian.family
    assert entry.key == f"lesson:{lesson.pk}:family:{guardian.family_id}"
    progress = LessonProgress.objects.get()
    assert progress.completed_at == START + timedelta(seconds=90)
    assert AuditLog.objects.filter(action="courses.lesson.complete").count() == 1

    # and watching it again credits nothing more
    beat(lesson, guardian, position=0, watched=0)
    for _ in range(10):
        clock.advance(10)
        assert beat(lesson, guardian, position=10, watched=10)[1] is False
    assert CreditEntry.objects.count() == 1
    assert LessonProgress.objects.get().seconds_watched == 100  # never past the duration


def test_seeking_to_the_end_counts_only_what_was_played(clock, lesson, guardian):
    # given a parent who starts the video and after 3 s drags it to the end
    beat(lesson, guardian, position=0, watched=0)
    clock.advance(3.5)

    # when the page reports the end (3 s played; the jump is left out by the page)
    progress, credited = beat(lesson, guardian, position=100, watched=3)

    # then 3 s count, the resume position is the end, and no credit
    assert (progress.seconds_watched, progress.percent, credited) == (3, 3, False)
    assert progress.position_seconds == 100
    assert not CreditEntry.objects.exists()


def test_a_page_claiming_more_than_the_clock_gets_the_clock(clock, lesson, guardian):
    # given a page that lies (or plays at double speed): it claims 95 s after 5 s
    beat(lesson, guardian, position=0, watched=0)
    clock.advance(5)
    progress, credited = beat(lesson, guardian, position=95, watched=95)
    assert (progress.seconds_watched, credited) == (5, False)

    # double speed for a minute: 120 s of video in 60 s counts 60 s
    for _ in range(6):
        clock.advance(10)
        progress, credited = beat(lesson, guardian, position=0, watched=20)
    assert progress.seconds_watched == 65
    assert not CreditEntry.objects.exists()


def test_heartbeats_sent_too_fast_count_no_more_than_the_time_between_them(clock, lesson, guardian):
    # given a page (or a script) that sends a heartbeat every 0.1 s claiming 10 s each
    beat(lesson, guardian, position=0, watched=0)
    for _ in range(50):
        clock.advance(0.1)
        progress, _credited = beat(lesson, guardian, position=50, watched=10)

    # then five seconds of the clock are five seconds of watching
    assert progress.seconds_watched == pytest.approx(5.0)
    assert not CreditEntry.objects.exists()


def test_a_duplicate_heartbeat_counts_nothing(clock, lesson, guardian):
    beat(lesson, guardian, position=0, watched=0)
    clock.advance(10)
    first, _ = beat(lesson, guardian, position=10, watched=10)
    # the same request again (a retry on a slow network), at the same instant
    again, _ = beat(lesson, guardian, position=10, watched=10)
    assert first.seconds_watched == again.seconds_watched == 10


def test_a_heartbeat_after_a_long_gap_counts_at_most_three_intervals(
    clock, settings, lesson, guardian
):
    settings.LESSON_HEARTBEAT_SECONDS = 10
    beat(lesson, guardian, position=0, watched=0)
    clock.advance(3600)  # an hour later, claiming the whole hour
    progress, _ = beat(lesson, guardian, position=100, watched=3600)
    assert progress.seconds_watched == 30


def test_pausing_counts_nothing_even_when_the_clock_runs(clock, lesson, guardian):
    # given a parent who watched 20 s, paused for ten minutes and plays again
    beat(lesson, guardian, position=0, watched=0)
    clock.advance(20)
    beat(lesson, guardian, position=20, watched=20)  # the pause heartbeat
    clock.advance(600)
    progress, _ = beat(lesson, guardian, position=20, watched=0)  # "playing" again
    assert progress.seconds_watched == 20
    clock.advance(10)
    progress, _ = beat(lesson, guardian, position=30, watched=10)
    assert progress.seconds_watched == 30


def test_two_guardians_of_one_family_share_the_clock(clock, lesson):
    # given two guardians of one family watching on two phones at once
    family, guardians, _ = make_family(guardians=2)
    beat(lesson, guardians[0], position=0, watched=0)
    clock.advance(5)
    beat(lesson, guardians[1], position=0, watched=5)
    clock.advance(5)
    progress, _ = beat(lesson, guardians[0], position=10, watched=10)
    # ten seconds passed: ten seconds count, not fifteen
    assert progress.seconds_watched == 10
    assert LessonProgress.objects.filter(family=family).count() == 1


@pytest.mark.parametrize(
    ("position", "watched"),
    [("abc", "1"), ("1", "abc"), ("-5", "1"), ("1", "-1"), ("nan", "1"), ("1", "inf"), ("", "")],
)
def test_bad_values_are_refused(clock, lesson, guardian, position, watched):
    with pytest.raises(CourseError) as error:
        beat(lesson, guardian, position=position, watched=watched)
    assert error.value.code == "bad_progress"
    assert not LessonProgress.objects.exists()


def test_an_outside_link_is_not_tracked_nor_credited(clock, guardian):
    lesson = OnlineLessonFactory(video_url="https://v.example.cn/1")
    with pytest.raises(CourseError) as error:
        beat(lesson, guardian, position=0, watched=0)
    assert error.value.code == "lesson_not_tracked"
    assert not LessonProgress.objects.exists()


def test_a_user_without_a_family_is_told_to_set_it_up(lesson):
    from members.tests.factories import UserFactory

    with pytest.raises(CourseError) as error:
        services.lesson_progress_record(
            lesson=lesson, user=UserFactory(), position_seconds=0, watched_seconds=0
        )
    assert error.value.code == "no_family"


# The page's endpoint -------------------------------------------------------------------


def test_the_progress_endpoint_answers_json_and_refuses_bad_input(client, clock, lesson, guardian):
    client.force_login(guardian.user)
    url = reverse("courses:lesson_progress", args=[lesson.pk])
    assert client.post(url, {"position": "0", "watched": "0"}).json() == {
        "percent": 0,
        "completed": False,
        "credited": False,
    }
    clock.advance(10)
    assert client.post(url, {"position": "10", "watched": "10"}).json()["percent"] == 10
    bad = client.post(url, {"position": "x", "watched": "1"})
    assert bad.status_code == 400 and bad.json()["error"] == "观看进度无效。"
    assert client.get(url).status_code == 405


def test_the_progress_endpoint_of_an_outside_link_says_it_is_not_credited(client, guardian):
    client.force_login(guardian.user)
    lesson = OnlineLessonFactory()
    response = client.post(
        reverse("courses:lesson_progress", args=[lesson.pk]), {"position": "1", "watched": "1"}
    )
    assert response.status_code == 400
    assert "不计学分" in response.json()["error"]


def test_lessons_of_unpublished_courses_are_not_found(client, lesson_media, guardian):
    lesson = OnlineLessonFactory(uploaded=True, course=CourseFactory(is_published=False))
    client.force_login(guardian.user)
    for name in ("lesson", "lesson_video", "lesson_poster"):
        assert client.get(reverse(f"courses:{name}", args=[lesson.pk])).status_code == 404
    response = client.post(
        reverse("courses:lesson_progress", args=[lesson.pk]), {"position": "1", "watched": "1"}
    )
    assert response.status_code == 404


# The page ------------------------------------------------------------------------------


def test_the_page_plays_the_video_in_the_page_and_resumes_where_the_family_stopped(
    client, lesson, guardian
):
    LessonProgress.objects.create(
        lesson=lesson, family=guardian.family, position_seconds=42.5, percent=30
    )
    client.force_login(guardian.user)
    html = client.get(reverse("courses:lesson", args=[lesson.pk])).content.decode()
    assert 'id="lesson-video"' in html
    assert 'controls playsinline preload="metadata"' in html
    assert f'src="{reverse("courses:lesson_video", args=[lesson.pk])}"' in html
    assert f'poster="{reverse("courses:lesson_poster", args=[lesson.pk])}"' in html
    assert 'data-resume-at="42.5"' in html
    assert 'data-heartbeat-seconds="10"' in html
    assert "2 分钟" in html  # 100 s, in whole minutes
    assert "观看满 90% 记入 2.0 学分" in html
    assert "js/lesson-progress.js" in html
    assert "<script>" not in html  # no inline script (CSP)


def test_the_page_starts_again_from_the_beginning_after_the_end(client, lesson, guardian):
    LessonProgress.objects.create(lesson=lesson, family=guardian.family, position_seconds=99)
    client.force_login(guardian.user)
    html = client.get(reverse("courses:lesson", args=[lesson.pk])).content.decode()
    assert 'data-resume-at="0.0"' in html


def test_an_anonymous_visitor_can_watch_but_is_asked_to_sign_in_for_credits(client, lesson):
    html = client.get(reverse("courses:lesson", args=[lesson.pk])).content.decode()
    assert 'id="lesson-video"' in html
    assert "data-progress-url" not in html  # no heartbeats without a family
    assert "后观看，才能记录进度并记入学分" in html


def test_an_outside_link_is_labelled_outside_and_says_it_earns_no_credit(client, guardian):
    lesson = OnlineLessonFactory(video_url="https://v.example.cn/abc", duration_seconds=900)
    client.force_login(guardian.user)
    html = client.get(reverse("courses:lesson", args=[lesson.pk])).content.decode()
    assert "外部链接" in html
    assert "不计学分" in html
    assert "<video" not in html
    assert 'href="https://v.example.cn/abc"' in html
    assert "15 分钟" in html and "900" not in html


def test_the_page_shows_the_familys_credits_this_term(client, clock, lesson, guardian):
    # given a family that completed the lesson in the current term
    term = lesson.course.term
    type(term).objects.filter(pk=term.pk).update(is_current=True)
    beat(lesson, guardian, position=0, watched=0)
    for _ in range(9):
        clock.advance(10)
        beat(lesson, guardian, position=0, watched=10)
    client.force_login(guardian.user)
    html = client.get(reverse("courses:lesson", args=[lesson.pk])).content.decode()
    assert "已完成，学分已记入学分银行。" in html
    assert "合计 2.0 学分，其中线上微课 2.0 学分（完成 1 节）" in html


def test_the_course_page_lists_lessons_with_minutes_and_the_outside_label(client, lesson_media):
    course = CourseFactory()
    OnlineLessonFactory(course=course, title="站内微课", uploaded=True, duration_seconds=900)
    OnlineLessonFactory(course=course, title="站外微课", duration_seconds=61)
    html = client.get(reverse("courses:detail", args=[course.pk])).content.decode()
    assert '站内微课</a> <span class="meta">· 15 分钟 · 本站播放 · 计学分' in html
    assert (
        '站外微课</a> <span class="meta">· 2 分钟 · <span class="tag tag-outside">外部链接' in html
    )
    assert "秒" not in html.split("线上微课", 1)[1].split("</ul>", 1)[0]
