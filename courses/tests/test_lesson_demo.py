import pytest
from django.urls import reverse

from courses import demo, demo_video
from courses.models import OnlineLesson
from courses.tests.factories import TEST_VIDEO
from members import demo as members_demo

pytestmark = pytest.mark.django_db


def test_the_demo_has_one_lesson_that_plays_in_the_page_and_loads_twice(client, lesson_media):
    # given the registry demo
    members_demo.load()

    # when the course demo runs twice
    demo.load()
    demo.load()

    # then there is one uploaded demo lesson, its files stored once, and it plays
    lessons = OnlineLesson.objects.filter(title=demo_video.LESSON_TITLE)
    assert lessons.count() == 1
    lesson = lessons.get()
    assert lesson.plays_here and lesson.poster and lesson.duration_seconds == 16
    assert sorted(p.name for p in (lesson_media / "lessons" / "demo").iterdir()) == [
        "lesson.webm",
        "posters",
    ]
    page = client.get(reverse("courses:lesson", args=[lesson.pk])).content.decode()
    assert 'id="lesson-video"' in page
    video = client.get(reverse("courses:lesson_video", args=[lesson.pk]))
    assert b"".join(video.streaming_content) == TEST_VIDEO.read_bytes()
