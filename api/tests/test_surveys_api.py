"""Questionnaires through the API: a family that attended a session lists its open
survey, reads the answer sheet (kinds, options, conditions), saves a draft and
resumes it, is refused with the question's key named, submits; a second submit,
from the same token, another guardian's token or after signing in again, is
refused with ``already_answered`` and writes nothing; a retry with the same
``Idempotency-Key`` gets the first answer again. A family that did not attend, an
unpublished survey and a missing id are the same 404. The list takes the same
queries for one survey or several."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from api.core import api
from members.tests.factories import ApiTokenFactory, UserFactory
from surveys.models import Draft, Participation, PendingResponse, Response
from surveys.tests.world import (
    ANSWERS,
    attend,
    build_world,
    ended_session,
    session_survey,
    term_survey,
)

pytestmark = pytest.mark.django_db

API = "/api/v1/surveys"
MISSING_ID = 2**31 - 2


def _client(user, scopes=("read", "write"), **token):
    _, raw = ApiTokenFactory.create(user=user, scopes=scopes, **token)
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def _send(client, method, url, body=None, **headers):
    return client.generic(
        method, url, json.dumps(body or {}), content_type="application/json", **headers
    )


def _submit(client, survey_id, answers=None, **headers):
    return _send(client, "POST", f"{API}/{survey_id}/submit", {"answers": answers or {}}, **headers)


def _draft(client, survey_id, answers, step=None):
    body = {"answers": answers} if step is None else {"answers": answers, "step": step}
    return _send(client, "PUT", f"{API}/{survey_id}/draft", body)


@pytest.fixture(autouse=True)
def _no_rate_limits(settings):
    settings.API_RATE_PER_TOKEN = 1_000_000
    settings.API_RATE_PER_IP = 1_000_000


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def survey(world):
    return session_survey(world)


@pytest.fixture
def parent(world):
    return _client(world.attended_parent)


def test_a_family_that_attended_lists_reads_drafts_resumes_and_submits(world, survey, parent):
    # given the survey of the session the family attended, in its open list
    listed = parent.get(f"{API}/")
    assert listed.status_code == 200, listed.content
    cards = listed.json()["items"]
    assert [c["id"] for c in cards] == [survey.pk]
    assert cards[0]["scope"] == "session" and not cards[0]["answered"]
    assert cards[0]["closes_at"] is not None

    # when it reads the answer sheet
    sheet = parent.get(f"{API}/{survey.pk}")

    # then the questions come in order with kinds, options, scales and conditions
    assert sheet.status_code == 200, sheet.content
    body = sheet.json()
    by_key = {q["key"]: q for q in body["questions"]}
    assert [q["key"] for q in body["questions"]] == [
        "satisfaction",
        "recommend",
        "format",
        "topics",
        "why_low",
        "suggestion",
    ]
    assert by_key["satisfaction"]["kind"] == "rating" and by_key["satisfaction"]["required"]
    assert (by_key["satisfaction"]["min_value"], by_key["satisfaction"]["max_value"]) == (1, 5)
    assert (by_key["recommend"]["min_value"], by_key["recommend"]["max_value"]) == (0, 10)
    assert by_key["format"]["options"] == [
        {"value": 0, "label": "讲座"},
        {"value": 1, "label": "案例研讨"},
        {"value": 2, "label": "亲子实践"},
    ]
    assert by_key["why_low"]["show_if"] == {"key": "satisfaction", "values": [1, 2]}
    assert not by_key["why_low"]["visible"] and by_key["suggestion"]["visible"]
    assert by_key["suggestion"]["max_length"] == 500 and by_key["why_low"]["max_length"] == 2000
    assert body["answers"] == {} and body["step"] == 0 and not body["is_anonymous"]
    assert body["closes_at"] is not None

    # when it saves a low satisfaction as a draft at the second screen
    saved = _draft(parent, survey.pk, {"satisfaction": 2}, step=1)

    # then the draft comes back with the condition's question now shown, and resumes
    assert saved.status_code == 200, saved.content
    assert saved.json()["answers"] == {"satisfaction": 2} and saved.json()["step"] == 1
    resumed = parent.get(f"{API}/{survey.pk}").json()
    assert resumed["answers"] == {"satisfaction": 2} and resumed["step"] == 1
    assert {q["key"]: q["visible"] for q in resumed["questions"]}["why_low"]

    # a second draft save merges into the first
    merged = _draft(parent, survey.pk, {"format": 0}).json()
    assert merged["answers"] == {"satisfaction": 2, "format": 0} and merged["step"] == 1

    # when it submits without a required answer: refused, naming the question's key
    refused = _submit(parent, survey.pk)
    assert refused.status_code == 400, refused.content
    assert refused.json()["code"] == "answer_required"
    assert "recommend" in refused.json()["fields"]
    # and an answer out of its scale names its key too
    out_of_scale = _submit(parent, survey.pk, {**ANSWERS, "satisfaction": 7})
    assert out_of_scale.status_code == 400
    assert list(out_of_scale.json()["fields"]) == ["satisfaction"]
    assert not Participation.objects.filter(survey=survey).exists()

    # when it submits the rest
    done = _submit(parent, survey.pk, {"recommend": 9, "why_low": "时间太晚了"})

    # then it is answered once, named, the draft gone, and the lists say so
    assert done.status_code == 201, done.content
    assert done.json()["survey_id"] == survey.pk and not done.json()["is_anonymous"]
    assert Participation.objects.filter(survey=survey, family=world.attended).count() == 1
    response = Response.objects.get(survey=survey)
    assert response.family_id == world.attended.pk
    assert {a.question.key for a in response.answers.all()} >= {"satisfaction", "why_low"}
    assert not Draft.objects.filter(survey=survey, family=world.attended).exists()
    assert parent.get(f"{API}/").json()["items"] == []
    answered = parent.get(f"{API}/?state=answered").json()["items"]
    assert [(c["id"], c["answered"]) for c in answered] == [(survey.pk, True)]


def test_answering_twice_is_refused_from_any_token_or_guardian_of_the_family(world, survey, parent):
    # given the family answered through the API
    assert _submit(parent, survey.pk, ANSWERS).status_code == 201

    # when it submits again, with the same token, a new one (signed in again), or
    # the family's other guardian's
    again = _submit(parent, survey.pk, ANSWERS)
    new_token = _submit(_client(world.attended_parent), survey.pk, ANSWERS)
    other_guardian = _client(world.second_parent)
    from_the_other = _submit(other_guardian, survey.pk, ANSWERS)

    # then every one is refused with already_answered, and nothing more is written
    for refused in (again, new_token, from_the_other):
        assert refused.status_code == 400, refused.content
        assert refused.json()["code"] == "already_answered"
        assert "已经填写过" in refused.json()["message"]
    assert Participation.objects.filter(survey=survey).count() == 1
    assert Response.objects.filter(survey=survey).count() == 1
    # the other guardian neither sees it open nor gets the sheet or a draft
    assert other_guardian.get(f"{API}/").json()["items"] == []
    assert other_guardian.get(f"{API}/{survey.pk}").json()["code"] == "already_answered"
    assert _draft(other_guardian, survey.pk, {"satisfaction": 1}).status_code == 400
    assert not Draft.objects.filter(survey=survey).exists()


def test_a_draft_saved_through_the_api_is_submitted_on_the_page_and_the_api_then_refuses(
    world, survey, parent
):
    # given one guardian's answers saved as a draft through the API
    saved = _draft(parent, survey.pk, ANSWERS, step=5)
    assert saved.status_code == 200, saved.content

    # when the other guardian signs in on the website and submits the family's draft
    page = Client()
    page.force_login(world.second_parent)
    submitted = page.post(f"/surveys/{survey.pk}/review/")

    # then the family has answered, with the draft's answers, and the API refuses more
    assert submitted.status_code == 302, submitted.content
    assert submitted["Location"].endswith(f"/surveys/{survey.pk}/done/")
    response = Response.objects.get(survey=survey, family=world.attended)
    assert response.submitted_by == world.second_parent
    assert response.answers.filter(question__key="suggestion").get().text == ANSWERS["suggestion"]
    again = _submit(parent, survey.pk, ANSWERS)
    assert again.status_code == 400 and again.json()["code"] == "already_answered"
    # a session on the API (the website's own sign-in) is refused alike
    session_api = _send(page, "POST", f"{API}/{survey.pk}/submit", {"answers": ANSWERS})
    assert session_api.status_code == 400 and session_api.json()["code"] == "already_answered"
    assert Participation.objects.filter(survey=survey).count() == 1


def test_a_retry_with_the_same_key_gets_the_first_answer_and_no_second_participation(
    world, survey, parent
):
    # given a submission sent with an Idempotency-Key
    key = {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}
    first = _submit(parent, survey.pk, ANSWERS, **key)
    assert first.status_code == 201, first.content

    # when the network drops the answer and the client sends it again
    retry = _submit(parent, survey.pk, ANSWERS, **key)

    # then it gets the first answer, replayed, and the family answered once
    assert retry.status_code == 201
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert Participation.objects.filter(survey=survey).count() == 1
    assert Response.objects.filter(survey=survey).count() == 1
    # the same key for a different body is refused; a new key is already_answered
    reused = _submit(parent, survey.pk, {**ANSWERS, "satisfaction": 4}, **key)
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"
    fresh = _submit(parent, survey.pk, ANSWERS, HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
    assert fresh.json()["code"] == "already_answered"


def test_a_family_that_did_not_attend_gets_the_missing_surveys_404(world, survey):
    # given the family marked absent and one with no booking at all
    missing = _client(world.attended_parent).get(f"{API}/{MISSING_ID}")
    assert missing.status_code == 404 and missing.json()["code"] == "survey_missing"
    for parent in (world.absent_parent, world.stranger_parent):
        client = _client(parent)
        # then the survey is not in its list, and every operation is the missing id's 404
        assert client.get(f"{API}/").json()["items"] == []
        answers = (
            client.get(f"{API}/{survey.pk}"),
            _draft(client, survey.pk, {"satisfaction": 5}),
            _submit(client, survey.pk, ANSWERS),
        )
        for answer in answers:
            assert answer.status_code == 404, answer.content
            assert answer.json() == missing.json()
    assert not Participation.objects.filter(survey=survey).exists()
    assert not Draft.objects.filter(survey=survey).exists()


def test_foreign_and_unpublished_survey_ids_are_404(world, survey, parent):
    # given an event the family did not attend, another session's survey and a draft survey
    event_survey = session_survey(world, offering=world.event_offering)
    other_session = ended_session(world.course, hours_ago=5)
    attend(world.attended2, other_session.offering)
    foreign = session_survey(world, offering=other_session.offering)
    unpublished = session_survey(world, is_published=False, title="未发布的问卷")
    attend(world.attended, world.event_offering, attendance="absent")
    missing = parent.get(f"{API}/{MISSING_ID}").json()
    for other in (event_survey, foreign, unpublished):
        # when the family names it
        for answer in (
            parent.get(f"{API}/{other.pk}"),
            _draft(parent, other.pk, {"satisfaction": 5}),
            _submit(parent, other.pk, ANSWERS),
        ):
            # then it is not there for this family, exactly like a missing id
            assert answer.status_code == 404, (other.title, answer.content)
            assert answer.json() == missing
    assert [c["id"] for c in parent.get(f"{API}/").json()["items"]] == [survey.pk]
    assert not Participation.objects.filter(family=world.attended).exists()


def test_an_anonymous_survey_keeps_the_answer_apart_from_the_family(world, parent):
    # given an anonymous survey of the session
    anonymous = session_survey(world, is_anonymous=True, title="匿名课后问卷")
    sheet = parent.get(f"{API}/{anonymous.pk}").json()
    assert sheet["is_anonymous"]

    # when the family submits it
    done = _submit(parent, anonymous.pk, ANSWERS)

    # then that it answered is recorded, what it answered waits sealed with no family
    assert done.status_code == 201, done.content
    assert done.json()["is_anonymous"] and "匿名" in done.json()["message"]
    assert Participation.objects.filter(survey=anonymous, family=world.attended).exists()
    assert not Response.objects.filter(survey=anonymous, family__isnull=False).exists()
    assert PendingResponse.objects.filter(survey=anonymous).count() == 1
    assert _submit(parent, anonymous.pk, ANSWERS).json()["code"] == "already_answered"


def test_scopes_devices_and_callers_without_a_family(world, survey):
    read_only = _client(world.attended_parent, scopes=("read",))
    assert read_only.get(f"{API}/{survey.pk}").status_code == 200
    refused = _submit(read_only, survey.pk, ANSWERS)
    assert refused.status_code == 403 and refused.json()["code"] == "scope_missing"
    assert _draft(read_only, survey.pk, {"satisfaction": 5}).status_code == 403
    device = _client(world.unit_coordinator, scopes=("checkin",), unit=world.school)
    assert device.get(f"{API}/").json()["code"] == "device_forbidden"
    no_family = _client(UserFactory())
    assert no_family.get(f"{API}/").json()["code"] == "no_family"
    assert Client().get(f"{API}/").status_code == 401
    assert not Participation.objects.exists()


def test_bad_bodies_are_422_naming_the_field(world, survey, parent):
    bad_step = _draft(parent, survey.pk, {"satisfaction": 5}, step=-1)
    assert bad_step.status_code == 422 and "step" in bad_step.json()["fields"]
    bad_value = _submit(parent, survey.pk, {"satisfaction": {"nested": 1}})
    assert bad_value.status_code == 422
    assert any(name.startswith("answers") for name in bad_value.json()["fields"])
    nul = _submit(parent, survey.pk, {**ANSWERS, "suggestion": "a\x00b"})
    assert nul.status_code == 422
    unknown = _submit(parent, survey.pk, {**ANSWERS, "no_such_question": 1})
    assert unknown.status_code == 400 and unknown.json()["fields"]
    not_json = parent.post(f"{API}/{survey.pk}/submit", "{", content_type="application/json")
    assert not_json.status_code in (400, 422)
    assert not Participation.objects.exists()


def _counted(client, url) -> tuple[int, list]:
    """(queries, items) of one list request; counted at once (each request resets
    the connection's query log, so a captured context is read before the next)."""
    with CaptureQueriesContext(connection) as queries:
        items = client.get(url).json()["items"]
    return len(queries), items


def test_the_list_takes_the_same_queries_for_one_survey_or_several(world, survey, parent):
    # given the list with one open survey
    parent.get(f"{API}/")  # a first call warms what is cached per process
    one, items = _counted(parent, f"{API}/")
    assert len(items) == 1

    # when three more are open (another session, the event, the parent school's term)
    other_session = ended_session(world.course, hours_ago=6)
    attend(world.attended, other_session.offering)
    attend(world.attended, world.event_offering)
    session_survey(world, offering=other_session.offering)
    session_survey(world, offering=world.event_offering)
    term_survey(world)
    four, items = _counted(parent, f"{API}/")

    # then they are listed, soonest closing first, with no more queries
    assert len(items) == 4
    closing = [dt.datetime.fromisoformat(c["closes_at"]) for c in items]
    assert closing == sorted(closing)
    assert four == one
    print(f"queries: the open list {one} for one survey, {four} for four")

    # and the answered list alike: one answered, then four
    assert _submit(parent, survey.pk, ANSWERS).status_code == 201
    answered_one, answered = _counted(parent, f"{API}/?state=answered")
    assert len(answered) == 1
    for card in (c for c in items if c["id"] != survey.pk):
        assert _submit(parent, card["id"], ANSWERS).status_code == 201, card
    answered_four, answered = _counted(parent, f"{API}/?state=answered")
    assert len(answered) == 4
    assert answered_four == answered_one
    print(f"queries: the answered list {answered_one} for one, {answered_four} for four")


def test_the_list_pages_by_cursor(world, survey, parent):
    for hours in (4, 5, 6):
        other = ended_session(world.course, hours_ago=hours)
        attend(world.attended, other.offering)
        session_survey(world, offering=other.offering)
    first = parent.get(f"{API}/?limit=3").json()
    assert len(first["items"]) == 3 and first["next_cursor"]
    second = parent.get(f"{API}/?limit=3&cursor={first['next_cursor']}").json()
    assert len(second["items"]) == 1 and second["next_cursor"] is None
    ids = [c["id"] for c in first["items"] + second["items"]]
    assert len(set(ids)) == 4
    wrong = parent.get(f"{API}/?state=answered&cursor={first['next_cursor']}")
    assert wrong.status_code == 400 and wrong.json()["code"] == "bad_cursor"


def test_the_schema_holds_the_four_operations():
    paths = api.get_openapi_schema()["paths"]
    operations = {
        (method.upper(), path.removeprefix("/api/v1"))
        for path, methods in paths.items()
        for method in methods
        if path.startswith("/api/v1/surveys")
    }
    assert operations == {
        ("GET", "/surveys/"),
        ("GET", "/surveys/{survey_id}"),
        ("PUT", "/surveys/{survey_id}/draft"),
        ("POST", "/surveys/{survey_id}/submit"),
    }
    submit = paths["/api/v1/surveys/{survey_id}/submit"]["post"]
    assert {201, 400, 404} <= {int(code) for code in submit["responses"]}


@pytest.mark.django_db(transaction=True)
def test_two_guardians_submitting_at_the_same_instant_leave_one_answer():
    from tests.races import run_together

    # given both guardians of a family that attended, each with a token
    world = build_world()
    survey = session_survey(world)
    clients = [_client(world.attended_parent), _client(world.second_parent)]

    # when both submit at once, meeting just before the participation is written
    outcome = run_together(
        [lambda c=c: _submit(c, survey.pk, ANSWERS) for c in clients],
        meet_before_write=["surveys_participation"],
    )

    # then one is answered and the other told already_answered; one answer is kept
    assert outcome.errors == [] and outcome.met == 2
    statuses = sorted(r.status_code for r in outcome.results)
    assert statuses == [201, 400]
    refused = next(r for r in outcome.results if r.status_code == 400)
    assert refused.json()["code"] == "already_answered"
    assert Participation.objects.filter(survey=survey).count() == 1
    assert Response.objects.filter(survey=survey).count() == 1
