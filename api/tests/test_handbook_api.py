"""The growth handbook through the API: a family claims (JSON, or a form with a
photo that is cleaned of EXIF), sees its claims pending, is refused at a limit
with the page's sentence and the field named, withdraws; a limit is the
database's, so neither the page, the API nor a new token lifts it. Verifiers
decide and approve attendance claims in bulk; another family's or another
unit's claim is a 404, a check-in device is refused, lists take constant queries."""

from __future__ import annotations

import datetime
import io
import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from PIL import Image

from bookings.models import Booking
from courses.tests.factories import CourseFactory, make_session
from handbook.models import Claim, ClaimTally
from handbook.tests.conftest import build_world, jpeg_upload
from handbook.tests.factories import ClaimFactory, HandbookItemFactory
from members.tests.factories import ApiTokenFactory, ChildFactory, GuardianFactory, UserFactory
from recognition.tests.factories import LearningFamilyRuleFactory

pytestmark = pytest.mark.django_db

API = "/api/v1/handbook"


def _client(user, scopes=("read", "write"), **token):
    _, raw = ApiTokenFactory.create(user=user, scopes=scopes, **token)
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def _post(client, url, body=None, **headers):
    return client.post(url, json.dumps(body or {}), content_type="application/json", **headers)


def _claim(client, item, day, headers=None, **extra):
    body = {"item_id": item.pk, "occurred_on": str(day), **extra}
    return _post(client, f"{API}/claims/", body, **(headers or {}))


@pytest.fixture
def world(db, settings):
    settings.API_RATE_PER_TOKEN = 1_000_000
    settings.API_RATE_PER_IP = 1_000_000
    return build_world()


@pytest.fixture
def parent(world):
    return _client(world.parent)


@pytest.fixture
def teacher(world):
    return _client(world.teacher)


def test_a_parent_claims_sees_it_pending_is_refused_at_the_limit_and_withdraws(world, parent):
    # given the family's handbook: the reading item is in it, once a day
    book = parent.get(f"{API}/").json()
    home = next(k for k in book["kinds"] if k["kind"] == "home")
    assert book["has_family"] and book["alliance"] == world.alliance.name
    reading = next(i for i in home["items"] if i["id"] == world.reading.pk)
    assert reading["limit_per_day"] == 1 and reading["claimable"]
    assert home["target"] == len(home["items"])

    # when the parent claims it for her child today
    first = _claim(parent, world.reading, world.today, child_id=world.child.pk)

    # then it is pending, in the list and in the progress
    assert first.status_code == 201, first.content
    claim = first.json()
    assert claim["status"] == "pending" and claim["child"] == "小明" and claim["can_withdraw"]
    listed = parent.get(f"{API}/claims/?status=pending").json()["items"]
    assert [c["id"] for c in listed] == [claim["id"]]
    progress = parent.get(f"{API}/progress/").json()
    assert [c["id"] for c in progress["pending"]] == [claim["id"]]
    assert progress["points"] == 0 and progress["term"]["id"] == world.term.pk

    # when she claims it a second time the same day: refused, naming the limit and the field
    again = _claim(parent, world.reading, world.today)
    assert again.status_code == 400
    body = again.json()
    assert body["code"] == "limit_day" and "亲子阅读" in body["message"]
    assert body["fields"] == {"occurred_on": body["message"]}
    assert Claim.objects.filter(family=world.family).count() == 1

    # when she withdraws the first: the place under the limit is free again
    withdrawn = _post(parent, f"{API}/claims/{claim['id']}/withdraw/")
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    assert _claim(parent, world.reading, world.today).status_code == 201


