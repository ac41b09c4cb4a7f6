"""No page or API answer shows a poster's phone or a child's name to another family
(issue 16, "Done when" #3), walked over every board and group page as another family.

The world (community/tests/world.py) is filled through the real services: 陈妈妈
(mum) asks a question on her school's board and posts on her group's board,
another family and an instructor reply, one of her posts is held for a listed
word, one is hidden by the coordinator, one carries a picture; she brings her
child into a 学伴 group and books its session; a group she was in is dissolved
(its board archived). Another school's family posts on its own board.

Then, as **another family of the same school** (李爸爸, not in mum's groups) and as
**a family of another school** (王妈妈), every ``community:`` and ``groups:`` URL in
the resolver is requested with the id of every seeded row its parameters name,
and every GET of ``/api/v1/community`` and ``/api/v1/groups`` in the API's schema
likewise. The walk is built from the resolver and the schema when it runs, so a
page or endpoint added later is walked too; a parameter it has no ids for fails
the test (give it ids below) instead of being skipped. For every answer:

- no other family's phone (whole or masked), child's nickname or real name;
- never a 500;
- a board, thread, group, group session, booking, membership, post or picture
  the visitor may not read is refused: the reading pages (a board, a thread, a
  group's board, a group, a group session) answer 404; any other page 403, 404 or
  405 (a POST-only action asked with GET) or a redirect; an API answer 403 or 404;
- and nothing changes (GETs only).
"""

from __future__ import annotations

import datetime
import itertools
import json
from types import SimpleNamespace

import pytest
from django.core.cache import cache
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from api.core import api
from bookings.models import Booking
from community import selectors as community_selectors
from community import services as community_services
from community.models import Board, Post, PostImage, Report, Thread
from community.tests.factories import PostImageFactory, SensitiveWordFactory
from community.tests.world import build_world
from groups import selectors as group_selectors
from groups import services as group_services
from groups.models import Group, GroupMembership, GroupSession
from members.privacy import mask_phone
from members.tests.factories import ApiTokenFactory

pytestmark = pytest.mark.django_db

NAMESPACES = ("community", "groups")
API_PREFIXES = ("/community", "/groups")
# The pages a family reads a thing on: a foreign id there is a plain 404.
READING_PAGES = {
    "community:board",
    "community:thread",
    "community:group_board",
    "groups:detail",
    "groups:session",
}
REFUSED_PAGE = {302, 403, 404, 405}
REFUSED_API = {403, 404}


# --- the world ---------------------------------------------------------------------------


