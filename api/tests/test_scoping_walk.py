"""Every API operation, walked with another family's and another unit's ids.

Side A (a family, its unit's coordinator and the unit's check-in device) calls
every operation in the API's schema; for each id the operation takes (in its
path, its query or its body) one request names side B's thing instead of A's,
the other ids staying A's. An id of a family's or a unit's own thing (a child,
a booking, a notice, a token, a ticket, a staff member's offering…) must then be
refused, 403 or 404, as the pages refuse it (members/access.py); never a 200
with B's data, never a 500. Ids of public things (a course, a session, an event
a parent may book) may be B's. Nothing of B's may change, and no answer may
hold B's private details.

Every operation has a rule in ACCESS, so a new endpoint without one fails here.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from dataclasses import dataclass

import pytest
from django.test import Client

from api.core import api
from api.tests.api_world import Side, fresh_token, make_side
from members.services import api_token_revoke

pytestmark = pytest.mark.django_db

PUBLIC = "anyone: public data, any id may be another unit's"
FAMILY = "a signed-in person: ids of family or account things must be their own"
STAFF = "a unit's staff or device: every id must be of their own unit"
ENTRY = "signing in or binding an account: names no one else's things"

# "METHOD path" (the path after /api/v1) → rule.
ACCESS = {
    "GET /me": FAMILY,
    "GET /catalogue/courses": PUBLIC,
    "GET /catalogue/courses/{course_id}": PUBLIC,
    "GET /catalogue/sessions/{session_id}": PUBLIC,
    "GET /certificates": FAMILY,
    "POST /certificates/transcript": FAMILY,
    "GET /certificates/{certificate_id}": FAMILY,
    "GET /certificates/{certificate_id}/pdf": FAMILY,
    "GET /certificates/{certificate_id}/credential": FAMILY,
    "GET /certificates/{certificate_id}/transcript.json": FAMILY,
    "GET /community/boards": FAMILY,
    "GET /community/boards/{board_id}/threads": FAMILY,
    "POST /community/boards/{board_id}/threads": FAMILY,
    "GET /community/threads/{thread_id}": FAMILY,
    "POST /community/threads/{thread_id}/replies": FAMILY,
    "POST /community/threads/{thread_id}/accept": FAMILY,
    "POST /community/posts/{post_id}/reports": FAMILY,
    "GET /groups": FAMILY,
    "GET /groups/{group_id}": FAMILY,
    "POST /groups/{group_id}/join": FAMILY,
    "POST /groups/{group_id}/leave": FAMILY,
    "GET /groups/{group_id}/sessions": FAMILY,
    "POST /groups/sessions/{group_session_id}/booking": FAMILY,
    "GET /guidance/stations": PUBLIC,
    "GET /guidance/stations/{station_id}": PUBLIC,
    "GET /guidance/stations/{station_id}/mentors": PUBLIC,
    "GET /guidance/mentors/{mentor_id}": PUBLIC,
    "GET /guidance/mentors/{mentor_id}/slots": PUBLIC,
    "GET /guidance/consultations": FAMILY,
    "POST /guidance/consultations": FAMILY,
    "GET /guidance/consultations/{consultation_id}": FAMILY,
    "POST /guidance/consultations/{consultation_id}/cancel": FAMILY,
    "GET /learning/": FAMILY,
    "POST /learning/bookings": FAMILY,
    "GET /learning/bookings/{booking_id}": FAMILY,
    "POST /learning/bookings/{booking_id}/cancel": FAMILY,
    "GET /events/": PUBLIC,
    "GET /events/{event_id}": PUBLIC,
    "POST /events/{event_id}/registration": FAMILY,
    "POST /events/{event_id}/registration/cancel": FAMILY,
    "GET /family": FAMILY,
    "POST /family": FAMILY,
    "GET /family/consent": FAMILY,
    "POST /family/consent": FAMILY,
    "POST /family/children": FAMILY,
    "GET /family/children/{child_id}": FAMILY,
    "PATCH /family/children/{child_id}": FAMILY,
    "DELETE /family/children/{child_id}": FAMILY,
    "GET /family/calendar-feed": FAMILY,
    "POST /family/calendar-feed/renew": FAMILY,
    "GET /handbook/": FAMILY,
    "GET /handbook/progress/": FAMILY,
    "GET /handbook/claims/": FAMILY,
    "POST /handbook/claims/": FAMILY,
    "GET /handbook/claims/{claim_id}/": FAMILY,
    "POST /handbook/claims/{claim_id}/withdraw/": FAMILY,
    "POST /handbook/claims/{claim_id}/respond/": FAMILY,
    "GET /handbook/learning-family/": FAMILY,
    "GET /handbook/review/": STAFF,
    "GET /handbook/review/{claim_id}/": STAFF,
    "POST /handbook/review/{claim_id}/decision/": STAFF,
    "POST /handbook/review/bulk-approve/": STAFF,
    "GET /notifications": FAMILY,
    "GET /notifications/unread-count": FAMILY,
    "POST /notifications/{notification_id}/read": FAMILY,
    "POST /notifications/read-all": FAMILY,
    "GET /notifications/preferences": FAMILY,
    "PUT /notifications/preferences": FAMILY,
    "DELETE /notifications/preferences": FAMILY,
    "GET /staff/sessions": STAFF,
    "GET /staff/events": STAFF,
    "GET /staff/offerings/{offering_id}/roster": STAFF,
    "POST /staff/offerings/{offering_id}/roster/reveal": STAFF,
    "POST /staff/offerings/{offering_id}/attendance": STAFF,
    "POST /staff/offerings/{offering_id}/attendance/bulk": STAFF,
    "POST /staff/checkin": STAFF,
    "GET /surveys/": FAMILY,
    "GET /surveys/{survey_id}": FAMILY,
    "PUT /surveys/{survey_id}/draft": FAMILY,
    "POST /surveys/{survey_id}/submit": FAMILY,
    "GET /tokens/": FAMILY,
    "POST /tokens/": FAMILY,
    "POST /tokens/{token_id}/revoke": FAMILY,
    "POST /wechat/login": ENTRY,
    "POST /wechat/phone/code": ENTRY,
    "POST /wechat/phone/bind": ENTRY,
    "GET /wechat/subscriptions": FAMILY,
    "POST /wechat/subscriptions": FAMILY,
}

# Ids of things anyone may name: under a FAMILY rule a parent may book another
# unit's session or event. Under STAFF no id is public (a roster is the unit's).
PUBLIC_IDS = {
    "course_id",
    "session_id",
    "offering_id",
    "event_id",
    "school_id",
    "parent_school_id",
    "home_community_id",
    # A handbook item is no secret (the handbook is printed); whether a family may
    # claim it is the service's rule (its children's schools' alliance), which the
    # walk's own changes to A's child may move: tested in test_handbook_api.py.
    "item_id",
    # The guidance stations, their mentors and free slots are public; any family
    # may book any station's slot (the consultation and the referral are its own).
    "station_id",
    "mentor_id",
    "slot_id",
}
REFUSED = {403, 404}
# An id that names nothing, for every id parameter (a ticket code that checks out as none).
MISSING = defaultdict(lambda: [2**31 - 2], code=["0000000"])
PRINCIPALS = ("parent", "staff", "device")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # after /api/v1, with {name} placeholders
    path_params: tuple[str, ...]
    query: dict  # name → parameter schema
    body: dict | None  # the request body's JSON schema, $refs resolved

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def _resolve(node, components: dict):
    if isinstance(node, dict):
        if "$ref" in node:
            return _resolve(components[node["$ref"].rsplit("/", 1)[-1]], components)
        return {name: _resolve(value, components) for name, value in node.items()}
    if isinstance(node, list):
        return [_resolve(item, components) for item in node]
    return node


def schema_operations() -> list[Operation]:
    schema = api.get_openapi_schema()
    components = schema.get("components", {}).get("schemas", {})
    prefix = "/api/v1"
    found = []
    for path, methods in schema["paths"].items():
        for method, op in methods.items():
            params = op.get("parameters", [])
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            found.append(
                Operation(
                    method=method.upper(),
                    path=path.removeprefix(prefix),
                    path_params=tuple(p["name"] for p in params if p["in"] == "path"),
                    query={p["name"]: p for p in params if p["in"] == "query"},
                    body=_resolve(body["schema"], components) if body else None,
                )
            )
    return found


def _simple_value(schema: dict):
    """A plain valid value for a non-id field (the walk is about ids, not validation)."""
    for options in ("anyOf", "oneOf", "allOf"):
        if options in schema:
            choices = [s for s in schema[options] if s.get("type") != "null"]
            return _simple_value(choices[0] if choices else {})
    if "enum" in schema:
        return schema["enum"][0]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    kind = schema.get("type")
    if kind == "string":
        return {
            "date": "2026-12-24",
            "time": "21:00:00",
            "date-time": "2026-12-24T10:00:00+08:00",
        }.get(schema.get("format", ""), "测试")
    if kind == "integer":
        return max(schema.get("minimum", 1), 1)
    if kind == "number":
        return 1
    if kind == "boolean":
        return True
    if kind == "array":
        item = _simple_value(schema.get("items", {}))
        return [item] if schema.get("minItems", 0) or item is not None else []
    if kind == "object":
        return {
            name: _simple_value(prop)
            for name, prop in schema.get("properties", {}).items()
            if name in schema.get("required", [])
        }
    return None


def _id_fields(op: Operation, known: dict) -> list[tuple[str, str]]:
    """(where, name) of every id the operation takes: path, query or body."""
    fields = [("path", name) for name in op.path_params]
    fields += [("query", name) for name in op.query if name in known]
    if op.body:
        fields += [("body", name) for name in op.body.get("properties", {}) if name in known]
    return fields


def _request(op: Operation, ids: dict, *, foreign: tuple[str, str] | None, a: dict, b: dict):
    """The URL, query and body with A's ids, except ``foreign`` (B's id, the ``ids``
    alternative given)."""

    def value(where, name):
        side = b if foreign == (where, name) else a
        chosen = side[name][ids.get(name, 0) % len(side[name])]
        return [chosen] if name.endswith("_ids") else chosen

    path = op.path
    for name in op.path_params:
        path = path.replace("{" + name + "}", str(value("path", name)))
    query = {name: value("query", name) for name in op.query if name in a}
    for name, param in op.query.items():
        if name not in query and param.get("required"):
            query[name] = _simple_value(param.get("schema", {}))
    body = None
    if op.body is not None:
        body = _simple_value(op.body) or {}
        for name in op.body.get("properties", {}):
            if name in a:
                body[name] = value("body", name)
    return "/api/v1" + path, query, body


def _call(client: Client, op: Operation, key: str | None, url: str, query: dict, body):
    headers = {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}
    if key:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    if query:
        url += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    if body is None:
        return client.generic(op.method, url, **headers)
    return client.generic(
        op.method, url, json.dumps(body), content_type="application/json", **headers
    )


def _readable(response) -> str:
    """The answer as a person reads it: JSON escapes Chinese (\\u4e59), so decode it."""
    try:
        return json.dumps(response.json(), ensure_ascii=False)
    except ValueError:
        if response.streaming:  # a file (a certificate's PDF)
            return b"".join(response.streaming_content).decode(errors="replace")
        return response.content.decode(errors="replace")


def _same(response, other) -> bool:
    """The same refusal: status and error code (the message may name the id)."""

    def code(r):
        try:
            return r.json().get("code")
        except ValueError:
            return None

    return response.status_code == other.status_code and code(response) == code(other)


def _fingerprint(side: Side) -> tuple:
    """What of B's could be changed through the API."""
    from bookings.models import Booking
    from members.models import ApiToken, Child
    from notifications.models import Notification

    family = side.family
    return (
        sorted(Child.objects.filter(family=family).values_list("pk", "nickname", "birth_year")),
        sorted(
            Booking.objects.filter(family=family).values_list(
                "pk", "status", "attendance", "party_size"
            )
        ),
        sorted(Booking.objects.filter(family=family).values_list("attendees__pk")),
        list(Notification.objects.filter(user=side.guardian.user).values_list("pk", "read_at")),
        sorted(
            ApiToken.objects.filter(user__in=[side.guardian.user, side.staff]).values_list(
                "pk", "revoked_at"
            )
        ),
        list(type(side.feed).objects.filter(family=family).values_list("token", "revoked_at")),
        _preferences(side),
        _claims(side),
        _surveys(side),
        _board(side),
        _group(side),
        _guidance(side),
        _certificates(side),
    )


