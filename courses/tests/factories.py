from datetime import timedelta
from pathlib import Path

import factory
from django.utils import timezone

from courses import services
from courses.models import Course, OnlineLesson, Stage, Theme
from parent_school.tests.factories import ParentSchoolFactory, TermFactory


class ThemeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Theme
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"主题{n}")


def stage(code: str) -> Stage:
    # Seeded by a migration, but transactional tests flush tables: get or create.
    return Stage.objects.get_or_create(code=code)[0]


class CourseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Course
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"测试课程{n}")
    summary = "面向家长的家庭教育课程"
    audience = Course.Audience.PARENTS
    level = Course.Level.GENERAL
    mode = Course.Mode.OFFLINE
    parent_school = factory.SubFactory(ParentSchoolFactory)
    term = factory.SubFactory(TermFactory)
    is_published = True

    @factory.post_generation
    def themes(self, create, extracted, **kwargs):
        if create and extracted:
            self.themes.set(extracted)

    @factory.post_generation
    def stages(self, create, extracted, **kwargs):
        if create and extracted:
            self.stages.set([stage(code) for code in extracted])


def make_session(course, *, capacity=10, starts_in=timedelta(days=3), hours=2, venue="社区活动室"):
    starts_at = timezone.now() + starts_in
    return services.course_session_create(
        course=course,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=hours),
        capacity=capacity,
        venue=venue,
    )


# A real 16-second VP8 WebM and its poster (courses/tests/lesson_files/make_lesson_media.py).
TEST_MEDIA = Path(__file__).resolve().parent / "lesson_files"
TEST_VIDEO = TEST_MEDIA / "lesson.webm"
TEST_POSTER = TEST_MEDIA / "lesson-poster.png"
TEST_VIDEO_SECONDS = 16


class OnlineLessonFactory(factory.django.DjangoModelFactory):
    """An outside-link lesson by default; ``uploaded=True`` stores the real test
    video and poster in MEDIA_ROOT (point it at a temporary folder first)."""

    class Meta:
        model = OnlineLesson

    class Params:
        uploaded = factory.Trait(
            video_url="",
            video_file=factory.django.FileField(from_path=TEST_VIDEO, filename="lesson.webm"),
            poster=factory.django.FileField(from_path=TEST_POSTER, filename="lesson-poster.png"),
            duration_seconds=TEST_VIDEO_SECONDS,
        )

    course = factory.SubFactory(CourseFactory)
    title = factory.Sequence(lambda n: f"微课{n}")
    video_url = "https://example.cn/v.mp4"
    duration_seconds = 600