def _seed(settings, tmp_path) -> SimpleNamespace:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.API_RATE_PER_TOKEN = settings.API_RATE_PER_IP = 100_000
    cache.clear()
    w = build_world()
    mum, dad, outsider = w.mum, w.dad, w.outsider
    now = timezone.now()
    SensitiveWordFactory(word="加微信", category="ads")

    # mum's question on her school's board, answered by another family and the instructor
    question = community_services.thread_create(
        user=mum.user,
        board_id=w.board.pk,
        kind="question",
        title="孩子写作业拖拉怎么办",
        body="我家孩子每天写作业到很晚，大家有什么办法？",
    )
    community_services.reply_create(user=dad.user, thread_id=question.pk, body="可以试试番茄钟。")
    answer = community_services.reply_create(
        user=w.instructor, thread_id=question.pk, body="先和孩子一起定好每天的作业时间。"
    )
    community_services.answer_accept(user=mum.user, thread_id=question.pk, post_id=answer.pk)
    own_reply = community_services.reply_create(
        user=mum.user, thread_id=question.pk, body="谢谢老师，我们试试。"
    )
    PostImageFactory(post=own_reply)
    # held for a listed word: only mum and the moderators see it
    held = community_services.thread_create(
        user=mum.user,
        board_id=w.board.pk,
        kind="sharing",
        title="一个学习资料分享",
        body="需要资料的可以加微信找我",
    )
    # hidden by the coordinator after a report
    hidden = community_services.thread_create(
        user=mum.user,
        board_id=w.board.pk,
        kind="sharing",
        title="周末去哪里玩",
        body="推荐一个公园",
    )
    community_services.report_create(
        user=dad.user, post_id=_opening(hidden).pk, reason=Report.Reason.OTHER
    )
    community_services.post_decide(
        user=w.coordinator, post_id=_opening(hidden).pk, action="hide", reason="与主题无关"
    )
    # mum's family group board (she is its only member)
    group_board = community_services.board_for_group(w.group)
    community_services.thread_create(
        user=mum.user,
        board_id=group_board.pk,
        kind="sharing",
        title="这周的共读书目",
        body="我们读了《小王子》。",
    )

    # a 学伴 group with mum's child in it, and its session booked for her child
    study = group_services.group_create(
        user=w.coordinator,
        parent_school_id=w.parent_school.pk,
        kind=Group.Kind.STUDY,
        name="三年级学伴小组",
        facilitator_id=w.instructor.pk,
        facilitator_role=Group.FacilitatorRole.INSTRUCTOR,
        min_size=2,
        max_size=6,
        joining=Group.Joining.OPEN,
    )
    group_services.group_join(user=mum.user, group_id=study.pk, child_id=w.mum_child.pk)
    session = group_services.group_session_create(
        user=w.instructor,
        group_id=study.pk,
        title="学伴小组周末活动",
        starts_at=now + datetime.timedelta(days=4),
        ends_at=now + datetime.timedelta(days=4, hours=2),
        capacity=10,
        venue="社区书房",
    )
    group_services.group_session_book(
        user=mum.user,
        session_id=session.pk,
        guardian_ids=[mum.pk],
        child_ids=[w.mum_child.pk],
    )
    study_board = community_services.board_for_group(study)
    community_services.thread_create(
        user=mum.user,
        board_id=study_board.pk,
        kind="question",
        title="学伴活动带什么",
        body="第一次参加，需要带什么吗？",
    )

    # a group mum was in, dissolved: its board archived, hers and the facilitator's
    former = group_services.group_create(
        user=w.coordinator,
        parent_school_id=w.parent_school.pk,
        kind=Group.Kind.FAMILY,
        name="已解散的家伴小组",
        facilitator_id=w.instructor.pk,
        facilitator_role=Group.FacilitatorRole.INSTRUCTOR,
        min_size=2,
        max_size=6,
        joining=Group.Joining.OPEN,
    )
    group_services.group_join(user=mum.user, group_id=former.pk)
    former_board = community_services.board_for_group(former)
    community_services.thread_create(
        user=mum.user,
        board_id=former_board.pk,
        kind="sharing",
        title="小组最后一次活动",
        body="谢谢大家这学期的陪伴。",
    )
    group_services.group_dissolve(user=w.coordinator, group_id=former.pk, reason="学期结束")

    # the other school's family on its own board
    community_services.thread_create(
        user=outsider.user,
        board_id=w.other_board.pk,
        kind="question",
        title="渝中的家长提问",
        body="孩子不爱读书怎么办？",
    )
    w.held, w.hidden, w.study, w.former = held, hidden, study, former
    return w


def _opening(thread: Thread) -> Post:
    return Post.objects.get(thread=thread, is_opening=True)


def _ids() -> dict[str, list[int]]:
    """Every seeded row, by the URL or API parameter that names it."""
    groups = list(Group.objects.values_list("pk", flat=True))
    sessions = list(GroupSession.objects.values_list("pk", flat=True))
    return {
        "board_id": list(Board.objects.values_list("pk", flat=True)),
        "thread_id": list(Thread.objects.values_list("pk", flat=True)),
        "post_id": list(Post.objects.values_list("pk", flat=True)),
        "image_id": list(PostImage.objects.values_list("pk", flat=True)),
        "group_id": groups,
        "session_id": sessions,
        "group_session_id": sessions,
        "booking_id": list(Booking.objects.values_list("pk", flat=True)),
        "membership_id": list(GroupMembership.objects.values_list("pk", flat=True)),
    }


# --- what a visitor may not see or open ------------------------------------------------


def _secrets(w, visitor) -> list[str]:
    """Other families' phones (whole and masked), children's nicknames, real names."""
    found = []
    for guardian in (w.mum, w.dad, w.outsider, w.unverified):
        if guardian.family_id == visitor.family_id:
            continue
        phone = guardian.user.phone
        found += [phone, mask_phone(phone), guardian.user.display_name]
        found += [child.nickname for child in guardian.family.children.all()]
    return [s for s in found if s]