def _certificates(side: Side) -> list:
    from certificates.models import Certificate

    return list(
        Certificate.objects.filter(family=side.family)
        .order_by("pk")
        .values_list("pk", "status", "superseded_by_id", "pdf")
    )


def _guidance(side: Side) -> list:
    from guidance.models import Consultation, GuidanceQuota, Note, Referral

    family = side.family
    return [
        list(
            Consultation.objects.filter(family=family)
            .order_by("pk")
            .values_list("pk", "status", "need_sealed")
        ),
        list(
            Referral.objects.filter(consultation__family=family)
            .order_by("pk")
            .values_list("pk", "status")
        ),
        list(
            Note.objects.filter(consultation__family=family)
            .order_by("pk")
            .values_list("pk", "body", "body_sealed")
        ),
        sorted(GuidanceQuota.objects.filter(family=family).values_list("key", "used")),
    ]


def _board(side: Side) -> list:
    from community.models import Post, Report, Thread

    threads = Thread.objects.filter(board=side.board).order_by("pk")
    posts = Post.objects.filter(board=side.board).order_by("pk")
    return [
        list(
            threads.values_list(
                "pk", "status", "reply_count", "accepted_post_id", "is_pinned", "is_closed"
            )
        ),
        list(posts.values_list("pk", "status", "body", "report_count")),
        list(Report.objects.filter(post__board=side.board).values_list("pk")),
    ]


