"""The surveys admin (surveys/admin.py): templates and surveys read-only and
scoped; nothing that could set answers beside the families who gave them."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from surveys.models import (
    Answer,
    Draft,
    Invitation,
    Participation,
    PendingResponse,
    Response,
    Survey,
    SurveyTemplate,
)
from surveys.tests.factories import SurveyFactory, SurveyTemplateFactory
from surveys.tests.world import session_survey

pytestmark = pytest.mark.django_db


def test_no_admin_joins_answers_to_families():
    for model in (Response, Answer, PendingResponse, Draft, Participation, Invitation):
        assert model not in admin.site._registry, model


def test_a_coordinator_sees_only_the_surveys_of_their_units(client, world):
    ours = session_survey(world, title="城东课后问卷")
    theirs = SurveyFactory(
        template=world.template, title="城西学期问卷", unit=world.other_school, term=world.term
    )
    world.unit_coordinator.is_staff = True
    world.unit_coordinator.save(update_fields=["is_staff"])
    client.force_login(world.unit_coordinator)
    listing = client.get(reverse("admin:surveys_survey_changelist"))
    assert listing.status_code == 200
    body = listing.content.decode()
    assert "城东课后问卷" in body and "城西学期问卷" not in body
    assert reverse("surveys:manage_survey", args=[ours.pk]) in body
    page = client.get(reverse("admin:surveys_survey_change", args=[ours.pk]))
    assert page.status_code == 200
    assert client.get(reverse("admin:surveys_survey_change", args=[theirs.pk])).status_code == 404
    # read-only: no add page, and a POST changes nothing
    assert client.get(reverse("admin:surveys_survey_add")).status_code == 403
    client.post(reverse("admin:surveys_survey_change", args=[ours.pk]), {"title": "改掉"})
    assert Survey.objects.get(pk=ours.pk).title == "城东课后问卷"


def test_templates_of_another_alliance_are_not_listed(client, world):
    SurveyTemplateFactory(alliance=world.alliance, name="城东联盟模板")
    theirs = SurveyTemplateFactory(alliance=world.other_alliance, name="城西联盟模板")
    world.alliance_coordinator.is_staff = True
    world.alliance_coordinator.save(update_fields=["is_staff"])
    client.force_login(world.alliance_coordinator)
    body = client.get(reverse("admin:surveys_surveytemplate_changelist")).content.decode()
    assert "城东联盟模板" in body and world.template.name in body
    assert "城西联盟模板" not in body
    url = reverse("admin:surveys_surveytemplate_change", args=[theirs.pk])
    assert client.get(url).status_code == 404
    assert SurveyTemplate.objects.filter(pk=theirs.pk, name="城西联盟模板").exists()
