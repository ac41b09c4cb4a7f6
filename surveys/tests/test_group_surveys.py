"""Group questionnaires (issue 16): a survey put to a 学伴/家伴 group is answered by the
group's active member families, once each; the group page lists it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from groups.models import Group, GroupMembership
from groups.panels import panels_for
from groups.tests.factories import GroupFactory, GroupMembershipFactory
from members.models import RoleAssignment
from members.tests.factories import RoleAssignmentFactory
from surveys import selectors, services
from surveys.errors import SurveyError
from surveys.models import Invitation, Participation, Survey
from surveys.tests.world import ANSWERS, family_with_parent
from tests.races import run_together

Status = GroupMembership.Status


@pytest.fixture
def group_world(world):
    """``world`` plus a 家伴 group of its parent school facilitated by an instructor
    of the school, with ``attended`` and ``absent`` as members; ``absent`` then
    left; ``newcomer`` (no bookings at all) is a member too."""
    instructor = RoleAssignmentFactory(unit=world.school, role=RoleAssignment.Role.INSTRUCTOR).user
    group = GroupFactory(
        name="周末亲子阅读家伴组",
        parent_school=world.parent_school,
        facilitator=instructor,
        kind=Group.Kind.FAMILY,
    )
    newcomer, newcomer_parent = family_with_parent(world.school, "陈静")
    GroupMembershipFactory(group=group, family=world.attended)
    GroupMembershipFactory(group=group, family=newcomer)
    GroupMembershipFactory(group=group, family=world.absent, status=Status.LEFT)
    world.group = group
    world.instructor = instructor
    world.newcomer = newcomer
    world.newcomer_parent = newcomer_parent
    return world


def _group_survey(w, *, actor=None, publish=True, **fields) -> Survey:
    survey = services.survey_create(
        actor=actor or w.instructor,
        template_id=w.template.pk,
        scope=Survey.Scope.GROUP,
        group_id=w.group.pk,
        opens_at=fields.pop("opens_at", w.now - dt.timedelta(hours=1)),
        closes_at=fields.pop("closes_at", w.now + dt.timedelta(days=7)),
        **fields,
    )
    if publish:
        services.survey_publish(actor=actor or w.instructor, survey_id=survey.pk)
    return survey


def test_the_facilitator_puts_a_survey_to_the_group_for_the_current_term(group_world):
    w = group_world
    survey = _group_survey(w)
    assert (survey.scope, survey.group_id) == (Survey.Scope.GROUP, w.group.pk)
    assert survey.unit_id == w.parent_school.host_unit_id
    assert survey.term_id == w.term.pk
    assert survey.title == "周末亲子阅读家伴组 · 课后满意度调查"
    # a second of the same template for the group in the term is refused
    with pytest.raises(SurveyError) as error:
        _group_survey(w, publish=False)
    assert error.value.code == "survey_duplicate"


def test_the_schools_coordinator_may_and_others_may_not(group_world):
    w = group_world
    assert _group_survey(w, actor=w.unit_coordinator).group_id == w.group.pk
    for outsider in (w.other_coordinator, w.attended_parent):
        with pytest.raises(SurveyError) as error:
            services.survey_create(
                actor=outsider,
                template_id=w.template.pk,
                scope=Survey.Scope.GROUP,
                group_id=w.group.pk,
                opens_at=w.now,
                closes_at=w.now + dt.timedelta(days=3),
            )
        assert error.value.code in ("not_allowed", "template_missing")


def test_a_dissolved_or_unknown_group_is_no_target(group_world):
    w = group_world
    Group.objects.filter(pk=w.group.pk).update(status=Group.Status.DISSOLVED)
    with pytest.raises(SurveyError) as error:
        _group_survey(w, publish=False)
    assert (error.value.code, error.value.field) == ("target_missing", "target")
    assert "小组" in error.value.message


def test_a_group_survey_needs_its_window(group_world):
    w = group_world
    with pytest.raises(SurveyError) as error:
        services.survey_create(
            actor=w.instructor,
            template_id=w.template.pk,
            scope=Survey.Scope.GROUP,
            group_id=w.group.pk,
        )
    assert error.value.code == "window_required"


def test_a_member_answers_once_for_the_family(group_world):
    w = group_world
    survey = _group_survey(w)
    services.response_submit(user=w.newcomer_parent, survey_id=survey.pk, answers=ANSWERS)
    services.response_submit(user=w.attended_parent, survey_id=survey.pk, answers=ANSWERS)
    assert Participation.objects.filter(survey=survey).count() == 2
    # the other guardian of a family that answered is told so
    with pytest.raises(SurveyError) as error:
        services.response_submit(user=w.second_parent, survey_id=survey.pk, answers=ANSWERS)
    assert error.value.code == "already_answered"


@pytest.mark.django_db(transaction=True)
def test_two_guardians_of_a_member_family_at_once_leave_one_answer(tx_world):
    w = tx_world
    instructor = RoleAssignmentFactory(unit=w.school, role=RoleAssignment.Role.INSTRUCTOR).user
    group = GroupFactory(parent_school=w.parent_school, facilitator=instructor)
    GroupMembershipFactory(group=group, family=w.attended)
    survey = services.survey_create(
        actor=instructor,
        template_id=w.template.pk,
        scope=Survey.Scope.GROUP,
        group_id=group.pk,
        opens_at=w.now - dt.timedelta(hours=1),
        closes_at=w.now + dt.timedelta(days=7),
    )
    services.survey_publish(actor=instructor, survey_id=survey.pk)

    def answer(user):
        return lambda: services.response_submit(user=user, survey_id=survey.pk, answers=ANSWERS)

    outcome = run_together(
        [answer(w.attended_parent), answer(w.second_parent)],
        meet_before_write=["surveys_participation"],
    )
    assert Participation.objects.filter(survey=survey).count() == 1
    assert [e.code for e in outcome.errors] == ["already_answered"]


def test_a_non_member_and_a_family_that_left_are_refused(group_world):
    w = group_world
    survey = _group_survey(w)
    for parent in (w.attended2_parent, w.stranger_parent, w.absent_parent):
        with pytest.raises(SurveyError) as error:
            services.response_submit(user=parent, survey_id=survey.pk, answers=ANSWERS)
        assert error.value.code == "not_eligible"
    # a member who leaves before answering can no longer answer
    GroupMembership.objects.filter(group=w.group, family=w.newcomer).update(status=Status.LEFT)
    with pytest.raises(SurveyError) as error:
        services.response_submit(user=w.newcomer_parent, survey_id=survey.pk, answers=ANSWERS)
    assert error.value.code == "not_eligible"
    assert not Participation.objects.filter(survey=survey).exists()


def test_a_dissolved_groups_members_no_longer_answer(group_world):
    w = group_world
    survey = _group_survey(w)
    Group.objects.filter(pk=w.group.pk).update(status=Group.Status.DISSOLVED)
    GroupMembership.objects.filter(group=w.group, status=Status.ACTIVE).update(status=Status.ENDED)
    with pytest.raises(SurveyError) as error:
        services.response_submit(user=w.attended_parent, survey_id=survey.pk, answers=ANSWERS)
    assert error.value.code == "not_eligible"


def test_members_are_invited_when_it_opens_and_as_they_join(group_world):
    w = group_world
    survey = _group_survey(w)
    assert services.invitations_send(survey_id=survey.pk, now=w.now) == 2
    assert set(Invitation.objects.filter(survey=survey).values_list("family_id", flat=True)) == {
        w.attended.pk,
        w.newcomer.pk,
    }
    # a family joins: the next sweep invites it, and only it
    GroupMembershipFactory(group=w.group, family=w.attended2)
    assert services.invitations_send(survey_id=survey.pk, now=w.now) == 1
    assert services.invitations_send(survey_id=survey.pk, now=w.now) == 0
    assert survey.pk in services.surveys_due(now=w.now)["invitations"]


def test_my_surveys_lists_a_group_survey_even_without_bookings(
    group_world, django_assert_max_num_queries
):
    w = group_world
    survey = _group_survey(w)
    with django_assert_max_num_queries(3):
        assert [s.pk for s in selectors.surveys_open_for_family(family=w.newcomer)] == [survey.pk]
    assert survey.pk in {s.pk for s in selectors.surveys_open_for_family(family=w.attended)}
    assert survey.pk not in {s.pk for s in selectors.surveys_open_for_family(family=w.attended2)}
    assert survey.pk not in {s.pk for s in selectors.surveys_open_for_family(family=w.absent)}


def _panel(w, *, family, user):
    return dict(panels_for(group=w.group, family=family, user=user)).get("surveys", [])


def test_the_group_page_panel_lists_it_for_members_with_their_answer_link(group_world):
    w = group_world
    survey = _group_survey(w, title="小组活动反馈")
    (item,) = _panel(w, family=w.newcomer, user=w.newcomer_parent)
    assert item.title == "小组活动反馈"
    assert item.url == reverse("surveys:start", args=[survey.pk])
    assert item.note.startswith("未填写")
    services.response_submit(user=w.newcomer_parent, survey_id=survey.pk, answers=ANSWERS)
    (item,) = _panel(w, family=w.newcomer, user=w.newcomer_parent)
    assert item.url == reverse("surveys:done", args=[survey.pk])
    assert item.note == "已填写，谢谢您"
    # not a member (any more): nothing
    assert _panel(w, family=w.absent, user=w.absent_parent) == []
    assert _panel(w, family=w.attended2, user=w.attended2_parent) == []


def test_the_panel_shows_managers_every_survey_with_its_state_and_count(group_world):
    from surveys.tests.factories import with_questions

    w = group_world
    survey = _group_survey(w, title="小组活动反馈")
    draft = services.survey_create(
        actor=w.instructor,
        template_id=with_questions().template.pk,
        scope=Survey.Scope.GROUP,
        group_id=w.group.pk,
        title="下学期活动意向",
        opens_at=w.now + dt.timedelta(days=1),
        closes_at=w.now + dt.timedelta(days=8),
    )
    services.response_submit(user=w.attended_parent, survey_id=survey.pk, answers=ANSWERS)
    items = {item.title: item for item in _panel(w, family=None, user=w.instructor)}
    assert items["小组活动反馈"].note == "进行中 · 1 户已填写"
    assert items["下学期活动意向"].note == "未发布 · 0 户已填写"
    # an instructor does not reach the coordinator pages: no link to follow
    assert items["小组活动反馈"].url == ""
    coordinator_items = _panel(w, family=None, user=w.unit_coordinator)
    assert {i.url for i in coordinator_items} == {
        reverse("surveys:manage_survey", args=[survey.pk]),
        reverse("surveys:manage_survey", args=[draft.pk]),
    }
    assert _panel(w, family=None, user=w.other_coordinator) == []


def test_the_manage_picker_offers_the_groups_the_coordinator_manages(group_world, client):
    w = group_world
    other = GroupFactory(name="城西的小组")  # another parent school's
    client.force_login(w.unit_coordinator)
    page = client.get(reverse("surveys:manage_survey_new"))
    assert page.status_code == 200
    html = page.content.decode()
    option = f"group:{w.group.pk}"
    assert option in html and "周末亲子阅读家伴组" in html
    assert "城西的小组" not in html
    opens = timezone.localtime(w.now + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    closes = timezone.localtime(w.now + dt.timedelta(days=5)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        reverse("surveys:manage_survey_new"),
        {
            "template": w.template.pk,
            "target": option,
            "title": "",
            "opens_at": opens,
            "closes_at": closes,
            "invite_delay_minutes": 30,
            "answer_days": 7,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    survey = Survey.objects.get(scope=Survey.Scope.GROUP)
    assert survey.group_id == w.group.pk
    # someone else's group posted by hand is refused, nothing written
    response = client.post(
        reverse("surveys:manage_survey_new"),
        {
            "template": w.template.pk,
            "target": f"group:{other.pk}",
            "opens_at": opens,
            "closes_at": closes,
            "invite_delay_minutes": 30,
            "answer_days": 7,
        },
    )
    assert response.status_code == 200
    assert Survey.objects.filter(group=other).count() == 0


def test_my_surveys_page_names_the_group(group_world, client):
    w = group_world
    _group_survey(w, title="小组活动反馈")
    client.force_login(w.newcomer_parent)
    page = client.get(reverse("surveys:mine"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "小组活动反馈" in html
    assert "周末亲子阅读家伴组" in html


def test_the_group_page_shows_the_panel_to_a_member(group_world, client):
    w = group_world
    survey = _group_survey(w, title="小组活动反馈")
    client.force_login(w.newcomer_parent)
    page = client.get(reverse("groups:detail", args=[w.group.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "小组问卷" in html and "小组活动反馈" in html
    assert reverse("surveys:start", args=[survey.pk]) in html