def _group(side: Side) -> list:
    from bookings.models import Booking
    from groups.models import Group, GroupMembership

    return [
        list(Group.objects.filter(pk=side.group.pk).values_list("status", "member_count")),
        list(
            GroupMembership.objects.filter(group=side.group)
            .order_by("pk")
            .values_list("pk", "family_id", "status")
        ),
        list(
            Booking.objects.filter(offering_id=side.group_session.offering_id).values_list(
                "pk", "status"
            )
        ),
    ]


def _surveys(side: Side) -> list:
    from surveys.models import Draft, Participation, Response

    family = side.family
    return [
        list(Participation.objects.filter(family=family).values_list("pk", "survey_id")),
        list(Draft.objects.filter(family=family).values_list("pk", "sealed_answers", "step")),
        list(Response.objects.filter(family=family).values_list("pk")),
    ]


def _claims(side: Side) -> list:
    from handbook.models import Claim, ClaimTally

    claims = Claim.objects.filter(family=side.family).order_by("pk")
    tallies = ClaimTally.objects.filter(family=side.family).order_by("pk")
    return [
        list(claims.values_list("pk", "status", "points", "note", "decision_reason", "photo")),
        list(tallies.values_list("pk", "used")),
    ]


def _preferences(side: Side) -> list:
    from notifications.models import NotificationPreference

    return list(NotificationPreference.objects.filter(user=side.guardian.user).values_list())


