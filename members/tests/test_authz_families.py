"""Authorization walk over every members view that shows personal data.

It proves that a parent never sees another family, a unit coordinator never
sees another unit's families, an anonymous visitor is sent to sign in, and a
guessed id is a 404. A new members view must be added to VIEWS below: the first
test fails until it is.
"""

import pytest
from django.urls import get_resolver, reverse

from members.models import FamilyInvitation, MemberUnit, RoleAssignment
from members.tests.factories import (
    ChildFactory,
    GuardianFactory,
    MembershipFactory,
    MemberUnitFactory,
    RoleAssignmentFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

# name → (method, needs an object id of the family, public)
VIEWS = {
    "family": ("get", None, False),
    "guardian_edit": ("get", None, False),
    "child_add": ("get", None, False),
    "child_edit": ("get", "child", False),
    "child_delete": ("get", "child", False),
    "invite": ("get", None, False),
    "invitation_withdraw": ("post", "invitation", False),
    "invitation_accept": ("get", "token", False),
    "my_data": ("get", None, False),
    "my_data_json": ("get", None, False),
    "my_data_html": ("get", None, False),
    "account_delete": ("get", None, False),
    "api_tokens": ("get", None, False),
    "api_token_revoke": ("post", "api_token", False),
    "unit_list": ("get", None, False),
    "unit_families": ("get", "unit", False),
    "privacy": ("get", None, True),
    "children_rules": ("get", None, True),
}


@pytest.fixture
def world():
    """Two families at two schools, each school with its own coordinator."""
    school_a = MemberUnitFactory(kind=MemberUnit.Kind.PRIMARY_SCHOOL, name="甲小学")
    school_b = MemberUnitFactory(kind=MemberUnit.Kind.PRIMARY_SCHOOL, name="乙小学")
    mother_a = GuardianFactory(user__phone="13700000001", phone="13700000001")
    mother_b = GuardianFactory(user__phone="13700000002", phone="13700000002")
    child_a = ChildFactory(family=mother_a.family, nickname="甲家孩子", school=school_a)
    child_b = ChildFactory(family=mother_b.family, nickname="乙家孩子", school=school_b)
    invitation_a = FamilyInvitation.objects.create(
        family=mother_a.family,
        invited_by=mother_a.user,
        phone="13600000001",
        relation="father",
        expires_at="2099-01-01T00:00Z",
    )
    coordinator_a = RoleAssignmentFactory(
        role=RoleAssignment.Role.UNIT_COORDINATOR, unit=school_a
    ).user
    from members.services import api_token_create

    api_token_a, _raw = api_token_create(user=mother_a.user, name="甲家孩子的平板", scopes=["read"])
    return {
        "api_token_a": api_token_a,
        "school_a": school_a,
        "school_b": school_b,
        "mother_a": mother_a,
        "mother_b": mother_b,
        "child_a": child_a,
        "child_b": child_b,
        "invitation_a": invitation_a,
        "coordinator_a": coordinator_a,
    }


def _url(name: str, world, family: str = "a") -> str:
    needs = VIEWS[name][1]
    kwargs = {}
    if needs == "child":
        kwargs = {"pk": world[f"child_{family}"].pk}
    elif needs == "invitation":
        kwargs = {"pk": world["invitation_a"].pk}
    elif needs == "token":
        kwargs = {"token": world["invitation_a"].token}
    elif needs == "unit":
        kwargs = {"unit_id": world[f"school_{family}"].pk}
    elif needs == "api_token":
        kwargs = {"pk": world["api_token_a"].pk}
    return reverse(f"members:{name}", kwargs=kwargs)


def _call(client, name, url):
    return getattr(client, VIEWS[name][0])(url)


def test_every_members_view_is_walked():
    names = {p.name for p in get_resolver("members.urls").url_patterns}
    assert names == set(VIEWS), "add new members views to VIEWS in this test"


def test_anonymous_visitors_are_sent_to_sign_in(client, world):
    for name, (_method, _needs, public) in VIEWS.items():
        url = _url(name, world)
        response = _call(client, name, url)
        if public:
            assert response.status_code == 200, name
            continue
        assert response.status_code == 302, name
        assert response["Location"].startswith("/accounts/login/?next="), name
        assert "甲家孩子" not in response.content.decode()


def test_a_parent_never_sees_another_family(client, world):
    # given mother B signed in
    client.force_login(world["mother_b"].user)
    for name in VIEWS:
        # when she opens every view, with family A's ids where a view takes an id
        response = _call(client, name, _url(name, world, family="a"))
        body = response.content.decode()
        # then family A's child and numbers never appear
        assert "甲家孩子" not in body, name
        assert "13700000001" not in body and "137****0001" not in body, name
        needs = VIEWS[name][1]
        if needs in ("child", "invitation", "api_token"):
            assert response.status_code == 404, name  # guessed ids are 404
        if name.startswith("unit_"):
            assert response.status_code == 403, name  # parents are not coordinators
    # and family A's data is untouched
    world["child_a"].refresh_from_db()
    world["invitation_a"].refresh_from_db()
    assert world["invitation_a"].is_open


def test_a_parent_sees_their_own_family(client, world):
    client.force_login(world["mother_a"].user)
    assert "甲家孩子" in client.get(_url("family", world)).content.decode()
    assert client.get(_url("child_edit", world)).status_code == 200
    assert "甲家孩子" in client.get(_url("my_data_json", world)).content.decode()


def test_a_unit_coordinator_sees_only_their_units_families(client, world):
    client.force_login(world["coordinator_a"])

    own = client.get(_url("unit_families", world, family="a"))
    assert own.status_code == 200
    body = own.content.decode()
    assert "甲家孩子" in body
    assert "137****0001" in body and "13700000001" not in body  # masked
    assert "乙家孩子" not in body

    index = client.get(reverse("members:unit_list")).content.decode()
    assert "甲小学" in index and "乙小学" not in index

    other = client.get(_url("unit_families", world, family="b"))
    assert other.status_code == 404
    assert "乙家孩子" not in other.content.decode()
    missing = reverse("members:unit_families", kwargs={"unit_id": 999999})
    assert client.get(missing).status_code == 404

    # and the parent views show a coordinator nothing of any family
    for name in ("family", "my_data_json", "child_edit"):
        body = client.get(_url(name, world)).content.decode()
        assert "甲家孩子" not in body and "乙家孩子" not in body


def test_an_alliance_coordinator_sees_families_at_member_schools(client, world):
    membership = MembershipFactory(unit=world["school_b"])
    coordinator = RoleAssignmentFactory(
        role=RoleAssignment.Role.ALLIANCE_COORDINATOR, alliance=membership.alliance, unit=None
    ).user
    client.force_login(coordinator)
    assert "乙家孩子" in client.get(_url("unit_families", world, family="b")).content.decode()
    assert client.get(_url("unit_families", world, family="a")).status_code == 404


def test_unit_family_list_costs_a_fixed_number_of_queries(
    client, world, django_assert_max_num_queries
):
    for _n in range(30):
        guardian = GuardianFactory()
        GuardianFactory(family=guardian.family)
        ChildFactory(family=guardian.family, school=world["school_a"])
    client.force_login(world["coordinator_a"])
    with django_assert_max_num_queries(12):
        response = client.get(_url("unit_families", world, family="a"))
    assert response.content.decode().count("<tr>") == 32  # header + 31 families


def test_an_instructor_is_not_a_coordinator(client, world):
    instructor = RoleAssignmentFactory(
        role=RoleAssignment.Role.INSTRUCTOR, unit=world["school_a"]
    ).user
    client.force_login(instructor)
    assert client.get(_url("unit_families", world, family="a")).status_code == 403


def test_a_stranger_with_no_role_gets_403_not_data(client, world):
    client.force_login(UserFactory())
    assert client.get(_url("unit_families", world, family="a")).status_code == 403
