"""Applications and decisions (volunteers.services): who may apply and decide,
what approval makes (instructor record, role at the centre), what the applicant
is told, and refusals naming the field."""

from __future__ import annotations

import pytest

from events.models import Notice
from members.models import AuditLog, RoleAssignment
from members.tests.factories import UserFactory
from parent_school.models import Instructor
from parent_school.tests.factories import InstructorFactory
from volunteers import services
from volunteers.errors import VolunteerError
from volunteers.models import VolunteerApplication

pytestmark = pytest.mark.django_db

FIELDS = {
    "name": "何老师",
    "background": "师范大学心理学副教授，从事家庭教育研究十年。",
    "expertise": "青春期亲子沟通",
    "areas": ["mental_health", "family_education"],
    "availability": "周六上午",
}


def _apply(world, user=None, **overrides):
    user = user or UserFactory(display_name="何老师")
    return services.application_submit(
        user=user, centre_id=world.unit.pk, **{**FIELDS, **overrides}
    )


def test_anyone_signed_in_applies_and_the_centre_coordinators_are_told(station_world):
    w = station_world
    application = _apply(w)
    assert application.status == VolunteerApplication.Status.SUBMITTED
    assert application.areas == ["mental_health", "family_education"]
    notice = Notice.objects.get(key=f"volunteers.application.new:{application.pk}")
    assert list(notice.deliveries.values_list("user_id", flat=True).distinct()) == [
        w.coordinator.pk
    ]
    # the background stays on the decision page, never in a message
    assert FIELDS["background"] not in notice.lead


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"name": " "}, "name_required", "name"),
        ({"background": "x" * 1001}, "background_too_long", "background"),
        ({"expertise": ""}, "expertise_required", "expertise"),
        ({"areas": []}, "areas_required", "areas"),
        ({"areas": ["astrology"]}, "areas_invalid", "areas"),
        ({"availability": ""}, "availability_required", "availability"),
    ],
)
def test_bad_fields_are_refused_naming_the_field(station_world, overrides, code, field):
    with pytest.raises(VolunteerError) as caught:
        _apply(station_world, **overrides)
    assert (caught.value.code, caught.value.field) == (code, field)
    assert not VolunteerApplication.objects.exists()


def test_a_unit_that_is_not_a_centre_is_refused(station_world):
    with pytest.raises(VolunteerError) as caught:
        services.application_submit(user=UserFactory(), centre_id=station_world.school.pk, **FIELDS)
    assert caught.value.field == "centre"


def test_a_second_open_application_to_the_same_centre_is_refused(station_world):
    user = UserFactory()
    _apply(station_world, user=user)
    with pytest.raises(VolunteerError) as caught:
        _apply(station_world, user=user)
    assert caught.value.code == "already_applied"
    assert VolunteerApplication.objects.count() == 1


def test_withdraw_only_her_own_open_application(station_world):
    application = _apply(station_world)
    with pytest.raises(VolunteerError) as caught:
        services.application_withdraw(user=UserFactory(), application_id=application.pk)
    assert caught.value.code == "application_missing"
    services.application_withdraw(user=application.user, application_id=application.pk)
    application.refresh_from_db()
    assert application.status == VolunteerApplication.Status.WITHDRAWN
    # she may apply again afterwards
    _apply(station_world, user=application.user)


def test_approval_makes_her_an_instructor_with_the_tier_and_the_role_at_the_centre(
    station_world,
):
    w = station_world
    application = _apply(w)
    services.application_decide(
        user=w.coordinator,
        application_id=application.pk,
        approve=True,
        tier="lecturer",
        serves_as="instructor",
    )
    application.refresh_from_db()
    instructor = Instructor.objects.get(user=application.user)
    assert application.status == VolunteerApplication.Status.APPROVED
    assert application.instructor == instructor
    assert (instructor.tier, instructor.is_volunteer, instructor.unit) == (
        "lecturer",
        True,
        w.unit,
    )
    assert RoleAssignment.objects.filter(
        user=application.user, role="instructor", unit=w.unit
    ).exists()
    notice = Notice.objects.get(key=f"volunteers.application:{application.pk}:approved")
    assert "讲师" in notice.lead
    assert notice.deliveries.filter(user=application.user).exists()
    assert AuditLog.objects.filter(
        action="volunteers.application.approve", target_id=str(application.pk)
    ).exists()


def test_an_existing_instructor_is_linked_not_duplicated(station_world):
    w = station_world
    user = UserFactory()
    existing = InstructorFactory(user=user, unit=w.school, tier="lecturer")
    application = _apply(w, user=user)
    services.application_decide(
        user=w.coordinator,
        application_id=application.pk,
        approve=True,
        tier="expert",
        serves_as="instructor",
    )
    existing.refresh_from_db()
    assert Instructor.objects.filter(user=user).count() == 1
    assert (existing.tier, existing.is_volunteer, existing.unit) == ("expert", True, w.school)


def test_another_centres_coordinator_cannot_see_or_decide(station_world):
    w = station_world
    application = _apply(w)
    with pytest.raises(VolunteerError) as caught:
        services.application_decide(
            user=w.other_coordinator,
            application_id=application.pk,
            approve=True,
            tier="lecturer",
            serves_as="instructor",
        )
    assert caught.value.code == "application_missing"
    application.refresh_from_db()
    assert application.status == VolunteerApplication.Status.SUBMITTED


def test_approval_needs_a_tier_and_a_way_of_serving(station_world):
    w = station_world
    application = _apply(w)
    with pytest.raises(VolunteerError) as caught:
        services.application_decide(
            user=w.coordinator, application_id=application.pk, approve=True, tier=""
        )
    assert caught.value.field == "tier"
    with pytest.raises(VolunteerError) as caught:
        services.application_decide(
            user=w.coordinator, application_id=application.pk, approve=True, tier="expert"
        )
    assert caught.value.field == "serves_as"


def test_a_decline_tells_her_with_the_note_and_a_second_decision_is_refused(station_world):
    w = station_world
    application = _apply(w)
    services.application_decide(
        user=w.coordinator,
        application_id=application.pk,
        approve=False,
        note="本期名额已满，欢迎下学期再申请。",
    )
    notice = Notice.objects.get(key=f"volunteers.application:{application.pk}:declined")
    assert "本期名额已满" in notice.lead
    assert not Instructor.objects.filter(user=application.user).exists()
    with pytest.raises(VolunteerError) as caught:
        services.application_decide(
            user=w.coordinator,
            application_id=application.pk,
            approve=True,
            tier="expert",
            serves_as="instructor",
        )
    assert caught.value.code == "already_decided"


def test_approved_as_mentor_she_joins_the_station_as_a_mentor(station_world):
    w = station_world
    application = _apply(w)
    services.application_decide(
        user=w.coordinator,
        application_id=application.pk,
        approve=True,
        tier="research",
        serves_as="mentor",
    )
    application.refresh_from_db()
    mentor = w.station.mentors.get(user=application.user)
    assert mentor.instructor == application.instructor
    assert mentor.areas == ["mental_health", "family_education"]
    assert application.station == w.station
