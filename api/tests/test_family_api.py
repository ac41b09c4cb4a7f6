"""/api/v1/family: guardians (phones masked), children with the consent rule of
the pages, another family's ids, scopes and device tokens, the calendar feed URL."""

import json

import pytest
from django.test import Client

from events.models import CalendarFeed
from members.models import AuditLog, Child, ConsentRecord
from members.services import consent_record
from members.tests.factories import (
    ApiTokenFactory,
    ChildFactory,
    GuardianFactory,
    MemberUnitFactory,
    RoleAssignmentFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
CHILDREN_INFO = ConsentRecord.Document.CHILDREN_INFO


def _bearer(raw):
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def _json(client, method, path, body=None, **extra):
    return getattr(client, method)(
        path, data=json.dumps(body or {}), content_type="application/json", **extra
    )


@pytest.fixture
def mother():
    guardian = GuardianFactory(
        user=UserFactory(display_name="小雨妈妈", phone="13712345678"), phone="13712345678"
    )
    consent_record(user=guardian.user, document=CHILDREN_INFO, family=guardian.family)
    return guardian


@pytest.fixture
def other_family_child():
    return ChildFactory(family=GuardianFactory().family, nickname="别人家的孩子")


def test_the_family_shows_guardians_masked_and_children(mother, django_assert_max_num_queries):
    # given a second guardian and two children
    GuardianFactory(
        family=mother.family,
        relation="grandparent",
        user=UserFactory(display_name="外婆", phone="13900001234"),
        phone="13900001234",
    )
    school = MemberUnitFactory(name="溪口小学")
    ChildFactory(family=mother.family, nickname="小雨", birth_year=2017, school=school)
    ChildFactory(family=mother.family, nickname="小雪", birth_year=2021, stage="preschool")
    _, raw = ApiTokenFactory.create(user=mother.user, scopes=["read"])

    # when the family is read with a read-only token
    with django_assert_max_num_queries(8):
        response = Client().get("/api/v1/family", **_bearer(raw))

    # then both guardians are there with masked phones, and the children
    assert response.status_code == 200
    body = response.json()
    assert [g["name"] for g in body["guardians"]] == ["小雨妈妈", "外婆"]
    assert [g["phone_masked"] for g in body["guardians"]] == ["137****5678", "139****1234"]
    assert [g["is_me"] for g in body["guardians"]] == [True, False]
    assert "13712345678" not in response.content.decode()
    assert [c["nickname"] for c in body["children"]] == ["小雨", "小雪"]
    assert body["children"][0]["school_name"] == "溪口小学"
    assert body["children"][1]["stage_label"] == "学前"
    assert body["children_consent"]["agreed"] is True


def test_without_a_family_the_answer_says_to_set_one_up():
    client = Client()
    client.force_login(UserFactory())
    response = client.get("/api/v1/family")
    assert response.status_code == 404
    assert response.json()["code"] == "no_family"
    assert "建立您的家庭" in response.json()["message"]


def test_anonymous_callers_are_asked_to_sign_in():
    response = Client().get("/api/v1/family")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


def test_a_child_is_added_changed_and_removed_through_the_services(mother):
    _, raw = ApiTokenFactory.create(user=mother.user, scopes=["read", "write"])
    client = Client()
    school = MemberUnitFactory(name="溪口中学", kind="middle_school")

    # add
    response = _json(
        client,
        "post",
        "/api/v1/family/children",
        {"nickname": " 小雨 ", "birth_year": 2013, "school_id": school.pk},
        **_bearer(raw),
    )
    assert response.status_code == 201, response.content
    child = Child.objects.get(pk=response.json()["id"])
    assert child.family_id == mother.family_id and child.nickname == "小雨"
    assert child.stage == "junior"  # suggested from the birth year, as on the page
    assert AuditLog.objects.filter(action="members.child.create", target_id=str(child.pk)).exists()

    # change only the nickname: the rest stays
    response = _json(
        client, "patch", f"/api/v1/family/children/{child.pk}", {"nickname": "雨雨"}, **_bearer(raw)
    )
    assert response.status_code == 200
    child.refresh_from_db()
    assert (child.nickname, child.birth_year, child.school_id) == ("雨雨", 2013, school.pk)

    # clear the school
    response = _json(
        client, "patch", f"/api/v1/family/children/{child.pk}", {"school_id": None}, **_bearer(raw)
    )
    assert response.status_code == 200 and response.json()["school_id"] is None

    # remove
    response = client.delete(f"/api/v1/family/children/{child.pk}", **_bearer(raw))
    assert response.status_code == 204
    assert not Child.objects.filter(pk=child.pk).exists()
    assert AuditLog.objects.filter(action="members.child.delete").exists()


def test_a_retried_add_with_the_same_key_makes_one_child(mother):
    _, raw = ApiTokenFactory.create(user=mother.user)
    client = Client()
    body = {"nickname": "小雨", "birth_year": 2016}
    answers = [
        _json(
            client,
            "post",
            "/api/v1/family/children",
            body,
            HTTP_IDEMPOTENCY_KEY="add-child-1",
            **_bearer(raw),
        )
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json() == answers[1].json()
    assert answers[1]["Idempotent-Replayed"] == "true"
    assert Child.objects.filter(family=mother.family).count() == 1


def test_adding_a_child_needs_the_childrens_rules_first_as_on_the_page():
    # given a guardian who has not agreed to the children's-information rules
    guardian = GuardianFactory()
    client = Client()
    client.force_login(guardian.user)

    # when they add a child
    response = _json(
        client, "post", "/api/v1/family/children", {"nickname": "小雨", "birth_year": 2016}
    )

    # then they are refused with the pages' code and message, and nothing is written
    assert response.status_code == 400
    assert response.json()["code"] == "consent_required"
    assert "儿童个人信息保护规则" in response.json()["message"]
    assert not Child.objects.exists()
    assert client.get("/api/v1/family/consent").json()["agreed"] is False

    # when they agree through the API (not ticking is refused, naming the field)
    refused = _json(client, "post", "/api/v1/family/consent", {"agree": False})
    assert refused.status_code == 400 and "agree" in refused.json()["fields"]
    agreed = _json(client, "post", "/api/v1/family/consent", {"agree": True})
    assert agreed.status_code == 200 and agreed.json()["agreed"] is True
    _json(client, "post", "/api/v1/family/consent", {"agree": True})  # a double tap
    assert ConsentRecord.objects.filter(user=guardian.user, document=CHILDREN_INFO).count() == 1

    # then the child can be added
    response = _json(
        client, "post", "/api/v1/family/children", {"nickname": "小雨", "birth_year": 2016}
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"nickname": "", "birth_year": 2016}, "nickname"),
        ({"nickname": "小雨", "birth_year": 1990}, "birth_year"),
        ({"nickname": "小雨", "birth_year": 2016, "stage": "university"}, "stage"),
        ({"nickname": "小雨" * 20, "birth_year": 2016}, "nickname"),
    ],
)
def test_bad_child_fields_are_named_with_the_pages_messages(mother, body, field):
    client = Client()
    client.force_login(mother.user)
    response = _json(client, "post", "/api/v1/family/children", body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]
    assert not Child.objects.exists()


