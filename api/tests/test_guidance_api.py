"""The guidance station through the API: stations, areas, mentors' public profiles
and free slots for anyone; a family books (the web's one service, so the
station's per-family limits hold here too, also for two bookings at the same
instant), cancels and reads its consultations with the shared summary and the
referrals offered. Another family's consultation or child, and a mentor's cases,
are refused as missing ones; no answer ever holds the need, a private or
restricted note, a phone or another family's child."""

import datetime as dt
import json
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from guidance import services
from guidance.models import Consultation, GuidanceQuota, Note, Referral
from guidance.tests.factories import NoteFactory, ReferralFactory
from guidance.tests.world import build_station_world
from members.sealing import seal, unseal
from members.tests.factories import ApiTokenFactory
from tests.races import run_together

API = "/api/v1/guidance"
MISSING_ID = 2**31 - 2
NEED = "孩子最近晚上睡不着，白天也不太愿意说话"
PRIVATE = "导师私密：家中近期有变故，需关注情绪"
RESTRICTED = "限阅：曾提到自伤念头，已按流程告知首席导师"
SUMMARY = "本次咨询讨论了作息安排，建议每晚十点前放下手机。"
# Measured: the token, its use marked, the guardian, the caller's mentor records
# (the access rule), the page of consultations, their summaries, their referrals.
CONSULTATION_LIST_MAX_QUERIES = 8
# The station, its mentors, their next free slots (one windowed query).
MENTOR_LIST_MAX_QUERIES = 3


def _client(user=None, scopes=("read", "write")):
    if user is None:
        return Client()
    _, raw = ApiTokenFactory.create(user=user, scopes=scopes)
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def _post(client, url, body=None, **headers):
    return client.post(url, json.dumps(body or {}), content_type="application/json", **headers)


def _text(response) -> str:
    return json.dumps(response.json(), ensure_ascii=False)


def _slot(mentor, *, days=3, hour=15, capacity=1, kind="one_to_one", mode="in_person"):
    starts = timezone.localtime() + dt.timedelta(days=days)
    starts = starts.replace(hour=hour, minute=0, second=0, microsecond=0)
    return services.slot_create(
        user=mentor.user,
        mentor_id=mentor.pk,
        starts_at=starts,
        minutes=50,
        kind=kind,
        capacity=capacity,
        mode=mode,
        venue="海天舒工作站 2 号咨询室" if mode == "in_person" else "",
        online_url="https://meeting.example.cn/room/8848" if mode == "online" else "",
    )


def _booking(w, slot, guardian=None, **extra):
    guardian = guardian or w.mum
    body = {
        "slot_id": slot.pk,
        "area": "mental_health",
        "for_whom": "child",
        "child_id": guardian.family.children.first().pk,
        "need": NEED,
    }
    body.update(extra)
    return body


@pytest.fixture(autouse=True)
def _no_rate_limits(settings):
    settings.API_RATE_PER_TOKEN = 1_000_000
    settings.API_RATE_PER_IP = 1_000_000


@pytest.fixture
def w(db):
    return build_station_world()


# --- public: stations, areas, mentors, slots -------------------------------------------


@pytest.mark.django_db
def test_anyone_lists_the_stations_and_a_stations_five_areas(w):
    anonymous = _client()

    listed = anonymous.get(f"{API}/stations")
    assert listed.status_code == 200, listed.content
    names = [s["name"] for s in listed.json()["items"]]
    assert "海天舒学生成长指导工作站" in names and "渝中家长成长指导中心" in names
    # paged with the other lists' cursors
    first = anonymous.get(f"{API}/stations?limit=1").json()
    second = anonymous.get(f"{API}/stations?limit=1&cursor={first['next_cursor']}").json()
    assert first["items"][0]["id"] != second["items"][0]["id"]

    detail = anonymous.get(f"{API}/stations/{w.station.pk}")
    assert detail.status_code == 200, detail.content
    body = detail.json()
    assert body["open_bookings_max"] == 2 and body["term_bookings_max"] == 4
    areas = {a["value"]: a for a in body["areas"]}
    assert len(areas) == 5 and areas["mental_health"]["label"] == "心理健康辅导"
    assert areas["mental_health"]["mentors"] == 2  # the chief mentor and 林老师
    assert body["my_limits"] is None
    # a family sees its own tallies
    mine = _client(w.mum.user).get(f"{API}/stations/{w.station.pk}").json()["my_limits"]
    assert mine == {"open_used": 0, "open_max": 2, "term_used": 0, "term_max": 4}
    # a missing station
    missing = anonymous.get(f"{API}/stations/{MISSING_ID}")
    assert missing.status_code == 404 and missing.json()["code"] == "station_missing"


