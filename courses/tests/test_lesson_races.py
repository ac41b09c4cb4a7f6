"""Two heartbeats of one family at the same instant (two tabs, two phones, a retry),
on PostgreSQL with real threads (tests/races.py): the time is counted once and the
credit is posted once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from bookings.tests.conftest import make_family
from courses import services
from courses.models import CreditEntry, LessonProgress
from courses.tests.factories import OnlineLessonFactory
from tests.races import run_together

pytestmark = pytest.mark.django_db(transaction=True)


def _no_errors(outcome):
    assert outcome.errors == [], outcome.errors


def test_two_heartbeats_crossing_the_threshold_at_once_credit_once(lesson_media):
    # given a family at 80% of a 100 s lesson, its last heartbeat 10 s ago
    lesson = OnlineLessonFactory(uploaded=True, duration_seconds=100)
    family, guardians, _ = make_family(guardians=2)
    LessonProgress.objects.create(
        lesson=lesson,
        family=family,
        seconds_watched=80,
        percent=80,
        last_heartbeat_at=timezone.now() - timedelta(seconds=10),
    )

    def heartbeat(guardian):
        return lambda: services.lesson_progress_record(
            lesson=lesson, user=guardian.user, position_seconds=90, watched_seconds=10
        )

    # when both guardians' pages send the heartbeat that reaches 90% at the same instant
    outcome = run_together(
        [heartbeat(guardians[0]), heartbeat(guardians[1])],
        meet_before_write=["courses_lessonprogress"],
    )

    # then one of them posted the credit, the other found it done
    _no_errors(outcome)
    assert outcome.met == 2  # the two really met before writing
    assert sorted(credited for _progress, credited in outcome.results) == [False, True]
    assert CreditEntry.objects.filter(family=family).count() == 1
    # and the ten seconds of the clock were counted once, not twice
    progress = LessonProgress.objects.get(lesson=lesson, family=family)
    assert 90 <= progress.seconds_watched < 91
    assert progress.completed_at is not None


def test_two_first_heartbeats_at_once_make_one_progress_row(lesson_media):
    lesson = OnlineLessonFactory(uploaded=True)
    guardian = make_family()[1][0]

    def first():
        return services.lesson_progress_record(
            lesson=lesson, user=guardian.user, position_seconds=0, watched_seconds=0
        )

    outcome = run_together([first] * 2, meet_before_write=["courses_lessonprogress"])

    _no_errors(outcome)
    progress = LessonProgress.objects.get(lesson=lesson, family=guardian.family)
    assert {p.pk for p, _ in outcome.results} == {progress.pk}
    assert progress.seconds_watched == 0 and progress.last_heartbeat_at is not None
