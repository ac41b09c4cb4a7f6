"""generate_scale_data holds the online micro-courses at scale: lessons (uploaded
and outside links), families' progress and the credits of finished lessons, and
the lesson list pages through them in constant queries."""

from django.core.management import call_command
from django.db.models import Count
from django.test import Client
from django.urls import reverse

from courses.models import CreditEntry, LessonProgress, OnlineLesson
from reports import scale


def test_small_preset_has_lessons_progress_and_lesson_credits(db, django_assert_max_num_queries):
    # when
    call_command("generate_scale_data", "--preset", "small", "--seed", "5")

    # then every online course holds its lessons, one in five an outside link
    p = scale.PRESETS["small"]
    online_courses = p.courses // p.lessons_every
    lessons = OnlineLesson.objects.all()
    assert lessons.count() == online_courses * p.lessons_per_course
    uploaded = lessons.exclude(video_file="")
    assert uploaded.count() == online_courses * (p.lessons_per_course - 1)
    assert not lessons.filter(video_file="", video_url="").exists()
    assert not lessons.filter(duration_seconds__lt=180).exists()

    # only uploaded lessons are tracked; each family at most once per lesson
    progress = LessonProgress.objects.all()
    assert progress.count() == uploaded.count() * p.progress_per_lesson
    assert not progress.filter(lesson__video_file="").exists()
    assert progress.values("lesson", "family").annotate(n=Count("pk")).filter(n__gt=1).count() == 0

    # a finished lesson earned exactly one credit, in its course's term, to its family
    finished = progress.filter(completed_at__isnull=False)
    credits = CreditEntry.objects.filter(reason=CreditEntry.Reason.ONLINE_LESSON)
    assert finished.exists() and credits.count() == finished.count()
    assert not credits.exclude(family=models_f("lesson_progress__family")).exists()
    assert not credits.exclude(term=models_f("lesson_progress__lesson__course__term")).exists()
    # the course's 1.0 credit shared by its 6 lessons, to 0.1
    assert {str(a) for a in credits.values_list("amount", flat=True).distinct()} == {"0.2"}

    # and the lesson list pages through them in constant queries
    client = Client()
    with django_assert_max_num_queries(10):
        first = client.get(reverse("courses:lessons"))
    with django_assert_max_num_queries(10):
        deep = client.get(reverse("courses:lessons"), {"page": 10, "source": "here"})
    assert first.status_code == deep.status_code == 200
    assert first.context["page_obj"].paginator.count == lessons.count()
    assert deep.context["page_obj"].paginator.count == uploaded.count()


def models_f(name):
    from django.db.models import F

    return F(name)
