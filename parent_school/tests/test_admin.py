"""The instructor admin's user picker (raw id) offers and accepts only accounts the
coordinator may link: the case that showed the whole class (issue 10)."""

import pytest
from django.urls import reverse

from members import registry
from members.models import RoleAssignment
from members.tests.factories import ChildFactory, GuardianFactory, MemberUnitFactory, UserFactory
from parent_school.models import Instructor
from parent_school.tests.factories import InstructorFactory

pytestmark = pytest.mark.django_db

Role = RoleAssignment.Role
SCOPE_ERROR = "所选的用户不存在，或不在您的管理范围内。"


@pytest.fixture
def units():
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    mine, other = MemberUnitFactory(name="本校"), MemberUnitFactory(name="外校")
    coordinator = UserFactory(username="coord", display_name="本校协调员")
    registry.role_assign(actor=root, user=coordinator, role=Role.UNIT_COORDINATOR, unit=mine)
    other_coordinator = UserFactory(username="other-coord", display_name="外校协调员王某")
    registry.role_assign(actor=root, user=other_coordinator, role=Role.UNIT_COORDINATOR, unit=other)
    outsider_parent = GuardianFactory(user=UserFactory(display_name="外校家长李某"))
    ChildFactory(family=outsider_parent.family, school=other)
    own_parent = GuardianFactory(user=UserFactory(display_name="本校家长张某"))
    ChildFactory(family=own_parent.family, school=mine)
    own_teacher = UserFactory(display_name="本校讲师刘某")
    registry.role_assign(actor=root, user=own_teacher, role=Role.INSTRUCTOR, unit=mine)
    return {
        "mine": mine,
        "coordinator": coordinator,
        "other_coordinator": other_coordinator,
        "outsider_parent": outsider_parent.user,
        "own_parent": own_parent.user,
        "own_teacher": own_teacher,
    }


@pytest.mark.parametrize("foreign", ["other_coordinator", "outsider_parent"])
def test_the_add_page_does_not_name_a_foreign_account_given_by_id(client, units, foreign):
    # given a unit coordinator in the admin
    client.force_login(units["coordinator"])
    user = units[foreign]
    # when they open the add page with another unit's account in the query string
    response = client.get(reverse("admin:parent_school_instructor_add"), {"user": user.pk})
    # then the page renders, but neither the name nor a link to the account
    assert response.status_code == 200
    html = response.content.decode()
    assert str(user) not in html
    assert reverse("admin:members_user_change", args=[user.pk]) not in html


def test_the_add_page_names_an_account_the_coordinator_may_link(client, units):
    client.force_login(units["coordinator"])
    response = client.get(
        reverse("admin:parent_school_instructor_add"), {"user": units["own_teacher"].pk}
    )
    assert "本校讲师刘某" in response.content.decode()


@pytest.mark.parametrize("foreign", ["other_coordinator", "outsider_parent"])
def test_saving_an_instructor_linked_to_a_foreign_account_is_refused(client, units, foreign):
    # given a unit coordinator
    client.force_login(units["coordinator"])
    # when they post their unit's instructor linked to another unit's account
    response = client.post(
        reverse("admin:parent_school_instructor_add"),
        {
            "name": "新讲师",
            "tier": Instructor.Tier.LECTURER,
            "unit": units["mine"].pk,
            "user": units[foreign].pk,
            "bio": "",
        },
    )
    # then the form says why in Chinese, and nothing is saved
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["user"] == [SCOPE_ERROR]
    assert not Instructor.objects.exists()


@pytest.mark.parametrize("own", ["own_teacher", "own_parent", "coordinator"])
def test_an_instructor_is_linked_to_an_account_in_scope(client, units, own):
    client.force_login(units["coordinator"])
    response = client.post(
        reverse("admin:parent_school_instructor_add"),
        {
            "name": "新讲师",
            "tier": Instructor.Tier.LECTURER,
            "unit": units["mine"].pk,
            "user": units[own].pk,
            "bio": "",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Instructor.objects.get().user == units[own]


def test_the_lookup_popup_and_autocomplete_list_only_linkable_accounts(client, units):
    # given a unit coordinator
    client.force_login(units["coordinator"])
    # when they open the user lookup popup from the instructor's raw-id field
    popup = client.get(
        reverse("admin:members_user_changelist"),
        {"_popup": "1", "_to_field": "id", "_picker": "parent_school.instructor.user"},
    )
    # and ask the autocomplete for users through the same field
    found = client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "parent_school",
            "model_name": "instructor",
            "field_name": "user",
            "term": "",
        },
    )
    # then both list their own unit's people and no one else's
    listed = {str(u) for u in popup.context["cl"].result_list}
    assert listed == {"本校协调员", "本校家长张某", "本校讲师刘某"}
    # (the autocomplete names each person with a masked contact and their unit)
    texts = [r["text"] for r in found.json()["results"]]
    assert {text.split(" · ")[0] for text in texts} == listed
    assert all("****" in text for text in texts)


def test_a_current_link_outside_scope_is_kept_not_offered(client, units):
    # given an instructor a district administrator linked to another unit's account
    instructor = InstructorFactory(unit=units["mine"], user=units["other_coordinator"])
    client.force_login(units["coordinator"])
    url = reverse("admin:parent_school_instructor_change", args=[instructor.pk])
    # when the coordinator edits the instructor's name and keeps the link
    response = client.post(
        url,
        {
            "name": "改名的讲师",
            "tier": instructor.tier,
            "specialties": instructor.specialties,
            "unit": units["mine"].pk,
            "user": units["other_coordinator"].pk,
            "bio": "",
        },
    )
    # then the row's own value is accepted (it is the row's data, not a new pick)
    assert response.status_code == 302, response.context["adminform"].form.errors
    instructor.refresh_from_db()
    assert instructor.name == "改名的讲师"
    assert instructor.user == units["other_coordinator"]
    # and another instructor cannot be given that account
    response = client.post(
        reverse("admin:parent_school_instructor_add"),
        {
            "name": "又一位讲师",
            "tier": Instructor.Tier.LECTURER,
            "unit": units["mine"].pk,
            "user": units["outsider_parent"].pk,
            "bio": "",
        },
    )
    assert response.context["adminform"].form.errors["user"] == [SCOPE_ERROR]