def test_refusals_name_the_bodys_fields(world, parent):
    other_child = ChildFactory(nickname="别家孩子")
    refused = _claim(parent, world.reading, world.today, child_id=other_child.pk)
    assert refused.status_code == 404 and list(refused.json()["fields"]) == ["child_id"]
    future = _claim(parent, world.reading, world.today + datetime.timedelta(days=1))
    assert future.json()["code"] == "date_future" and list(future.json()["fields"]) == [
        "occurred_on"
    ]
    by_hand = _claim(parent, world.course, world.today)
    assert by_hand.json()["code"] == "attendance_only" and "item_id" in by_hand.json()["fields"]
    no_note = _claim(parent, world.meeting, world.today)
    assert no_note.json()["code"] == "note_required" and "note" in no_note.json()["fields"]
    bad = _post(parent, f"{API}/claims/", {"item_id": "one", "occurred_on": "yesterday"})
    assert bad.status_code == 422
    assert set(bad.json()["fields"]) == {"item_id", "occurred_on"}
    not_json = parent.post(f"{API}/claims/", "{", content_type="application/json")
    assert not_json.status_code == 422 and not_json.json()["code"] == "invalid"


def test_another_alliances_item_is_not_in_the_familys_handbook(world, parent):
    other = HandbookItemFactory(name="别的联盟的项目")
    # the district's default set is not this family's: its alliance has its own
    refused = _claim(parent, other, world.today)
    assert refused.status_code == 404 and refused.json()["code"] == "item_missing"


def test_a_limit_is_not_lifted_by_the_api_after_the_page_nor_by_a_new_token(world):
    # given the parent claimed the reading item today on the page
    page = Client()
    page.force_login(world.parent)
    answer = page.post(
        "/handbook/claim/",
        {"item": world.reading.pk, "occurred_on": world.today.isoformat(), "note": ""},
    )
    assert answer.status_code == 302
    assert Claim.objects.filter(family=world.family).count() == 1

    # when she tries again through the API, with a token, a second new token, her session
    for client in (_client(world.parent), _client(world.parent), page):
        refused = _claim(client, world.reading, world.today)
        # then each is refused by the same limit
        assert refused.status_code == 400 and refused.json()["code"] == "limit_day"

    # and signed out and in again, the page refuses too
    page.logout()
    page.force_login(world.parent)
    again = page.post(
        "/handbook/claim/",
        {"item": world.reading.pk, "occurred_on": world.today.isoformat(), "note": ""},
    )
    assert again.status_code == 200 and "今天已达上限" in again.content.decode()
    assert Claim.objects.filter(family=world.family).count() == 1
    tally = ClaimTally.objects.get(family=world.family, item=world.reading, period="day")
    assert tally.used == 1


def test_a_limit_reached_through_the_api_holds_on_the_page(world, second_parent):
    assert _claim(_client(world.parent), world.reading, world.today).status_code == 201

    # the other guardian of the family, on the page, is refused: the family's limit
    page = Client()
    page.force_login(second_parent)
    refused = page.post(
        "/handbook/claim/",
        {"item": world.reading.pk, "occurred_on": world.today.isoformat(), "note": ""},
    )
    assert refused.status_code == 200 and "今天已达上限" in refused.content.decode()
    assert Claim.objects.filter(family=world.family).count() == 1


@pytest.fixture
def second_parent(world):
    return GuardianFactory(family=world.family).user


def test_a_photo_sent_as_a_form_is_stored_without_exif(world, parent):
    exif = Image.Exif()
    exif[0x010F] = "PhoneMakerXYZ"
    exif.get_ifd(0x8825).update({1: "N", 2: (29.0, 33.0, 12.5)})
    upload = jpeg_upload(exif=exif)
    assert b"PhoneMakerXYZ" in upload.read()
    upload.seek(0)

    answer = parent.post(
        f"{API}/claims/",
        {"item_id": world.chores.pk, "occurred_on": world.today.isoformat(), "photo": upload},
    )

    assert answer.status_code == 201, answer.content
    assert answer.json()["has_photo"]
    claim = Claim.objects.get(pk=answer.json()["id"])
    assert len(claim.photo_hash) == 64
    stored = Path(claim.photo.path).read_bytes()
    assert b"PhoneMakerXYZ" not in stored and b"Exif" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert not image.getexif()


