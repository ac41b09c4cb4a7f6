"""The demo's uploaded lesson: the small real video the tests use, so that a fresh
`make run` shows a lesson that plays in the page and earns its credit.

Called by courses.demo after the demo courses exist; idempotent (the files are
stored once, the lesson is updated in place).
"""

from __future__ import annotations

from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage

from .models import Course, OnlineLesson

# courses/tests/lesson_files/make_lesson_media.py says how they were made.
FILES = Path(__file__).resolve().parent / "tests" / "lesson_files"
COURSE_TITLE = "儿童营养与健康"
LESSON_TITLE = "一分钟体验：在本页看完微课记学分"
VIDEO_NAME = "lessons/demo/lesson.webm"
POSTER_NAME = "lessons/demo/posters/lesson-poster.png"
VIDEO_SECONDS = 16


def _stored(name: str, source: Path) -> str:
    if not default_storage.exists(name):
        with source.open("rb") as handle:
            name = default_storage.save(name, File(handle))
    return name


def load() -> OnlineLesson | None:
    course = Course.objects.filter(title=COURSE_TITLE).order_by("pk").first()
    if course is None:
        return None
    lesson, _created = OnlineLesson.objects.update_or_create(
        course=course,
        title=LESSON_TITLE,
        defaults={
            "video_file": _stored(VIDEO_NAME, FILES / "lesson.webm"),
            "poster": _stored(POSTER_NAME, FILES / "lesson-poster.png"),
            "video_url": "",
            "duration_seconds": VIDEO_SECONDS,
            "sort_order": 0,
        },
    )
    return lesson