def _foreign(visitor, name: str, pk: int) -> bool:
    """Is the row ``pk`` named by parameter ``name`` one the visitor may not open?"""
    user, family = visitor.user, visitor.family
    if name == "board_id":
        return community_selectors.board_readable(user, pk) is None
    if name == "thread_id":
        return community_selectors.thread_readable(user, pk) is None
    if name in ("post_id", "image_id"):
        post = (
            Post.objects.get(pk=pk)
            if name == "post_id"
            else PostImage.objects.select_related("post").get(pk=pk).post
        )
        if community_selectors.thread_readable(user, post.thread_id) is None:
            return True
        return post.status != Post.Status.PUBLISHED and post.author_family_id != family.pk
    if name == "group_id":
        group = Group.objects.get(pk=pk)
        if group_selectors.member_group_ids(family).filter(group_id=pk).exists():
            return False
        if group_selectors.former_group_ids(family).filter(group_id=pk).exists():
            return False
        at_school = group_selectors.family_parent_school_ids(family).filter(
            pk=group.parent_school_id
        )
        return not (group.is_active and at_school.exists())
    if name in ("session_id", "group_session_id"):
        group_id = GroupSession.objects.get(pk=pk).group_id
        return not group_selectors.member_group_ids(family).filter(group_id=group_id).exists()
    if name == "booking_id":
        return Booking.objects.get(pk=pk).family_id != family.pk
    if name == "membership_id":
        return GroupMembership.objects.get(pk=pk).family_id != family.pk
    raise AssertionError(f"the walk has no rule for {name!r}: add it to _foreign and _ids")


def _group_board_foreign(visitor, group_id: int) -> bool:
    # A group's board: its members, and once dissolved its former members.
    family = visitor.family
    return not (
        group_selectors.member_group_ids(family).filter(group_id=group_id).exists()
        or group_selectors.former_group_ids(family).filter(group_id=group_id).exists()
    )


# --- the walk ---------------------------------------------------------------------------


