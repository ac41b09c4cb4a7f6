"""The lesson list (/courses/lessons/): filters by theme, stage, duration and where
it plays; 20 a page in a constant number of queries; the family's progress and
its credits this term."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from bookings.tests.conftest import make_family
from courses.models import CreditEntry, LessonProgress, OnlineLesson
from courses.tests.factories import CourseFactory, OnlineLessonFactory, ThemeFactory
from parent_school.tests.factories import TermFactory

pytestmark = pytest.mark.django_db

URL = reverse("courses:lessons")


def titles(response) -> list[str]:
    return [lesson.title for lesson in response.context["page_obj"].object_list]


@pytest.fixture
def catalogue(lesson_media):
    talk = ThemeFactory(name="亲子沟通")
    health = ThemeFactory(name="健康教育")
    junior = CourseFactory(title="青春期沟通", themes=[talk], stages=["junior"])
    primary = CourseFactory(title="营养早餐", themes=[health], stages=["primary"])
    hidden = CourseFactory(title="未发布", themes=[talk], is_published=False)
    OnlineLessonFactory(course=junior, title="倾听", duration_seconds=240, uploaded=True)
    OnlineLessonFactory(course=junior, title="表达", duration_seconds=800)
    OnlineLessonFactory(course=primary, title="早餐", duration_seconds=1500, uploaded=True)
    OnlineLessonFactory(course=primary, title="零食", duration_seconds=2400)
    OnlineLessonFactory(course=hidden, title="草稿", duration_seconds=300)
    return {"talk": talk, "health": health}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["零食", "早餐", "表达", "倾听"]),
        ({"theme": "talk"}, ["表达", "倾听"]),
        ({"stage": "primary"}, ["零食", "早餐"]),
        ({"duration": "5"}, ["倾听"]),
        ({"duration": "15"}, ["表达"]),
        ({"duration": "30"}, ["早餐"]),
        ({"duration": "more"}, ["零食"]),
        ({"source": "here"}, ["早餐", "倾听"]),
        ({"source": "outside"}, ["零食", "表达"]),
        ({"q": "营养"}, ["零食", "早餐"]),  # the course's title matches too
        ({"q": "倾听", "theme": "talk", "duration": "5", "source": "here"}, ["倾听"]),
    ],
)
def test_filters(client, catalogue, query, expected):
    if "theme" in query:
        query = {**query, "theme": catalogue[query["theme"]].pk}
    response = client.get(URL, query)
    assert response.status_code == 200
    assert titles(response) == expected  # newest first; unpublished courses never


def test_bad_filter_values_are_ignored_and_said(client, catalogue):
    response = client.get(URL, {"theme": "abc", "duration": "<script>", "page": "x"})
    assert response.status_code == 200
    assert response.context["lesson_list"].invalid
    assert "部分筛选条件无效，已忽略。" in response.content.decode()
    assert len(titles(response)) == 4


def test_each_lesson_says_where_it_plays_and_how_long_it_is(client, catalogue):
    html = client.get(URL).content.decode()
    assert "本站播放 · 计学分" in html
    assert "外部链接 · 不计学分" in html
    assert "4 分钟" in html and "40 分钟" in html and "秒" not in html.split("<main", 1)[1]


def test_a_parent_sees_her_progress_and_her_credits_this_term(client, catalogue):
    family, guardians, _ = make_family()
    term = TermFactory(is_current=True)
    course = CourseFactory(title="本学期课程", term=term, credits=Decimal("1.5"))
    done = OnlineLessonFactory(course=course, title="看完了", uploaded=True)
    half = OnlineLessonFactory(course=course, title="看了一半", uploaded=True)
    progress = LessonProgress.objects.create(
        lesson=done, family=family, percent=100, seconds_watched=16, completed_at=course.created_at
    )
    LessonProgress.objects.create(lesson=half, family=family, percent=40, seconds_watched=6)
    CreditEntry.objects.create(
        key="lesson-test",
        family=family,
        term=term,
        course=course,
        amount=Decimal("0.8"),
        reason=CreditEntry.Reason.ONLINE_LESSON,
        lesson_progress=progress,
    )
    CreditEntry.objects.create(
        key="attendance-test",
        family=family,
        term=term,
        course=course,
        amount=Decimal("1.5"),
        reason=CreditEntry.Reason.ATTENDANCE,
    )
    client.force_login(guardians[0].user)
    html = client.get(URL).content.decode()
    assert "合计 2.3 学分，其中线上微课 0.8 学分（完成 1 节）" in html
    assert "已完成（" in html and "已看 40%" in html


def test_the_list_costs_the_same_queries_for_10_or_100_lessons(
    client, django_assert_max_num_queries
):
    family, guardians, _ = make_family()
    client.force_login(guardians[0].user)
    TermFactory(is_current=True)
    theme = ThemeFactory(name="亲子沟通")

    def fill(n):
        course = CourseFactory(themes=[theme], stages=["primary"])
        OnlineLesson.objects.bulk_create(
            OnlineLesson(course=course, title=f"微课{i}", duration_seconds=300 + i, video_url="x")
            for i in range(n)
        )
        for lesson in OnlineLesson.objects.filter(course=course)[:5]:
            LessonProgress.objects.create(lesson=lesson, family=family, percent=50)

    def count_queries(query):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            assert client.get(URL, query).status_code == 200
        return len(queries)

    fill(10)
    few = count_queries({"theme": theme.pk, "page": 1})
    fill(90)
    many = count_queries({"theme": theme.pk, "page": 3})
    assert few == many
    with django_assert_max_num_queries(12):
        client.get(URL, {"theme": theme.pk, "stage": "primary", "duration": "5"})
