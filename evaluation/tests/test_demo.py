"""The evaluation demo (``manage.py load_demo``): through the services, once, and
shown on the unit's panel."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.urls import reverse

from evaluation import demo
from evaluation.defaults import responsibilities_default
from evaluation.models import Feedback, ImprovementAction, Responsibility, UnitTarget
from events.models import Delivery
from members.models import AuditLog, Membership
from parent_school.selectors import term_current

pytestmark = pytest.mark.django_db


def _rows() -> dict[str, list[tuple]]:
    """Every evaluation row as values, and the outbox's rows."""
    rows = {}
    for model in [*apps.get_app_config("evaluation").get_models(), Delivery]:
        fields = [f.attname for f in model._meta.concrete_fields]
        rows[model._meta.label] = list(model.objects.order_by("pk").values_list(*fields))
    return rows


def test_the_demo_loads_through_the_services_once_and_the_units_panel_shows_it(client):
    # given the demo's units, sign-ins and terms (the courses' catalogue makes the
    # terms; the history, events and surveys are not needed here)
    from courses import demo as courses_demo
    from members import demo as members_demo

    # The default responsibilities come from a data migration: a transactional
    # test run before this one (another app's, on a reused database) flushed them.
    responsibilities_default()
    members_demo.load()
    courses_demo.load(history=False)
    term = term_current()
    audit_before = AuditLog.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    # when the evaluation demo runs twice
    first = demo.load()
    rows = _rows()
    audited = AuditLog.objects.count()
    second = demo.load()

    # then the second load changes nothing, not even the audit log
    assert first == second
    assert _rows() == rows and AuditLog.objects.count() == audited
    units = Membership.objects.filter(
        alliance__name__in=members_demo.DEMO_ALLIANCES, left_on__isnull=True
    ).values("unit_id")
    active = Responsibility.objects.filter(is_active=True).count()
    assert UnitTarget.objects.filter(term=term, unit_id__in=units).count() == (
        len({u["unit_id"] for u in units}) * active
    )
    # written through the services: audited, the unit told, the writer told back
    assert {
        "evaluation.target.default",
        "evaluation.feedback.write",
        "evaluation.feedback.acknowledge",
        "evaluation.action.add",
        "evaluation.action.update",
    } <= set(AuditLog.objects.filter(pk__gt=audit_before).values_list("action", flat=True))
    feedback = Feedback.objects.get()
    assert feedback.unit.name == "溪口中学" and feedback.term == term
    # demo_district_admin is the city administrator: it writes as the city
    assert feedback.written_by.username == "demo_district_admin" and feedback.written_as == "市级"
    assert feedback.acknowledged_by.username == "demo_xikou_school_coordinator"
    assert Delivery.objects.filter(notice__key=f"evaluation.feedback:{feedback.pk}").exists()
    assert Delivery.objects.filter(
        notice__key=f"evaluation.feedback_ack:{feedback.pk}", user=feedback.written_by
    ).exists()
    statuses = sorted(ImprovementAction.objects.values_list("status", flat=True))
    assert statuses == ["in_progress", "planned"]
    assert all(
        term.starts_on <= a.due_on <= term.ends_on and a.feedback_id == feedback.pk
        for a in ImprovementAction.objects.all()
    )
    # nothing for an earlier term: the demo has no history before this one
    assert not Feedback.objects.exclude(term=term).exists()
    assert not ImprovementAction.objects.exclude(term=term).exists()

    # and the unit's coordinator sees it all on the unit's panel
    client.force_login(get_user_model().objects.get(username="demo_xikou_school_coordinator"))
    page = client.get(
        reverse("evaluation:unit", args=[feedback.unit_id]) + f"?term={term.code}"
    ).content.decode()
    assert demo.STRENGTHS in page and demo.PROBLEMS in page and "已确认" in page
    for what, *_rest in demo.ACTIONS:
        assert what in page
    assert "进行中" in page and "计划中" in page and "已有 2 项改进措施" in page
    assert "按默认目标设定" in page and "≥ 10 次" in page