def test_a_photo_item_without_a_photo_or_with_a_broken_one_is_refused(world, parent):
    as_json = _claim(parent, world.chores, world.today)
    assert as_json.status_code == 400 and list(as_json.json()["fields"]) == ["photo"]
    broken = SimpleUploadedFile("a.jpg", b"not a picture", content_type="image/jpeg")
    answer = parent.post(
        f"{API}/claims/",
        {"item_id": world.chores.pk, "occurred_on": world.today.isoformat(), "photo": broken},
    )
    assert answer.status_code == 400 and answer.json()["code"] == "photo_not_image"
    assert answer.json()["fields"] == {"photo": answer.json()["message"]}
    assert not Claim.objects.filter(family=world.family).exists()


def test_the_same_idempotency_key_twice_makes_one_claim(world, parent):
    first = _claim(parent, world.reading, world.today, headers={"HTTP_IDEMPOTENCY_KEY": "hb-1"})
    retry = _claim(parent, world.reading, world.today, headers={"HTTP_IDEMPOTENCY_KEY": "hb-1"})
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json() and retry["Idempotent-Replayed"] == "true"
    assert Claim.objects.filter(family=world.family).count() == 1

    # a form with a photo, sent twice with one key: one claim, one stored photo
    def send():
        return parent.post(
            f"{API}/claims/",
            {
                "item_id": world.chores.pk,
                "occurred_on": world.today.isoformat(),
                "photo": jpeg_upload(size=(300, 200)),
            },
            HTTP_IDEMPOTENCY_KEY="hb-photo",
        )

    photo_first, photo_retry = send(), send()
    assert photo_first.status_code == photo_retry.status_code == 201, photo_first.content
    assert photo_retry.json()["id"] == photo_first.json()["id"]
    assert photo_retry["Idempotent-Replayed"] == "true"
    assert Claim.objects.filter(family=world.family, item=world.chores).count() == 1


def test_a_verifier_decides_and_the_family_sees_the_reason(world, parent, teacher):
    ids = [
        _claim(parent, item, world.today, child_id=world.child.pk, note="和孩子一起").json()["id"]
        for item in (world.reading, world.meeting)
    ]
    photo = parent.post(
        f"{API}/claims/",
        {
            "item_id": world.chores.pk,
            "occurred_on": world.today.isoformat(),
            "photo": jpeg_upload(size=(300, 200)),
        },
    )
    ids.append(photo.json()["id"])

    # the queue: oldest first, the family's label, never the child's name
    queue = teacher.get(f"{API}/review/")
    assert queue.status_code == 200
    assert [c["id"] for c in queue.json()["items"]] == ids
    assert "小明" not in queue.content.decode("unicode_escape")
    assert queue.json()["items"][0]["family"] == f"家庭 #{world.family.pk}"
    # the claim itself shows the child's nickname to its verifier
    detail = teacher.get(f"{API}/review/{ids[0]}/").json()
    assert detail["child"] == "小明" and detail["note"] == "和孩子一起"

    # a rejection needs a reason, named in fields
    no_reason = _post(teacher, f"{API}/review/{ids[2]}/decision/", {"decision": "reject"})
    assert no_reason.status_code == 400 and list(no_reason.json()["fields"]) == ["reason"]
    for claim_id, decision in ((ids[0], "approve"), (ids[1], "approve")):
        answer = _post(teacher, f"{API}/review/{claim_id}/decision/", {"decision": decision})
        assert answer.status_code == 200 and answer.json()["status"] == "approved"
    rejected = _post(
        teacher,
        f"{API}/review/{ids[2]}/decision/",
        {"decision": "reject", "reason": "照片看不清，请重新拍一张"},
    )
    assert rejected.json()["status"] == "rejected"
    again = _post(
        teacher, f"{API}/review/{ids[0]}/decision/", {"decision": "reject", "reason": "x"}
    )
    assert again.status_code == 400 and again.json()["code"] == "already_decided"

    # the family: two items counted, the reason shown
    progress = parent.get(f"{API}/progress/").json()
    by_kind = {k["kind"]: k for k in progress["kinds"]}
    assert by_kind["home"]["done"] + by_kind["school"]["done"] == 2
    assert progress["points"] == world.reading.points + world.meeting.points
    assert [c["decision_reason"] for c in progress["rejected"]] == ["照片看不清，请重新拍一张"]
    assert progress["pending"] == []