@pytest.mark.django_db
def test_mentors_by_area_show_the_public_profile_only_with_their_next_free_slots(w):
    slot = _slot(w.psych)
    _slot(w.psych, days=4)
    w.psych.bio = "从事青少年心理辅导十年。"
    w.psych.save(update_fields=["bio"])

    answer = _client().get(f"{API}/stations/{w.station.pk}/mentors?area=mental_health")

    assert answer.status_code == 200, answer.content
    cards = answer.json()["items"]
    assert [c["name"] for c in cards] == ["首席王老师", "林老师"]  # the chief first
    lin = cards[1]
    assert lin["title"] == "心理健康教育教师" and lin["bio"] == "从事青少年心理辅导十年。"
    assert lin["areas"] == [{"value": "mental_health", "label": "心理健康辅导"}]
    assert {m["value"] for m in lin["modes"]} == {"in_person", "online"}
    assert lin["is_invented"] is False and cards[0]["is_chief"] is True
    assert [s["id"] for s in lin["next_slots"]][0] == slot.pk
    assert lin["next_slots"][0]["free_places"] == 1
    # never a login, a phone or a volunteer record
    assert set(lin) == {
        "id",
        "station_id",
        "name",
        "title",
        "areas",
        "audiences",
        "stages",
        "modes",
        "bio",
        "is_chief",
        "is_invented",
        "next_slots",
    }
    assert str(w.psych.user.pk) not in json.dumps([lin["areas"], lin["audiences"]])
    # the other area, an audience filter, all mentors, one per page
    family = _client().get(f"{API}/stations/{w.station.pk}/mentors?area=family_education")
    assert [c["name"] for c in family.json()["items"]] == ["首席王老师", "郑老师"]
    teachers = _client().get(f"{API}/stations/{w.station.pk}/mentors?audience=teacher")
    assert teachers.json()["items"] == []
    page = _client().get(f"{API}/stations/{w.station.pk}/mentors?limit=2").json()
    rest = (
        _client()
        .get(f"{API}/stations/{w.station.pk}/mentors?limit=2&cursor={page['next_cursor']}")
        .json()
    )
    assert [c["name"] for c in page["items"] + rest["items"]] == ["首席王老师", "林老师", "郑老师"]
    assert rest["next_cursor"] is None
    # a cursor of another list is refused
    bad = _client().get(
        f"{API}/stations/{w.station.pk}/mentors?area=family_education&cursor={page['next_cursor']}"
    )
    assert bad.status_code == 400 and bad.json()["code"] == "bad_cursor"


@pytest.mark.django_db
def test_a_mentors_profile_and_free_slots_paged_soonest_first(w):
    slots = [_slot(w.psych, days=d, mode="online") for d in (5, 2, 3)]
    full = _slot(w.psych, days=1)
    services.consultation_book(
        user=w.dad.user,
        slot_id=full.pk,
        area="mental_health",
        for_whom="parent",
        need=NEED,
    )
    client = _client()

    profile = client.get(f"{API}/mentors/{w.psych.pk}")
    assert profile.status_code == 200, profile.content
    assert profile.json()["station"] == "海天舒学生成长指导工作站"
    assert profile.json()["name"] == "林老师"

    first = client.get(f"{API}/mentors/{w.psych.pk}/slots?limit=2").json()
    second = client.get(f"{API}/mentors/{w.psych.pk}/slots?limit=2&cursor={first['next_cursor']}")
    ids = [s["id"] for s in first["items"] + second.json()["items"]]
    # the soonest first; the full slot is not offered
    assert ids == [slots[1].pk, slots[2].pk, slots[0].pk]
    card = first["items"][0]
    assert card["mode"] == "online" and card["minutes"] == 50 and card["title"].endswith("林老师")
    # the online link is for the booked family only
    assert "meeting.example.cn" not in _text(second) + json.dumps(first)
    missing = client.get(f"{API}/mentors/{MISSING_ID}/slots")
    assert missing.status_code == 404 and missing.json()["code"] == "mentor_missing"
    # a mentor no longer active is gone too
    w.psych.is_active = False
    w.psych.save(update_fields=["is_active"])
    assert client.get(f"{API}/mentors/{w.psych.pk}").status_code == 404


