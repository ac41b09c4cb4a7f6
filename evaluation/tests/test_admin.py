"""The admin: the district's responsibilities saved through responsibility_save;
targets, feedback and actions read-only and scoped to the units one sees."""

from __future__ import annotations

import pytest
from django.urls import reverse

from evaluation.models import Responsibility
from evaluation.tests.factories import FeedbackFactory, ImprovementActionFactory
from members.models import AuditLog

pytestmark = pytest.mark.django_db


def _staff(user):
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


def test_the_city_admin_adds_a_responsibility_through_the_service(client, world):
    # the list is city-wide reference data: the city's to edit
    client.force_login(_staff(world.city))
    url = reverse("admin:evaluation_responsibility_add")
    data = {
        "code": "volunteers",
        "name": "志愿服务场次",
        "metric": "events_held",
        "default_value": "2.5",
        "description": "",
        "position": "60",
        "is_active": "on",
    }
    response = client.post(url, data)
    assert response.status_code == 200 and "须是整数" in response.content.decode()
    assert not Responsibility.objects.filter(code="volunteers").exists()
    response = client.post(url, {**data, "default_value": "3"})
    assert response.status_code == 302
    assert Responsibility.objects.get(code="volunteers").default_value == 3
    assert AuditLog.objects.filter(action="evaluation.responsibility.create").count() == 1


def test_coordinators_only_look_and_see_their_units_rows(client, world):
    ours = ImprovementActionFactory(unit=world.school, term=world.term, what="溪口的措施")
    theirs = ImprovementActionFactory(unit=world.other_school, term=world.term, what="武岭的措施")
    feedback = FeedbackFactory(unit=world.other_school, term=world.term)
    client.force_login(_staff(world.alliance_coordinator))
    page = client.get(reverse("admin:evaluation_improvementaction_changelist")).content.decode()
    assert "溪口的措施" in page and "武岭的措施" not in page
    assert (
        client.get(
            reverse("admin:evaluation_improvementaction_change", args=[theirs.pk])
        ).status_code
        == 404
    )
    assert (
        client.get(reverse("admin:evaluation_feedback_change", args=[feedback.pk])).status_code
        == 404
    )
    assert client.get(reverse("admin:evaluation_responsibility_add")).status_code == 403
    response = client.post(
        reverse("admin:evaluation_improvementaction_change", args=[ours.pk]), {"what": "改了"}
    )
    assert response.status_code == 403
    ours.refresh_from_db()
    assert ours.what == "溪口的措施"