def test_a_school_must_be_a_school(mother):
    client = Client()
    client.force_login(mother.user)
    library = MemberUnitFactory(kind="library")
    response = _json(
        client,
        "post",
        "/api/v1/family/children",
        {"nickname": "小雨", "birth_year": 2016, "school_id": library.pk},
    )
    assert response.status_code == 400 and "school_id" in response.json()["fields"]
    wrong_type = _json(
        client, "post", "/api/v1/family/children", {"nickname": "小雨", "birth_year": "twenty"}
    )
    assert wrong_type.status_code == 422 and "birth_year" in wrong_type.json()["fields"]


def test_another_familys_child_is_not_found(mother, other_family_child):
    client = Client()
    client.force_login(mother.user)
    path = f"/api/v1/family/children/{other_family_child.pk}"
    answers = [
        client.get(path),
        _json(client, "patch", path, {"nickname": "改了"}),
        client.delete(path),
    ]
    assert [a.status_code for a in answers] == [404, 404, 404]
    other_family_child.refresh_from_db()
    assert other_family_child.nickname == "别人家的孩子"


def test_a_read_token_cannot_write_and_a_device_token_cannot_read_the_family(mother):
    client = Client()
    _, read_only = ApiTokenFactory.create(user=mother.user, scopes=["read"])
    response = _json(
        client,
        "post",
        "/api/v1/family/children",
        {"nickname": "小雨", "birth_year": 2016},
        **_bearer(read_only),
    )
    assert response.status_code == 403 and response.json()["code"] == "scope_missing"

    # a coordinator who is also a parent hands a kiosk a device token
    unit = MemberUnitFactory()
    RoleAssignmentFactory(user=mother.user, unit=unit)
    _, device = ApiTokenFactory.create(user=mother.user, scopes=["checkin"], unit=unit)
    for path in ("/api/v1/family", "/api/v1/family/calendar-feed", "/api/v1/family/consent"):
        response = client.get(path, **_bearer(device))
        assert response.status_code == 403, path
        assert response.json()["code"] == "device_forbidden"
    assert "小雨妈妈" not in response.content.decode()


def test_the_calendar_feed_url_and_its_renewal(mother):
    client = Client()
    client.force_login(mother.user)

    first = client.get("/api/v1/family/calendar-feed").json()
    again = client.get("/api/v1/family/calendar-feed").json()
    assert first["url"] == again["url"] and first["url"].endswith(".ics")
    assert first["url"].startswith("http://testserver/")
    assert Client().get(first["url"].removeprefix("http://testserver")).status_code == 200

    renewed = client.post("/api/v1/family/calendar-feed/renew")
    assert renewed.status_code == 200
    assert renewed.json()["url"] != first["url"]
    # the old link stops working at once
    assert Client().get(first["url"].removeprefix("http://testserver")).status_code == 404
    assert CalendarFeed.objects.filter(family=mother.family, revoked_at__isnull=True).count() == 1


def test_a_parent_without_a_family_sets_it_up_once():
    from members.models import Guardian
    from members.tests.factories import RegionFactory

    user = UserFactory(phone="13712340000")
    community = RegionFactory(name="上清寺社区", kind="community")
    client = Client()
    client.force_login(user)
    body = {"relation": "mother", "display_name": "小雨妈妈", "home_community_id": community.pk}

    made = _json(client, "post", "/api/v1/family", body)

    assert made.status_code == 201, made.content
    guardian = Guardian.objects.get(user=user)
    assert guardian.phone == "13712340000"  # the sign-in number, as the page fills it in
    assert made.json()["guardians"][0]["phone_masked"] == "137****0000"
    assert made.json()["home_community"] == "上清寺社区"
    again = _json(client, "post", "/api/v1/family", body)
    assert again.status_code == 400 and again.json()["code"] == "already_in_family"
    bad = _json(client, "post", "/api/v1/family", {"relation": "uncle", "phone": "123"})
    assert bad.status_code == 400 and {"relation", "phone"} <= set(bad.json()["fields"])
    assert Guardian.objects.filter(user=user).count() == 1