def test_asked_for_more_the_family_responds_and_the_claim_waits_again(world, parent, teacher):
    claim_id = _claim(parent, world.reading, world.today).json()["id"]
    asked = _post(
        teacher,
        f"{API}/review/{claim_id}/decision/",
        {"decision": "more", "reason": "读了哪本书？"},
    )
    assert asked.json()["status"] == "more_info"
    mine = parent.get(f"{API}/claims/{claim_id}/").json()
    assert mine["can_respond"] and mine["decision_reason"] == "读了哪本书？"
    empty = _post(parent, f"{API}/claims/{claim_id}/respond/", {"note": ""})
    assert empty.status_code == 400 and empty.json()["code"] == "respond_empty"

    answered = _post(parent, f"{API}/claims/{claim_id}/respond/", {"note": "《小王子》"})

    assert answered.status_code == 200 and answered.json()["status"] == "pending"
    assert "《小王子》" in answered.json()["note"]


def test_attendance_claims_are_approved_in_bulk(world, teacher):
    # (each backed by a present booking of a past session: approval checks it)
    sessions = [
        make_session(CourseFactory(), starts_in=datetime.timedelta(hours=-3)) for _ in range(2)
    ]
    proposed = [
        ClaimFactory(
            family=world.family,
            item=world.course,
            term=world.term,
            unit=world.school,
            occurred_on=world.today,
            source="attendance",
            note="",
            booking=Booking.objects.create(
                offering=session.offering,
                family=world.family,
                status=Booking.Status.CONFIRMED,
                party_size=1,
                attendance=Booking.Attendance.PRESENT,
            ),
        )
        for session in sessions
    ]
    by_hand = ClaimFactory(
        family=world.family, item=world.reading, term=world.term, unit=world.school
    )
    listed = teacher.get(f"{API}/review/?source=attendance").json()["items"]
    assert {c["id"] for c in listed} == {c.pk for c in proposed}

    answer = _post(
        teacher,
        f"{API}/review/bulk-approve/",
        {"claim_ids": [c.pk for c in proposed] + [by_hand.pk]},
    )

    assert answer.status_code == 200 and answer.json() == {"approved": 2}
    assert {c.status for c in Claim.objects.filter(pk__in=[c.pk for c in proposed])} == {"approved"}
    by_hand.refresh_from_db()
    assert by_hand.status == "pending"


def test_other_familys_and_other_units_claims_are_404_and_devices_are_refused(world, teacher):
    # another family (at the other school) with a claim
    other_guardian = GuardianFactory()
    ChildFactory(family=other_guardian.family, school=world.other_school, nickname="别家宝贝")
    theirs = ClaimFactory(
        family=other_guardian.family,
        item=world.reading,
        term=world.term,
        unit=world.other_school,
        note="别人家的说明",
    )
    mine = ClaimFactory(family=world.family, item=world.reading, term=world.term, unit=world.school)
    parent = _client(world.parent)
    for response in (
        parent.get(f"{API}/claims/{theirs.pk}/"),
        _post(parent, f"{API}/claims/{theirs.pk}/withdraw/"),
        _post(parent, f"{API}/claims/{theirs.pk}/respond/", {"note": "x"}),
        teacher.get(f"{API}/review/{theirs.pk}/"),
        _post(teacher, f"{API}/review/{theirs.pk}/decision/", {"decision": "approve"}),
        _post(teacher, f"{API}/review/bulk-approve/", {"claim_ids": [theirs.pk]}),
        teacher.get(f"{API}/review/?unit_id={world.other_school.pk}"),
        # a parent is nobody's verifier
        parent.get(f"{API}/review/{mine.pk}/"),
    ):
        assert response.status_code == 404, response.content
        assert "别人家的说明" not in response.content.decode("unicode_escape")
    assert theirs.pk not in [c["id"] for c in teacher.get(f"{API}/review/").json()["items"]]
    assert [c["id"] for c in parent.get(f"{API}/claims/").json()["items"]] == [mine.pk]
    theirs.refresh_from_db()
    assert theirs.status == "pending"

    # the other school's teacher does not see this family's claim
    other_teacher = _client(world.other_teacher)
    assert other_teacher.get(f"{API}/review/{mine.pk}/").status_code == 404
    assert [c["id"] for c in other_teacher.get(f"{API}/review/").json()["items"]] == [theirs.pk]

    # a check-in device of the school, and a read-only token writing, are refused
    device = _client(world.teacher, scopes=["checkin"], unit=world.school)
    for response in (
        device.get(f"{API}/review/"),
        _post(device, f"{API}/review/{mine.pk}/decision/", {"decision": "approve"}),
        device.get(f"{API}/"),
    ):
        assert response.status_code == 403 and response.json()["code"] == "device_forbidden"
    read_only = _client(world.parent, scopes=["read"])
    refused = _claim(read_only, world.reading, world.today)
    assert refused.status_code == 403 and refused.json()["code"] == "scope_missing"