@pytest.fixture
def world(settings):
    settings.API_RATE_PER_TOKEN = 1_000_000
    settings.API_RATE_PER_IP = 1_000_000
    a = make_side("甲", "13911110001")
    b = make_side("乙", "13922220002")
    return a, b


def test_every_operation_has_an_access_rule():
    keys = {op.key for op in schema_operations()}
    assert keys == set(ACCESS), {
        "operations without a rule (add them to ACCESS)": sorted(keys - set(ACCESS)),
        "rules without an operation": sorted(set(ACCESS) - keys),
    }


def test_every_operation_refuses_another_familys_and_another_units_ids(world):
    # given side A's three callers and side B's world
    a, b = world
    a_ids, b_ids = a.ids(), b.ids()
    before = _fingerprint(b)
    client = Client()
    problems: list[str] = []
    walked = 0
    for op in schema_operations():
        rule = ACCESS.get(op.key)
        if rule is None:
            problems.append(f"{op.key}: give it a rule in ACCESS")
            continue
        named = [*op.path_params, *op.query, *(op.body or {}).get("properties", {})]
        unknown = [
            n
            for n in named
            if n not in a_ids and (n in op.path_params or n.endswith(("_id", "_ids")))
        ]
        assert not unknown, f"{op.key}: teach api_world.Side.ids the parameters {unknown}"
        fields = [] if rule == ENTRY else _id_fields(op, a_ids)
        # one request per id field and per alternative (an offering: a session's or an event's)
        variants = [
            (field, {field[1]: i}) for field in fields for i in range(len(b_ids[field[1]]))
        ] or [(None, {})]
        for principal in PRINCIPALS:
            for foreign, alternative in variants:
                url, query, body = _request(op, alternative, foreign=foreign, a=a_ids, b=b_ids)
                # when A's caller asks with one of B's ids
                token, key = fresh_token(a, principal)
                response = _call(client, op, key, url, query, body)
                api_token_revoke(token=token, actor=token.user)
                walked += 1
                where = f"{op.key} as {principal} with B's {foreign}: {response.status_code}"
                text = _readable(response)
                # then: never a 500, never B's private details, and a private id refused
                if response.status_code >= 500:
                    problems.append(f"{where} (server error)")
                leaked = [secret for secret in b.secrets if secret in text]
                if leaked:
                    problems.append(f"{where} shows B's {leaked}")
                private = foreign is not None and (
                    rule == STAFF or (rule in (FAMILY, ENTRY) and foreign[1] not in PUBLIC_IDS)
                )
                if private and response.status_code not in REFUSED:
                    # A rule error that a missing id gets too (400 "只能为本家庭成员报名",
                    # 400 "请先完善家庭信息" for a caller without a family) refuses
                    # just as well: it tells nothing of B's thing and does nothing to it.
                    token, key = fresh_token(a, principal)
                    url, query, body = _request(
                        op, alternative, foreign=foreign, a=a_ids, b=MISSING
                    )
                    missing = _call(client, op, key, url, query, body)
                    api_token_revoke(token=token, actor=token.user)
                    if not (400 <= response.status_code < 500 and _same(response, missing)):
                        problems.append(f"{where} (not refused) {text[:200]}")
    assert not problems, "\n".join(problems)
    assert walked >= len(ACCESS) * len(PRINCIPALS)
    # and nothing of B's changed
    assert _fingerprint(b) == before


def test_anonymous_callers_get_only_public_operations(world):
    a, _ = world
    a_ids = a.ids()
    client = Client()
    for op in schema_operations():
        url, query, body = _request(op, {}, foreign=None, a=a_ids, b=a_ids)
        response = _call(client, op, None, url, query, body)
        assert response.status_code < 500, op.key
        if ACCESS[op.key] in (FAMILY, STAFF) and op.key != "GET /me":
            assert response.status_code == 401, (op.key, response.status_code)
