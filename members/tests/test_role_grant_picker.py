"""Role grants: the user picker tells namesakes apart (display name, masked phone or
e-mail, the units they serve), shows nothing whole, names only units the asker
sees, and answers a page of people with the same few queries."""

from __future__ import annotations

import pytest
from django.urls import reverse

from members import registry
from members.models import RoleAssignment
from members.tests.factories import (
    AllianceFactory,
    GuardianFactory,
    MembershipFactory,
    MemberUnitFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

Role = RoleAssignment.Role
PICKER = {"app_label": "members", "model_name": "roleassignment", "field_name": "user"}


@pytest.fixture
def district_admin(client):
    user = UserFactory(username="district", display_name="区教育局")
    registry.role_assign(actor=None, user=user, role=Role.CITY_ADMIN)
    client.force_login(user)
    return user


def _answers(client, term: str) -> list[str]:
    response = client.get(reverse("admin:autocomplete"), {**PICKER, "term": term})
    assert response.status_code == 200
    return [row["text"] for row in response.json()["results"]]


def test_two_teachers_of_the_same_name_are_told_apart(client, district_admin):
    # given two 王老师: one an instructor at 溪口中学 with a phone, one with only an e-mail
    xikou = MemberUnitFactory(name="溪口中学")
    with_phone = UserFactory(display_name="王老师", phone="13911112222")
    registry.role_assign(actor=None, user=with_phone, role=Role.INSTRUCTOR, unit=xikou)
    UserFactory(display_name="王老师", phone=None, email="wangteacher@example.cn")

    # when the district administrator searches the role grant's user picker
    texts = _answers(client, "王老师")

    # then each answer names the person, a masked contact and the unit they serve
    assert sorted(texts) == ["王老师 · 139****2222 · 溪口中学", "王老师 · w***@example.cn"]
    joined = " ".join(texts)
    assert "13911112222" not in joined and "wangteacher" not in joined


def test_the_chosen_person_reads_the_same_when_the_form_comes_back(client, district_admin):
    # given a person picked for a unit role without the unit (a form error)
    person = UserFactory(display_name="李老师", phone="13933334444")

    # when the form is sent back
    response = client.post(
        reverse("admin:members_roleassignment_add"),
        {"user": person.pk, "role": Role.UNIT_COORDINATOR},
    )

    # then the selected option is labelled like the picker's answers
    page = response.content.decode()
    assert response.status_code == 200
    assert f'<option value="{person.pk}" selected>李老师 · 139****4444</option>' in page


def test_the_role_list_shows_names_with_masked_phones(client, district_admin):
    person = UserFactory(username="u6eebf07aa0fb", display_name="李老师", phone="13933334444")
    registry.role_assign(
        actor=None, user=person, role=Role.INSTRUCTOR, unit=MemberUnitFactory(name="溪口中学")
    )

    page = client.get(reverse("admin:members_roleassignment_changelist")).content.decode()

    assert "李老师 · 139****4444" in page and "13933334444" not in page


def test_a_coordinators_picker_names_only_units_they_see(client):
    # given an alliance coordinator, and an instructor who serves a unit of the
    # alliance and one elsewhere
    ours = MembershipFactory(unit=MemberUnitFactory(name="溪口中学"))
    coordinator = UserFactory(display_name="联盟协调员")
    registry.role_assign(
        actor=None, user=coordinator, role=Role.ALLIANCE_COORDINATOR, alliance=ours.alliance
    )
    teacher = UserFactory(display_name="赵老师", phone="13955556666")
    registry.role_assign(actor=None, user=teacher, role=Role.INSTRUCTOR, unit=ours.unit)
    elsewhere = MemberUnitFactory(name="别处小学")
    registry.role_assign(actor=None, user=teacher, role=Role.INSTRUCTOR, unit=elsewhere)
    stranger = UserFactory(display_name="赵老师", phone="13977778888")
    registry.role_assign(actor=None, user=stranger, role=Role.INSTRUCTOR, unit=elsewhere)
    client.force_login(coordinator)

    # when the coordinator's picker is asked for 赵老师
    texts = _answers(client, "赵老师")

    # then only the teacher they may pick is offered, naming only the unit they see
    assert texts == ["赵老师 · 139****6666 · 溪口中学"]


def test_a_parent_is_named_without_a_unit(client, district_admin):
    GuardianFactory(user__display_name="陈妈妈", user__phone="13988889999")

    assert _answers(client, "陈妈妈") == ["陈妈妈 · 139****9999"]


def test_a_page_of_answers_costs_the_same_queries_for_3_or_20_people(
    client, district_admin, django_assert_max_num_queries
):
    alliance = AllianceFactory(name="溪口协同育人联盟")

    def people(count, start):
        for n in range(start, start + count):
            user = UserFactory(display_name=f"同名老师{n:02d}")
            registry.role_assign(
                actor=None, user=user, role=Role.INSTRUCTOR, unit=MemberUnitFactory()
            )
            registry.role_assign(
                actor=None, user=user, role=Role.ALLIANCE_COORDINATOR, alliance=alliance
            )

    people(3, 0)
    with django_assert_max_num_queries(20) as few:
        assert len(_answers(client, "同名老师")) == 3
    people(17, 3)
    with django_assert_max_num_queries(len(few.captured_queries)):
        texts = _answers(client, "同名老师")
    assert len(texts) == 20
    assert all(text.endswith("溪口协同育人联盟") or "、" in text for text in texts)
