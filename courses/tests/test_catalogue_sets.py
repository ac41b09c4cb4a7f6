"""The theme and stage id arrays on each course row (migration 0008), which the
catalogue's counting query reads instead of the many-to-many tables, stay equal to
the many-to-many rows however those are written, also by two transactions at once."""

import threading
import time

import pytest
from django.db import connection, connections, transaction

from courses.models import Course, Theme
from courses.tests.factories import CourseFactory, ThemeFactory, stage


def _sets() -> dict[int, tuple[list[int], list[int]]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, theme_ids, stage_ids FROM courses_course ORDER BY id")
        return {pk: (list(themes), list(stages)) for pk, themes, stages in cursor.fetchall()}


def _expected() -> dict[int, tuple[list[int], list[int]]]:
    return {
        course.pk: (
            sorted(course.themes.values_list("pk", flat=True)),
            sorted(course.stages.values_list("pk", flat=True)),
        )
        for course in Course.objects.order_by("pk")
    }


@pytest.mark.django_db
def test_arrays_follow_every_way_of_writing_themes_and_stages():
    a, b, c = (
        ThemeFactory(name="亲子沟通"),
        ThemeFactory(name="法治教育"),
        ThemeFactory(name="心理健康"),
    )
    first, second = CourseFactory(), CourseFactory()
    assert _sets() == _expected()

    first.themes.add(a, b)
    second.themes.set([b, c])
    first.stages.set([stage("primary"), stage("junior")])
    assert _sets() == _expected()
    assert len(_sets()[first.pk][0]) == 2

    first.themes.remove(a)
    second.stages.add(stage("senior"))
    assert _sets() == _expected()

    second.themes.clear()
    first.stages.remove(stage("junior"))
    assert _sets() == _expected()

    # Several courses in one statement, as bulk writes do.
    third = CourseFactory()
    Course.themes.through.objects.bulk_create(
        [
            Course.themes.through(course=third, theme=a),
            Course.themes.through(course=third, theme=c),
            Course.themes.through(course=second, theme=a),
        ]
    )
    assert _sets() == _expected()

    # A theme deleted leaves none of its courses pointing at it.
    Theme.objects.filter(pk=a.pk).delete()
    assert _sets() == _expected()
    assert all(a.pk not in themes for themes, _stages in _sets().values())

    # Saving a course (every model field written) keeps its arrays.
    first.title = "新的课程名称"
    first.save()
    assert _sets() == _expected()


@pytest.mark.django_db(transaction=True)
def test_two_transactions_adding_themes_to_one_course_both_count():
    course = CourseFactory()
    themes = [ThemeFactory(name="安全教育"), ThemeFactory(name="劳动教育")]
    written = threading.Event()
    errors = []

    def first():  # writes, then holds its transaction open a moment
        try:
            with transaction.atomic():
                Course.themes.through.objects.create(course_id=course.pk, theme_id=themes[0].pk)
                written.set()
                time.sleep(0.5)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            written.set()
            connections.close_all()

    def second():  # writes while the first has not committed yet
        try:
            written.wait(timeout=10)
            with transaction.atomic():
                Course.themes.through.objects.create(course_id=course.pk, theme_id=themes[1].pk)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert _sets()[course.pk][0] == sorted(theme.pk for theme in themes)
    assert _sets() == _expected()