# --- booking, reading, cancelling ----------------------------------------------------


@pytest.mark.django_db
def test_a_parent_books_for_her_child_and_reads_it_without_the_need(w):
    slot = _slot(w.psych, mode="online")
    mum = _client(w.mum.user)

    booked = _post(mum, f"{API}/consultations", _booking(w, slot))

    assert booked.status_code == 201, booked.content
    body = booked.json()
    assert body["status"] == "booked" and body["area_label"] == "心理健康辅导"
    assert body["for_whom"] == "child" and body["child"] == w.mum_child.nickname
    assert body["mentor"]["name"] == "林老师" and body["slot"]["id"] == slot.pk
    assert body["slot"]["online_url"] == "https://meeting.example.cn/room/8848"
    assert body["can_cancel"] and body["summary"] is None and body["referrals"] == []
    # the need is sealed for the mentor and in no answer
    consultation = Consultation.objects.get(pk=body["id"])
    assert unseal(consultation.need_sealed, purpose="guidance.need") == NEED
    listed = mum.get(f"{API}/consultations")
    detail = mum.get(f"{API}/consultations/{body['id']}")
    assert listed.status_code == detail.status_code == 200
    assert [c["id"] for c in listed.json()["items"]] == [body["id"]]
    for answer in (booked, listed, detail):
        assert NEED not in _text(answer)
    assert mum.get(f"{API}/stations/{w.station.pk}").json()["my_limits"]["open_used"] == 1
    # filtered by open and closed
    assert len(mum.get(f"{API}/consultations?which=open").json()["items"]) == 1
    assert mum.get(f"{API}/consultations?which=closed").json()["items"] == []


@pytest.mark.django_db
def test_another_family_and_the_mentors_get_the_same_404_as_a_missing_id(w):
    slot = _slot(w.psych)
    consultation = services.consultation_book(
        user=w.mum.user,
        slot_id=slot.pk,
        area="mental_health",
        for_whom="child",
        child_id=w.mum_child.pk,
        need=NEED,
    )
    # the family-visible parts are the family's: mentors read their cases on the desk
    for user in (w.dad.user, w.psych.user, w.chief.user, w.coordinator, w.other_mentor.user):
        client = _client(user)
        for method, path in (
            ("get", f"consultations/{consultation.pk}"),
            ("post", f"consultations/{consultation.pk}/cancel"),
        ):
            missing_path = path.replace(str(consultation.pk), str(MISSING_ID))
            if method == "get":
                foreign = client.get(f"{API}/{path}")
                missing = client.get(f"{API}/{missing_path}")
            else:
                foreign, missing = (
                    _post(client, f"{API}/{path}"),
                    _post(client, f"{API}/{missing_path}"),
                )
            assert foreign.status_code == 404, (user, path, foreign.content)
            assert foreign.json() == missing.json()
            assert foreign.json()["code"] == "consultation_missing"
        listed = client.get(f"{API}/consultations")
        assert listed.status_code == 200 and listed.json()["items"] == []
        assert not any(s in _text(listed) for s in w.secrets())
    consultation.refresh_from_db()
    assert consultation.status == Consultation.Status.BOOKED
    # and nobody signed out reads a list
    anonymous = _client().get(f"{API}/consultations")
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "unauthenticated"


@pytest.mark.django_db
def test_another_familys_child_is_refused_whatever_for_whom_says(w):
    slot = _slot(w.psych)
    dad = _client(w.dad.user)
    for for_whom in ("child", "parent"):
        refused = _post(
            dad,
            f"{API}/consultations",
            _booking(w, slot, w.dad, for_whom=for_whom, child_id=w.mum_child.pk),
        )
        assert refused.status_code == 400, refused.content
        assert refused.json()["code"] == "child_invalid"
        assert refused.json()["fields"] == {"child_id": "请选择您家庭里的孩子。"}
        assert w.mum_child.nickname not in _text(refused)
    assert not Consultation.objects.exists()
    assert not GuidanceQuota.objects.exists()


