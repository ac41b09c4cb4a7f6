"""Guardian profile, children (after consent) and the suggested school stage."""

import datetime

import pytest
from django.test import override_settings

from members.errors import MembersError
from members.models import AuditLog, Child, ConsentRecord, Guardian, MemberUnit, SchoolStage
from members.selectors import stage_suggest
from members.services import child_add, consent_record
from members.tests.factories import (
    ChildFactory,
    GuardianFactory,
    MemberUnitFactory,
    RegionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
CHILDREN_INFO = ConsentRecord.Document.CHILDREN_INFO


@pytest.mark.parametrize(
    ("birth_year", "today", "stage"),
    [
        (2021, datetime.date(2025, 10, 1), SchoolStage.PRESCHOOL),  # 4
        (2019, datetime.date(2025, 8, 31), SchoolStage.PRESCHOOL),  # starts school in Sept
        (2019, datetime.date(2025, 9, 1), SchoolStage.PRIMARY),
        (2014, datetime.date(2026, 3, 1), SchoolStage.PRIMARY),  # 11 in school year 2025
        (2013, datetime.date(2025, 9, 1), SchoolStage.JUNIOR),
        (2010, datetime.date(2025, 9, 1), SchoolStage.SENIOR),
    ],
)
def test_stage_is_suggested_from_the_birth_year(birth_year, today, stage):
    assert stage_suggest(birth_year, today=today) == stage


def test_a_new_parent_sets_up_their_family(client):
    # given a signed-up parent without a family
    user = UserFactory(phone="13700001111", phone_verified=True)
    community = RegionFactory(name="上清寺社区", kind="community")
    client.force_login(user)
    assert "建立您的家庭" in client.get("/family/").content.decode()

    # when they say who they are
    response = client.post(
        "/family/",
        {
            "display_name": "小雨妈妈",
            "relation": "mother",
            "phone": "13700001111",
            "home_community": community.pk,
        },
    )

    # then they are the first guardian of a new family in that community
    assert response.status_code == 302
    guardian = Guardian.objects.get(user=user)
    assert guardian.relation == "mother"
    assert guardian.family.home_community == community
    assert AuditLog.objects.filter(action="members.family.create").count() == 1
    user.refresh_from_db()
    assert user.display_name == "小雨妈妈"
    assert "小雨妈妈 · 妈妈" in client.get("/family/").content.decode()


def test_adding_a_child_first_asks_for_consent_to_the_childrens_rules(client):
    # given a guardian who has not agreed to the children's-information rules
    guardian = GuardianFactory()
    school = MemberUnitFactory(kind=MemberUnit.Kind.PRIMARY_SCHOOL, name="中华路小学")
    client.force_login(guardian.user)

    # when they try to add a child, they are sent to the rules (a page of their own)
    response = client.get("/family/children/add/")
    assert response.status_code == 302
    assert response["Location"].startswith("/privacy/children/?next=")
    page = client.get(response["Location"])
    assert "儿童个人信息保护规则" in page.content.decode()

    # agreeing records who, when and which version, and returns to the form
    response = client.post("/privacy/children/", {"agree": "yes", "next": "/family/children/add/"})
    assert response["Location"] == "/family/children/add/"
    consent = ConsentRecord.objects.get(user=guardian.user, document=CHILDREN_INFO)
    assert consent.version == "2025.1"
    assert consent.family == guardian.family
    assert consent.agreed_at is not None
    assert AuditLog.objects.filter(action="members.consent.agree").exists()

    # then the child can be added; the stage left blank is suggested from the birth year
    response = client.post(
        "/family/children/add/",
        {"nickname": "小雨", "birth_year": "2017", "stage": "", "school": school.pk},
    )
    assert response.status_code == 302
    child = Child.objects.get(family=guardian.family)
    assert (child.nickname, child.birth_year, child.school) == ("小雨", 2017, school)
    assert child.stage == stage_suggest(2017)
    assert AuditLog.objects.filter(action="members.child.create").exists()


def test_a_child_cannot_be_added_without_consent_even_by_the_service():
    guardian = GuardianFactory()
    with pytest.raises(MembersError) as error:
        child_add(family=guardian.family, actor=guardian.user, nickname="小明", birth_year=2016)
    assert error.value.code == "consent_required"


def test_a_new_version_of_the_rules_asks_again(client):
    guardian = GuardianFactory()
    consent_record(user=guardian.user, document=CHILDREN_INFO, family=guardian.family)
    client.force_login(guardian.user)
    assert client.get("/family/children/add/").status_code == 200

    with override_settings(CHILDREN_INFO_RULES_VERSION="2026.1"):
        response = client.get("/family/children/add/")
        assert response.status_code == 302
        assert response["Location"].startswith("/privacy/children/")
        client.post("/privacy/children/", {"agree": "yes"})
        assert client.get("/family/children/add/").status_code == 200
    versions = set(
        ConsentRecord.objects.filter(user=guardian.user).values_list("version", flat=True)
    )
    assert versions == {"2025.1", "2026.1"}


def test_the_stage_can_be_chosen_and_edited(client):
    guardian = GuardianFactory()
    consent_record(user=guardian.user, document=CHILDREN_INFO)
    client.force_login(guardian.user)
    client.post(
        "/family/children/add/",
        {"nickname": "豆豆", "birth_year": "2019", "stage": SchoolStage.PRESCHOOL},
    )
    child = Child.objects.get(family=guardian.family)
    assert child.stage == SchoolStage.PRESCHOOL

    response = client.post(
        f"/family/children/{child.pk}/edit/",
        {"nickname": "豆豆", "birth_year": "2019", "stage": SchoolStage.PRIMARY},
    )
    assert response.status_code == 302
    child.refresh_from_db()
    assert child.stage == SchoolStage.PRIMARY


def test_the_school_must_be_a_school(client):
    guardian = GuardianFactory()
    consent_record(user=guardian.user, document=CHILDREN_INFO)
    hospital = MemberUnitFactory(kind=MemberUnit.Kind.HOSPITAL)
    client.force_login(guardian.user)
    response = client.post(
        "/family/children/add/",
        {"nickname": "豆豆", "birth_year": "2019", "school": hospital.pk},
    )
    assert response.status_code == 200
    assert not Child.objects.exists()


def test_no_id_numbers_full_birth_dates_or_photos_are_collected():
    field_names = {f.name for f in Child._meta.get_fields()}
    assert {"nickname", "birth_year", "stage", "school"} <= field_names
    for forbidden in ("id_card", "id_number", "birth_date", "birthday", "photo", "avatar"):
        assert forbidden not in field_names


def test_removing_a_child_is_audited(client):
    guardian = GuardianFactory()
    child = ChildFactory(family=guardian.family)
    client.force_login(guardian.user)
    assert client.get(f"/family/children/{child.pk}/delete/").status_code == 200
    response = client.post(f"/family/children/{child.pk}/delete/")
    assert response.status_code == 302
    assert not Child.objects.filter(pk=child.pk).exists()
    assert AuditLog.objects.filter(action="members.child.delete").exists()


def test_family_page_costs_a_fixed_number_of_queries(client, django_assert_max_num_queries):
    guardian = GuardianFactory()
    for _n in range(3):
        GuardianFactory(family=guardian.family)
    for _n in range(10):
        ChildFactory(family=guardian.family, school=MemberUnitFactory())
    client.force_login(guardian.user)
    with django_assert_max_num_queries(12):
        response = client.get("/family/")
    assert response.status_code == 200
    assert response.content.decode().count("年生") == 10
