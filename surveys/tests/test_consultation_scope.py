"""A consultation survey (scope consultation, a guidance slot's offering): the
database accepts it, one per template and offering, and survey_create takes it
for the slot's unit coordinators."""

from __future__ import annotations

import pytest

from bookings.tests.factories import OfferingFactory
from members.models import RoleAssignment
from members.tests.factories import RoleAssignmentFactory
from parent_school.models import Term
from parent_school.tests.factories import TermFactory
from surveys import services
from surveys.errors import SurveyError
from surveys.models import Survey

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def current_term():
    Term.objects.filter(is_current=True).update(is_current=False)
    return TermFactory(is_current=True)


QUESTIONS = [{"kind": "rating", "label": "总体满意度", "measure": "satisfaction"}]


def test_the_system_path_makes_one_published_survey_per_offering():
    offering = OfferingFactory(kind="consultation")
    first = services.consultation_survey_ensure(
        offering_id=offering.pk, template_name="指导咨询满意度", description="", questions=QUESTIONS
    )
    again = services.consultation_survey_ensure(
        offering_id=offering.pk, template_name="指导咨询满意度", description="", questions=QUESTIONS
    )
    assert first.pk == again.pk
    assert (first.scope, first.offering_id, first.is_published) == (
        "consultation",
        offering.pk,
        True,
    )


def test_survey_create_takes_a_consultation_offering_and_refuses_another_kind(django_user_model):
    offering = OfferingFactory(kind="consultation")
    coordinator = RoleAssignmentFactory(
        role=RoleAssignment.Role.UNIT_COORDINATOR, unit=offering.unit
    ).user
    template = services.consultation_survey_ensure(
        offering_id=offering.pk, template_name="指导咨询满意度", description="", questions=QUESTIONS
    ).template
    other = OfferingFactory(kind="consultation", unit=offering.unit)
    survey = services.survey_create(
        actor=coordinator, template_id=template.pk, scope="consultation", target_id=other.pk
    )
    assert survey.scope == Survey.Scope.CONSULTATION and survey.offering_id == other.pk
    event_offering = OfferingFactory(kind="event", unit=offering.unit)
    with pytest.raises(SurveyError):
        services.survey_create(
            actor=coordinator,
            template_id=template.pk,
            scope="consultation",
            target_id=event_offering.pk,
        )