def _routes(patterns=None, namespace=""):
    """(URL name, parameter names) of every route in the walked namespaces."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _routes(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            name = f"{namespace}{pattern.name}"
            if name.split(":")[0] in NAMESPACES:
                yield name, tuple(pattern.pattern.converters)


def _fingerprint():
    return (
        sorted(Post.objects.values_list("pk", "status", "report_count")),
        sorted(Thread.objects.values_list("pk", "status", "is_pinned", "is_closed", "reply_count")),
        sorted(GroupMembership.objects.values_list("pk", "status")),
        sorted(Booking.objects.values_list("pk", "status")),
        sorted(Board.objects.values_list("pk", "is_archived", "hold_first_posts")),
        Report.objects.count(),
    )


def _body(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    if response.get("Content-Type", "").startswith("application/json"):
        # JSON escapes non-ASCII (\u9648…): read it back, so a name is seen as written
        return json.dumps(json.loads(content), ensure_ascii=False)
    return content.decode(errors="replace")


@pytest.fixture
def walk_world(settings, tmp_path):
    return _seed(settings, tmp_path)


@pytest.mark.parametrize("visitor_name", ["dad", "outsider"])
def test_no_board_or_group_page_shows_another_familys_phone_or_child(
    client, walk_world, visitor_name
):
    # given another family of the same school, or a family of another school
    w = walk_world
    visitor = getattr(w, visitor_name)
    client.force_login(visitor.user)
    secrets = _secrets(w, visitor)
    ids = _ids()
    routes = sorted(set(_routes()))
    assert {"community:board", "community:thread", "groups:detail"} <= {r for r, _ in routes}
    before = _fingerprint()
    problems: list[str] = []
    requested = refused = 0

    # when every community: and groups: page is opened with every seeded id
    for name, params in routes:
        missing = [p for p in params if p not in ids]
        assert not missing, f"{name}: the walk has no ids for {missing} (add them to _ids)"
        for values in itertools.product(*(ids[p] for p in params)):
            kwargs = dict(zip(params, values, strict=True))
            url = reverse(name, kwargs=kwargs)
            response = client.get(url)
            requested += 1
            status = response.status_code
            where = f"{name} {kwargs} → {status}"
            # then never a 500, never another family's phone, child or real name
            if status >= 500:
                problems.append(f"{where}: server error")
                continue
            body = _body(response)
            location = response.get("Location", "")
            problems += [f"{where}: shows {s!r}" for s in secrets if s in body or s in location]
            # and a thing the visitor may not open is refused
            foreign = any(_foreign(visitor, p, v) for p, v in kwargs.items())
            if name == "community:group_board":
                foreign = _group_board_foreign(visitor, kwargs["group_id"])
            if not foreign:
                continue
            refused += 1
            if name in READING_PAGES and status != 404:
                problems.append(f"{where}: a foreign id must be 404")
            elif status not in REFUSED_PAGE:
                problems.append(f"{where}: a foreign id must be refused")

    assert requested > 50 and refused > 20, (requested, refused)
    assert problems == [], "\n".join(problems)
    # and nothing changed
    assert _fingerprint() == before


def _api_get_operations() -> list[tuple[str, tuple[str, ...], dict]]:
    """(path after /api/v1, path parameters, query parameters) of the walked GETs."""
    schema = api.get_openapi_schema()
    found = []
    for path, methods in schema["paths"].items():
        short = path.removeprefix("/api/v1")
        if not short.startswith(API_PREFIXES) or "get" not in methods:
            continue
        params = methods["get"].get("parameters", [])
        path_params = tuple(p["name"] for p in params if p["in"] == "path")
        query = {p["name"]: p for p in params if p["in"] == "query"}
        found.append((short, path_params, query))
    return sorted(found)


def _query_value(param: dict):
    schema = param.get("schema", {})
    if schema.get("type") == "integer":
        return max(schema.get("minimum", 1), 1)
    return "作业"


@pytest.mark.parametrize("visitor_name", ["dad", "outsider"])
def test_no_community_or_groups_api_answer_shows_another_familys_phone_or_child(
    client, walk_world, visitor_name
):
    w = walk_world
    visitor = getattr(w, visitor_name)
    _token, key = ApiTokenFactory.create(user=visitor.user, scopes=("read", "write"))
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    secrets = _secrets(w, visitor)
    ids = _ids()
    operations = _api_get_operations()
    before = _fingerprint()
    problems: list[str] = []
    requested = refused = 0

    for path, path_params, query in operations:
        missing = [p for p in path_params if p not in ids]
        assert not missing, f"GET {path}: the walk has no ids for {missing} (add them to _ids)"
        for values in itertools.product(*(ids[p] for p in path_params)):
            kwargs = dict(zip(path_params, values, strict=True))
            url = "/api/v1" + path
            for name, value in kwargs.items():
                url = url.replace("{" + name + "}", str(value))
            # ids in the query are walked one by one; other required ones get a plain value
            variants = [{}]
            for name, param in query.items():
                if name in ids:
                    variants = [{**v, name: pk} for v in variants for pk in ids[name]]
                elif param.get("required"):
                    variants = [{**v, name: _query_value(param)} for v in variants]
            for params in variants:
                response = client.get(url, params, **headers)
                requested += 1
                status = response.status_code
                where = f"GET {url} {params} → {status}"
                if status >= 500:
                    problems.append(f"{where}: server error")
                    continue
                body = _body(response)
                problems += [f"{where}: shows {s!r}" for s in secrets if s in body]
                named = {**kwargs, **{k: v for k, v in params.items() if k in ids}}
                if any(_foreign(visitor, p, v) for p, v in named.items()):
                    refused += 1
                    if status not in REFUSED_API:
                        problems.append(f"{where}: a foreign id must be 403 or 404")

    assert requested > 10 and refused > 5, (requested, refused)
    assert problems == [], "\n".join(problems)
    assert _fingerprint() == before


def test_the_walk_sees_what_a_member_sees(client, walk_world):
    # the control: mum herself is shown her own threads and her group's board, so
    # the 404s above are the rules at work, not pages that show nothing to anyone
    w = walk_world
    client.force_login(w.mum.user)
    question = Thread.objects.get(title="孩子写作业拖拉怎么办")
    page = client.get(reverse("community:thread", kwargs={"thread_id": question.pk}))
    assert page.status_code == 200 and "先和孩子一起定好每天的作业时间" in _body(page)
    group_page = client.get(
        reverse("community:group_board", kwargs={"group_id": w.group.pk}), follow=True
    )
    assert group_page.status_code == 200 and "这周的共读书目" in _body(group_page)
    held = client.get(reverse("community:thread", kwargs={"thread_id": w.held.pk}))
    assert held.status_code == 200
    # and the other family reads the published question, but never the held one
    client.force_login(w.dad.user)
    page = client.get(reverse("community:thread", kwargs={"thread_id": question.pk}))
    assert page.status_code == 200 and "先和孩子一起定好每天的作业时间" in _body(page)
    held = client.get(reverse("community:thread", kwargs={"thread_id": w.held.pk}))
    assert held.status_code == 404