@pytest.mark.django_db
def test_bad_input_is_refused_in_chinese_naming_the_field(w):
    slot = _slot(w.psych)
    mum = _client(w.mum.user)
    cases = [
        ({"need": "  "}, 400, "need_required", "need"),
        ({"for_whom": "child", "child_id": None}, 400, "child_required", "child_id"),
        ({"area": "career"}, 400, "area_not_served", "area"),
        ({"for_whom": "teacher", "child_id": None}, 400, "teacher_only", "for_whom"),
        ({"slot_id": MISSING_ID}, 404, "slot_missing", None),
        ({"referral_id": MISSING_ID}, 404, "referral_missing", None),
    ]
    for change, status, code, field in cases:
        answer = _post(mum, f"{API}/consultations", _booking(w, slot, **change))
        assert answer.status_code == status, (change, answer.content)
        assert answer.json()["code"] == code, change
        if field:
            assert field in answer.json()["fields"], change
            assert answer.json()["message"] == answer.json()["fields"][field]
    # the schema's own checks: one shape, 422
    unknown = _post(mum, f"{API}/consultations", _booking(w, slot, area="astrology"))
    assert unknown.status_code == 422 and "area" in unknown.json()["fields"]
    assert not Consultation.objects.exists()


@pytest.mark.django_db
def test_the_family_cancels_through_the_api_and_the_open_tally_comes_back(w):
    slot = _slot(w.psych)
    mum = _client(w.mum.user)
    booked = _post(mum, f"{API}/consultations", _booking(w, slot)).json()

    cancelled = _post(mum, f"{API}/consultations/{booked['id']}/cancel")

    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["status"] == "cancelled" and not cancelled.json()["can_cancel"]
    limits = mum.get(f"{API}/stations/{w.station.pk}").json()["my_limits"]
    assert limits["open_used"] == 0 and limits["term_used"] == 1
    again = _post(mum, f"{API}/consultations/{booked['id']}/cancel")
    assert again.status_code == 400 and again.json()["code"] == "consultation_closed"
    # the freed slot is offered again
    assert _client().get(f"{API}/mentors/{w.psych.pk}/slots").json()["items"][0]["id"] == slot.pk


@pytest.mark.django_db
def test_a_booking_beyond_the_stations_limits_is_refused_through_the_api(w):
    """Done when #1, the API half: the web's limits hold on this channel."""
    mum = _client(w.mum.user)
    slots = [_slot(w.psych, days=d) for d in range(1, 8)]
    first = _post(mum, f"{API}/consultations", _booking(w, slots[0]))
    second = _post(
        mum, f"{API}/consultations", _booking(w, slots[1], for_whom="parent", child_id=None)
    )
    assert first.status_code == second.status_code == 201

    # when she books a third while two are open
    third = _post(mum, f"{API}/consultations", _booking(w, slots[2]))

    # then it is refused with the station's Chinese sentence, and nothing is booked
    assert third.status_code == 400, third.content
    assert third.json()["code"] == "open_limit"
    assert "每个家庭在本站同时最多有 2 个未完成的咨询预约" in third.json()["message"]
    assert Consultation.objects.filter(family=w.mum.family).count() == 2
    assert not Consultation.objects.filter(slot=slots[2]).exists()

    # and per term: cancelled bookings still count (4 a term)
    for answer in (first, second):
        assert _post(mum, f"{API}/consultations/{answer.json()['id']}/cancel").status_code == 200
    for slot in slots[3:5]:
        assert _post(mum, f"{API}/consultations", _booking(w, slot)).status_code == 201
    for answer in mum.get(f"{API}/consultations?which=open").json()["items"]:
        _post(mum, f"{API}/consultations/{answer['id']}/cancel")
    fifth = _post(mum, f"{API}/consultations", _booking(w, slots[5]))
    assert fifth.status_code == 400 and fifth.json()["code"] == "term_limit"
    assert "每学期在本站最多预约 4 次咨询" in fifth.json()["message"]
    limits = mum.get(f"{API}/stations/{w.station.pk}").json()["my_limits"]
    assert limits == {"open_used": 0, "open_max": 2, "term_used": 4, "term_max": 4}

    # the chief mentor lifts it for her family: one more
    services.limit_lift(
        user=w.chief.user, station_id=w.station.pk, family_id=w.mum.family.pk, extra_term=1
    )
    assert _post(mum, f"{API}/consultations", _booking(w, slots[6])).status_code == 201


