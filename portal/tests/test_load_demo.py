import io

import pytest
from django.apps import apps
from django.core.management import call_command

pytestmark = pytest.mark.django_db

PROJECT_APPS = ("members", "notifications", "parent_school", "bookings", "courses", "events")


def _counts() -> dict[str, int]:
    return {
        model._meta.label: model.objects.count()
        for app in PROJECT_APPS
        for model in apps.get_app_config(app).get_models()
        if model._meta.label != "members.AuditLog"  # each run may log what it did
    }


def test_load_demo_twice_gives_the_same_counts(django_capture_on_commit_callbacks):
    # given the demo loaded once
    with django_capture_on_commit_callbacks(execute=True):
        call_command("load_demo", stdout=io.StringIO())
    first = _counts()

    # when it is loaded again
    with django_capture_on_commit_callbacks(execute=True):
        call_command("load_demo", stdout=io.StringIO())

    # then nothing was added or lost
    assert _counts() == first
    assert first["members.Alliance"] == 2
    assert first["courses.Course"] > 0
    assert first["events.Event"] > 0


def test_if_empty_skips_a_database_that_has_data():
    call_command("load_demo", stdout=io.StringIO())
    out = io.StringIO()
    call_command("load_demo", "--if-empty", stdout=out)
    assert "跳过" in out.getvalue()