def test_without_a_family_the_handbook_says_so(db):
    client = _client(UserFactory())
    assert client.get(f"{API}/").json() == {"has_family": False, "alliance": None, "kinds": []}
    refused = client.get(f"{API}/claims/")
    assert refused.status_code == 400 and refused.json()["code"] == "no_family"


def test_the_learning_family_progress_is_the_recognition_rule_in_plain_words(world, parent):
    LearningFamilyRuleFactory(alliance=world.alliance, term=world.term, min_points=4)

    answer = parent.get(f"{API}/learning-family/")

    assert answer.status_code == 200
    body = answer.json()
    assert body["term"]["id"] == world.term.pk
    [alliance] = body["alliances"]
    assert alliance["alliance_id"] == world.alliance.pk and not alliance["met"]
    points = next(line for line in alliance["lines"] if line["name"] == "min_points")
    assert "4" in points["text"] and not points["met"]


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_lists_take_the_same_queries_for_few_and_many_claims(world, parent, teacher):
    def add(n):
        for _ in range(n):
            ClaimFactory(
                family=world.family,
                item=world.meeting,
                child=world.child,
                term=world.term,
                unit=world.school,
            )

    urls = (
        (parent, f"{API}/claims/"),
        (parent, f"{API}/progress/"),
        (parent, f"{API}/"),
        (teacher, f"{API}/review/"),
    )
    for client in (parent, teacher):  # a token's first use marks it used: not counted
        assert client.get("/api/v1/me").status_code == 200
    add(2)
    few = [_queries(client, url) for client, url in urls]
    add(15)
    many = [_queries(client, url) for client, url in urls]
    assert many == few
    # the token, the family, the term, the handbook's alliance and items, the claims
    assert max(few) <= 8, few


def test_a_photo_form_through_the_site_session_with_csrf_and_a_key_is_claimed_once(world):
    # The session's CSRF check reads the form before the Idempotency-Key's
    # fingerprint: the fingerprint is then taken from the parsed fields and files.
    page = Client(enforce_csrf_checks=True)
    page.force_login(world.parent)
    secret = "a" * 32
    page.cookies["csrftoken"] = secret

    def send():
        return page.post(
            f"{API}/claims/",
            {
                "item_id": world.chores.pk,
                "occurred_on": world.today.isoformat(),
                "photo": jpeg_upload(size=(300, 200)),
            },
            HTTP_X_CSRFTOKEN=secret,
            HTTP_IDEMPOTENCY_KEY="session-photo",
        )

    first, retry = send(), send()

    assert first.status_code == 201, first.content
    assert retry.status_code == 201 and retry["Idempotent-Replayed"] == "true"
    assert Claim.objects.filter(family=world.family).count() == 1
    no_csrf = page.post(f"{API}/claims/", {"item_id": world.chores.pk})
    assert no_csrf.status_code == 403


def test_a_broken_form_body_is_a_4xx_never_a_500(world, parent):
    for key in (None, "broken-form"):
        headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
        answer = parent.post(
            f"{API}/claims/",
            b'--xyz\r\nContent-Disposition: form-data; name="photo"; filename="a.jpg"\r\n',
            content_type="multipart/form-data; boundary=xyz",
            **headers,
        )
        assert 400 <= answer.status_code < 500, answer.content
        assert answer.json()["code"] == "invalid"