@pytest.mark.django_db
def test_the_family_sees_the_shared_summary_and_referrals_never_a_note(w):
    slot = _slot(w.psych)
    consultation = services.consultation_book(
        user=w.mum.user,
        slot_id=slot.pk,
        area="mental_health",
        for_whom="child",
        child_id=w.mum_child.pk,
        need=NEED,
    )
    NoteFactory(
        consultation=consultation, level=Note.Level.SUMMARY, body=SUMMARY, author=w.psych.user
    )
    for level, text in ((Note.Level.PRIVATE, PRIVATE), (Note.Level.RESTRICTED, RESTRICTED)):
        NoteFactory(
            consultation=consultation,
            level=level,
            body="",
            body_sealed=seal(text, purpose="guidance.note"),
            author=w.psych.user,
        )
    referral = ReferralFactory(
        consultation=consultation,
        to_area="family_education",
        to_mentor=w.family_mentor,
        message="建议爸爸妈妈一起来聊聊家里的作息安排。",
        created_by=w.psych.user,
    )
    mum = _client(w.mum.user)

    detail = mum.get(f"{API}/consultations/{consultation.pk}")
    listed = mum.get(f"{API}/consultations")

    assert detail.status_code == 200, detail.content
    body = detail.json()
    assert body["summary"]["body"] == SUMMARY
    (offered,) = body["referrals"]
    assert offered["id"] == referral.pk and offered["status"] == "open"
    assert offered["to_area_label"] == "家庭教育指导" and offered["to_mentor"]["name"] == "郑老师"
    assert offered["message"] == "建议爸爸妈妈一起来聊聊家里的作息安排。"
    assert listed.json()["items"][0]["summary"]["body"] == SUMMARY

    # booking the referral's slot does not count against the limits
    slot2 = _slot(w.family_mentor, days=4)
    answered = _post(
        mum,
        f"{API}/consultations",
        _booking(w, slot2, area="mental_health", referral_id=referral.pk),
    )
    assert answered.status_code == 201, answered.content
    assert answered.json()["area"] == "family_education"
    assert answered.json()["from_referral_id"] == referral.pk
    assert Referral.objects.get(pk=referral.pk).status == Referral.Status.BOOKED
    assert mum.get(f"{API}/stations/{w.station.pk}").json()["my_limits"]["open_used"] == 1

    # no answer to anyone holds the need or a note: the family, the case's mentor,
    # the chief mentor, every endpoint
    answers = [detail, listed, answered]
    others = []
    for user in (w.mum.user, w.psych.user, w.chief.user, w.dad.user, None):
        client = _client(user)
        for url in (
            f"{API}/stations",
            f"{API}/stations/{w.station.pk}",
            f"{API}/stations/{w.station.pk}/mentors",
            f"{API}/mentors/{w.psych.pk}",
            f"{API}/mentors/{w.psych.pk}/slots",
            f"{API}/consultations",
            f"{API}/consultations/{consultation.pk}",
        ):
            answer = client.get(url)
            answers.append(answer)
            if user not in (w.mum.user,):
                others.append(answer)
    for answer in answers:
        text = _text(answer)
        for secret in (NEED, PRIVATE, RESTRICTED):
            assert secret not in text, (answer.wsgi_request.path, secret)
        assert w.mum.user.phone not in text and w.dad.user.phone not in text
    # nobody but the family (not even the case's mentors: the family view is the
    # family's) is shown the summary, the referral's words or the child
    for answer in others:
        text = _text(answer)
        assert SUMMARY not in text and "一起来聊聊" not in text
        assert w.mum_child.nickname not in text


