"""The nightly hours task (volunteers.tasks.hours_record) run by a real Celery
worker on the real Redis broker and the test database."""

from __future__ import annotations

import datetime as dt

import pytest

from courses.tests.factories import CourseFactory, make_session
from guidance.tests.world import build_station_world
from parent_school.tests.factories import InstructorFactory, ParentSchoolFactory
from tests.helpers import wait_for
from volunteers import tasks
from volunteers.models import ServiceHour


@pytest.mark.celery_worker
def test_the_worker_records_the_current_terms_hours_once(celery_worker_process):
    # given a volunteer who taught an ended session of a course of the current term
    w = build_station_world()
    vol = InstructorFactory(unit=w.unit, is_volunteer=True)
    course = CourseFactory(parent_school=ParentSchoolFactory(host_unit=w.school), term=w.term)
    course.instructors.add(vol)
    session = make_session(course, starts_in=-dt.timedelta(hours=4), hours=2)

    # when the beat's task is queued twice (a redelivery, a second beat)
    tasks.hours_record.delay()
    tasks.hours_record.delay()

    # then her two hours are recorded, once
    rows = ServiceHour.objects.filter(instructor=vol, offering=session.offering)
    wait_for(lambda: rows.exists(), timeout=60)
    # both tasks have had time to run: a second row would have appeared by now
    wait_for(lambda: _queue_empty(), timeout=60)
    assert rows.count() == 1
    row = rows.get()
    assert (row.hours, row.status, row.term_id) == (2, "recorded", w.term.pk)


def _queue_empty() -> bool:
    from alliance.celery import app

    # the queue the hours task is routed to (alliance/settings/base.py, "queues")
    queue = app.amqp.router.route({}, "volunteers.tasks.hours_record")["queue"].name
    with app.connection_for_write() as conn:
        return conn.default_channel.client.llen(queue) == 0