@pytest.mark.django_db
def test_a_teacher_without_a_family_books_as_a_teacher(w):
    slot = _slot(w.psych)
    booked = _post(
        _client(w.teacher),
        f"{API}/consultations",
        _booking(w, slot, for_whom="teacher", child_id=None),
    )
    assert booked.status_code == 201, booked.content
    assert booked.json()["for_whom"] == "teacher" and booked.json()["child"] is None


@pytest.mark.django_db
def test_booking_replays_under_one_idempotency_key_and_needs_the_write_scope(w):
    slot = _slot(w.psych)
    reader = _client(w.mum.user, scopes=("read",))
    refused = _post(reader, f"{API}/consultations", _booking(w, slot))
    assert refused.status_code == 403 and refused.json()["code"] == "scope_missing"

    mum = _client(w.mum.user)
    key = str(uuid.uuid4())
    first = _post(mum, f"{API}/consultations", _booking(w, slot), HTTP_IDEMPOTENCY_KEY=key)
    retried = _post(mum, f"{API}/consultations", _booking(w, slot), HTTP_IDEMPOTENCY_KEY=key)
    assert first.status_code == retried.status_code == 201
    assert retried["Idempotent-Replayed"] == "true"
    assert retried.json()["id"] == first.json()["id"]
    assert Consultation.objects.filter(family=w.mum.family).count() == 1
    assert GuidanceQuota.objects.get(key=f"open:{w.station.pk}:{w.mum.family.pk}").used == 1


@pytest.mark.django_db
def test_the_lists_take_the_same_queries_for_few_or_many_rows(w):
    from guidance.tests.factories import ConsultationFactory, MentorFactory, SlotFactory

    mum = _client(w.mum.user)
    mum.get(f"{API}/consultations")  # the token's first use is marked once
    counts, mentor_counts = [], []
    for extra in (1, 10):
        for _ in range(extra):
            slot = SlotFactory(mentor=w.psych)
            ConsultationFactory(slot=slot, family=w.mum.family, child=w.mum_child, for_whom="child")
            mentor = MentorFactory(station=w.station, areas=["mental_health"])
            SlotFactory(mentor=mentor)
        with CaptureQueriesContext(connection) as captured:
            answer = mum.get(f"{API}/consultations?limit=50")
        assert answer.status_code == 200, answer.content
        counts.append(len(captured))
        with CaptureQueriesContext(connection) as captured:
            mentors = _client().get(
                f"{API}/stations/{w.station.pk}/mentors?area=mental_health&limit=50"
            )
        assert mentors.status_code == 200
        mentor_counts.append(len(captured))
    assert len(answer.json()["items"]) == 11
    assert counts[0] == counts[1] <= CONSULTATION_LIST_MAX_QUERIES, counts
    assert mentor_counts[0] == mentor_counts[1] <= MENTOR_LIST_MAX_QUERIES, mentor_counts


# --- at the same instant, on PostgreSQL with real threads --------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_api_bookings_for_the_last_allowed_place_give_one(settings):
    assert connection.vendor == "postgresql"
    settings.API_RATE_PER_TOKEN = 1_000_000
    settings.API_RATE_PER_IP = 1_000_000
    w = build_station_world()
    slots = [_slot(w.psych, days=d) for d in (1, 2, 3)]
    _, raw = ApiTokenFactory.create(user=w.mum.user, scopes=("read", "write"))
    # one open already: one place left of the two
    assert _post(_client_raw(raw), f"{API}/consultations", _booking(w, slots[0])).status_code == 201

    def book(slot):
        answer = _post(
            _client_raw(raw),
            f"{API}/consultations",
            _booking(w, slot),
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        )
        return answer.status_code, answer.json()

    outcome = run_together(
        [lambda s=s: book(s) for s in slots[1:]], meet_before_write=["guidance_guidancequota"]
    )

    assert outcome.errors == []
    assert outcome.met == 2  # both reached the tally together
    statuses = sorted(status for status, _body in outcome.results)
    assert statuses == [201, 400], outcome.results
    (refusal,) = [body for status, body in outcome.results if status == 400]
    assert refusal["code"] == "open_limit" and "同时最多有 2 个" in refusal["message"]
    assert Consultation.objects.filter(family=w.mum.family).count() == 2
    assert GuidanceQuota.objects.get(key=f"open:{w.station.pk}:{w.mum.family.pk}").used == 2


def _client_raw(raw):
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
