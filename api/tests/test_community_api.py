"""The board 互助交流 through the API: a parent lists the boards she may read, posts
a question, another family of the school reads it (nickname and school, never a
phone or a child's name) and reports it, an instructor answers and the asking
family accepts the answer; a held post is seen by its author only, with the polite
sentence; another school's board, thread and post are the same 404 as a missing
id; writes need the ``write`` scope and replay under one ``Idempotency-Key``; the
lists take the same queries for 5 or 50 rows."""

from __future__ import annotations

import json
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from community import services
from community.models import Board, Post, Report, Thread
from community.tests.factories import PostFactory, ThreadFactory
from community.tests.world import build_world
from members.tests.factories import ApiTokenFactory
from parent_school.tests.factories import ParentSchoolFactory

pytestmark = pytest.mark.django_db

API = "/api/v1/community"
MISSING_ID = 2**31 - 2
# Measured (docs/API.md): a board's thread list is the token's lookup, the family,
# the staff check, the readable board, the threads, their opening posts and whether
# the caller moderates; a thread page the same with its posts and their pictures.
THREAD_LIST_MAX_QUERIES = 7
THREAD_PAGE_MAX_QUERIES = 7


def _client(user, scopes=("read", "write")):
    _, raw = ApiTokenFactory.create(user=user, scopes=scopes)
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def _post(client, url, body, **headers):
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


def _text(response) -> str:
    return json.dumps(response.json(), ensure_ascii=False)


def _ask(client, board, title="孩子晚上不肯睡觉怎么办", body="孩子三年级，每天拖到十一点。"):
    return _post(
        client,
        f"{API}/boards/{board.pk}/threads",
        {"kind": "question", "title": title, "body": body},
    )


@pytest.fixture(autouse=True)
def _no_rate_limits(settings):
    settings.API_RATE_PER_TOKEN = 1_000_000
    settings.API_RATE_PER_IP = 1_000_000


@pytest.fixture
def world(db):
    return build_world()


def test_a_parent_lists_the_boards_she_may_read(world):
    # given the mother of a child at the school, a member of its group
    mum = _client(world.mum.user)

    # when she lists her boards
    answer = mum.get(f"{API}/boards")

    # then her school's board, her group's and the alliance's announcements, no other
    assert answer.status_code == 200, answer.content
    ids = {b["id"] for b in answer.json()["items"]}
    assert {world.board.pk, world.group_board.pk, world.alliance_board.pk} <= ids
    assert world.other_board.pk not in ids
    by_id = {b["id"]: b for b in answer.json()["items"]}
    assert by_id[world.group_board.pk]["group_id"] == world.group.pk
    assert by_id[world.board.pk]["school"] == world.parent_school.name
    assert not any(b["can_moderate"] for b in by_id.values())
    # and the coordinator moderates the school's board
    coordinator = _client(world.coordinator).get(f"{API}/boards").json()["items"]
    assert {b["id"]: b["can_moderate"] for b in coordinator}[world.board.pk] is True


def test_a_question_is_posted_read_by_another_family_answered_and_accepted(world):
    mum, dad = _client(world.mum.user), _client(world.dad.user)
    instructor = _client(world.instructor)

    # when the mother asks a question on her school's board
    asked = _ask(mum, world.board)

    # then it is published under her board nickname and the school
    assert asked.status_code == 201, asked.content
    body = asked.json()
    assert body["held"] is False and body["post"]["status"] == "published"
    nickname = world.mum.family.board_profile.nickname
    assert body["post"]["author"] == {
        "name": nickname,
        "school": world.parent_school.name,
        "role": "family",
        "role_label": "家长",
        "is_staff": False,
    }
    thread_id = body["thread_id"]

    # when another family of the school lists the board and opens the thread
    listed = dad.get(f"{API}/boards/{world.board.pk}/threads")
    page = dad.get(f"{API}/threads/{thread_id}")

    # then both show the nickname and the school, never a phone or a child's name
    assert listed.status_code == 200 and page.status_code == 200, (listed.content, page.content)
    card = listed.json()["items"][0]
    assert card["id"] == thread_id and card["author"]["name"] == nickname
    assert card["mine"] is False and card["kind"] == "question"
    for text in (_text(listed), _text(page)):
        for secret in world.secrets():
            assert secret not in text
    assert page.json()["posts"][0]["is_opening"] is True
    assert page.json()["thread"]["can_accept"] is False

    # when the instructor answers and the asking family accepts the answer
    answered = _post(
        instructor, f"{API}/threads/{thread_id}/replies", {"body": "睡前一小时关掉屏幕。"}
    )
    assert answered.status_code == 201, answered.content
    reply = answered.json()["post"]
    assert reply["author"]["role"] == "instructor" and reply["author"]["is_staff"] is True
    accepted = _post(mum, f"{API}/threads/{thread_id}/accept", {"post_id": reply["id"]})

    # then the thread shows the accepted answer, once
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["accepted"]["id"] == reply["id"]
    assert accepted.json()["reply_count"] == 1
    again = _post(mum, f"{API}/threads/{thread_id}/accept", {"post_id": reply["id"]})
    assert again.status_code == 200
    assert Thread.objects.get(pk=thread_id).accepted_post_id == reply["id"]
    page = dad.get(f"{API}/threads/{thread_id}").json()
    assert [p["is_accepted"] for p in page["posts"]] == [False, True]

    # and another family may not accept it
    refused = _post(dad, f"{API}/threads/{thread_id}/accept", {"post_id": reply["id"]})
    assert refused.status_code in (400, 404), refused.content


def test_a_held_post_is_seen_by_its_author_only_with_the_polite_sentence(world):
    # given a board whose first post of a new member is held
    Board.objects.filter(pk=world.board.pk).update(hold_first_posts=1)
    mum, dad = _client(world.mum.user), _client(world.dad.user)

    # when the mother posts
    asked = _ask(mum, world.board)

    # then it is held and she is told politely (never which rule held it)
    assert asked.status_code == 201, asked.content
    body = asked.json()
    assert body["held"] is True and body["post"]["status"] == "held"
    assert body["message"] == services.held_message(Post.objects.get(pk=body["post"]["id"]))
    thread_id = body["thread_id"]
    # she sees it on the board, marked held
    own = mum.get(f"{API}/boards/{world.board.pk}/threads").json()["items"]
    assert [(t["id"], t["status"], t["mine"]) for t in own] == [(thread_id, "held", True)]
    assert mum.get(f"{API}/threads/{thread_id}").status_code == 200

    # and another family sees nothing of it
    assert dad.get(f"{API}/boards/{world.board.pk}/threads").json()["items"] == []
    hidden = dad.get(f"{API}/threads/{thread_id}")
    assert hidden.status_code == 404 and hidden.json()["code"] == "thread_missing"
    # while the coordinator who moderates the board reads it
    assert _client(world.coordinator).get(f"{API}/threads/{thread_id}").status_code == 200


def test_another_schools_board_thread_and_post_are_the_same_404_as_missing_ones(world):
    # given a thread on the school's board
    thread = ThreadFactory(board=world.board, title="只给本校家长看的帖子")
    post = PostFactory(thread=thread, is_opening=True, body="本校的内容")
    outsider = _client(world.outsider.user)
    cases = [
        ("get", f"{API}/boards/{{}}/threads", world.board.pk, None),
        ("get", f"{API}/threads/{{}}", thread.pk, None),
        (
            "post",
            f"{API}/boards/{{}}/threads",
            world.board.pk,
            {"kind": "sharing", "title": "外校的帖子", "body": "内容"},
        ),
        ("post", f"{API}/threads/{{}}/replies", thread.pk, {"body": "外校的回复"}),
        ("post", f"{API}/posts/{{}}/reports", post.pk, {"reason": "ads"}),
        ("post", f"{API}/threads/{{}}/accept", thread.pk, {"post_id": post.pk}),
    ]
    for method, url, own_id, body in cases:
        # when a family of another school names it, and when it names a missing id
        if method == "get":
            foreign, missing = (
                outsider.get(url.format(own_id)),
                outsider.get(url.format(MISSING_ID)),
            )
        else:
            foreign = _post(outsider, url.format(own_id), body)
            missing = _post(outsider, url.format(MISSING_ID), body)
        # then both are the same 404
        assert foreign.status_code == 404, (url, foreign.content)
        assert (foreign.status_code, foreign.json()["code"]) == (
            missing.status_code,
            missing.json()["code"],
        ), url
        assert "本校" not in _text(foreign)
    # and nothing was written
    assert Post.objects.filter(thread=thread).count() == 1
    assert not Report.objects.exists()
    assert not Thread.objects.exclude(pk=thread.pk).exists()


def test_rules_are_refused_with_the_pages_sentence_and_field(world):
    mum = _client(world.mum.user)
    # a guardian whose phone is not verified may read but not post
    unverified = _ask(_client(world.unverified.user), world.board)
    assert unverified.status_code == 400, unverified.content
    assert unverified.json()["code"] == "phone_unverified"
    assert "验证手机号码" in unverified.json()["message"]
    # the alliance board takes announcements from its coordinators only
    announcement = _ask(mum, world.alliance_board)
    assert announcement.status_code == 400 and announcement.json()["code"] == "announcements_only"
    # a title too short names its field
    short = _ask(mum, world.board, title="求")
    assert short.status_code == 400, short.content
    assert "title" in short.json()["fields"]
    # a kind that does not exist does not fit the schema
    bad = _post(
        mum,
        f"{API}/boards/{world.board.pk}/threads",
        {"kind": "poll", "title": "四个字的", "body": "x"},
    )
    assert bad.status_code == 422 and "kind" in bad.json()["fields"]
    assert not Thread.objects.exists()


def test_reports_are_one_per_family(world):
    # given a published question of the mother's
    thread_id = _ask(_client(world.mum.user), world.board).json()["thread_id"]
    opening = Post.objects.get(thread_id=thread_id, is_opening=True)
    dad = _client(world.dad.user)

    # when another family reports it twice
    first = _post(dad, f"{API}/posts/{opening.pk}/reports", {"reason": "ads", "detail": "像是广告"})
    second = _post(dad, f"{API}/posts/{opening.pk}/reports", {"reason": "other"})

    # then one report is kept and counted
    assert first.status_code == 201 and second.status_code == 201, (first.content, second.content)
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["reason_label"] == "广告或引流"
    assert Report.objects.count() == 1
    opening.refresh_from_db()
    assert opening.report_count == 1


def test_writes_need_the_write_scope_and_replay_under_one_idempotency_key(world):
    reader = _client(world.mum.user, scopes=("read",))
    refused = _ask(reader, world.board)
    assert refused.status_code == 403 and refused.json()["code"] == "scope_missing"

    mum = _client(world.mum.user)
    key = str(uuid.uuid4())
    url = f"{API}/boards/{world.board.pk}/threads"
    body = {"kind": "sharing", "title": "周末亲子阅读的收获", "body": "推荐《窗边的小豆豆》。"}
    first = _post(mum, url, body, HTTP_IDEMPOTENCY_KEY=key)
    retried = _post(mum, url, body, HTTP_IDEMPOTENCY_KEY=key)
    assert first.status_code == retried.status_code == 201
    assert retried["Idempotent-Replayed"] == "true"
    assert retried.json() == first.json()
    assert Thread.objects.count() == 1


def test_a_family_that_leaves_the_group_no_longer_reads_its_board(world):
    from groups.services import group_leave

    # given the mother's thread on her group's board
    mum = _client(world.mum.user)
    asked = _ask(mum, world.group_board, title="下周读哪本书呢")
    assert asked.status_code == 201, asked.content
    thread_id = asked.json()["thread_id"]

    # when she leaves the group
    group_leave(user=world.mum.user, group_id=world.group.pk)

    # then the board and its threads are the same 404 as missing ones
    assert mum.get(f"{API}/boards/{world.group_board.pk}/threads").status_code == 404
    assert mum.get(f"{API}/threads/{thread_id}").status_code == 404
    ids = {b["id"] for b in mum.get(f"{API}/boards").json()["items"]}
    assert world.group_board.pk not in ids and world.board.pk in ids


def _queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        answer = client.get(url)
    assert answer.status_code == 200, answer.content
    return len(captured), answer.json()


def test_the_lists_take_the_same_queries_for_5_or_50_rows(world, django_assert_max_num_queries):
    dad = _client(world.dad.user)
    board = world.board
    dad.get(f"{API}/boards/{board.pk}/threads")  # the token's first use is marked once
    counts = []
    for n in (5, 50):
        # given the board with n threads, the first with n replies
        Thread.objects.filter(board=board).delete()
        threads = [ThreadFactory(board=board, title=f"话题{i}") for i in range(n)]
        for thread in threads:
            PostFactory(thread=thread, is_opening=True, author_name="昵称甲")
        for _ in range(n):
            PostFactory(thread=threads[0], author_name="昵称乙")
        # when another family reads the board and the thread
        board_queries, listed = _queries(dad, f"{API}/boards/{board.pk}/threads?limit=50")
        thread_queries, page = _queries(dad, f"{API}/threads/{threads[0].pk}?limit=50")
        assert len(listed["items"]) == n and len(page["posts"]) == min(n + 1, 50)
        counts.append((board_queries, thread_queries))
    # then the counts do not grow with the rows
    assert counts[0] == counts[1], counts
    with django_assert_max_num_queries(THREAD_LIST_MAX_QUERIES):
        dad.get(f"{API}/boards/{board.pk}/threads")
    with django_assert_max_num_queries(THREAD_PAGE_MAX_QUERIES):
        dad.get(f"{API}/threads/{threads[0].pk}")


def test_the_board_list_takes_the_same_queries_for_few_or_many_boards(world):
    admin = _client(world.district_admin)
    admin.get(f"{API}/boards")  # the school and alliance boards made when first needed
    counts = []
    for extra in (1, 10):
        for _ in range(extra):
            school = ParentSchoolFactory(host_unit=world.school)
            Board.objects.create(
                kind=Board.Kind.SCHOOL,
                parent_school=school,
                unit=world.school,
                title="另一个交流区",
            )
        with CaptureQueriesContext(connection) as captured:
            answer = admin.get(f"{API}/boards?limit=50")
        assert answer.status_code == 200, answer.content
        counts.append(len(captured))
    assert counts[0] == counts[1], counts


def test_a_question_with_a_listed_word_in_pinyin_is_held_approved_answered_and_accepted(world):
    from events.models import Delivery, Notice

    # given the district's word list with 刷单 (fraud)
    services.sensitive_word_save(user=world.district_admin, word="刷单", category="fraud")
    mum = _client(world.mum.user)

    # when the mother asks a question with the word written in pinyin
    asked = _ask(
        mum, world.board, title="有人问我要不要做兼职", body="群里有人说 shua dan 能赚钱，靠谱吗？"
    )

    # then it is held and she is told politely, without the word
    assert asked.status_code == 201, asked.content
    body = asked.json()
    assert body["held"] is True and "管理员审核" in body["message"]
    assert "刷单" not in body["message"] and "shua" not in body["message"]
    thread_id, post_id = body["thread_id"], body["post"]["id"]
    assert _client(world.dad.user).get(f"{API}/threads/{thread_id}").status_code == 404

    # when the school's coordinator approves it (the moderation queue's service)
    services.post_decide(user=world.coordinator, post_id=post_id, action="approve")

    # then other families read it; the instructor answers and marks the answer accepted
    assert _client(world.dad.user).get(f"{API}/threads/{thread_id}").status_code == 200
    instructor = _client(world.instructor)
    reply = _post(
        instructor, f"{API}/threads/{thread_id}/replies", {"body": "这是诈骗，千万别信。"}
    )
    assert reply.status_code == 201, reply.content
    for _ in range(2):
        accepted = _post(
            instructor, f"{API}/threads/{thread_id}/accept", {"post_id": reply.json()["post"]["id"]}
        )
        assert accepted.status_code == 200, accepted.content
    assert accepted.json()["accepted"]["author"]["role"] == "instructor"
    # and she is told of the acceptance once
    notices = Notice.objects.filter(key=f"community.accepted:{thread_id}")
    assert notices.count() == 1
    assert Delivery.objects.filter(notice__in=notices, user=world.mum.user).count() >= 1


def test_threads_page_pinned_first_then_latest_activity_by_cursor(world):
    import datetime as dt

    from django.utils import timezone

    # given three threads, the oldest one pinned, and a thread with three replies
    now = timezone.now()
    old, middle, new = (
        ThreadFactory(board=world.board, last_activity_at=now - dt.timedelta(hours=h))
        for h in (3, 2, 1)
    )
    Thread.objects.filter(pk=old.pk).update(is_pinned=True)
    for thread in (old, middle, new):
        PostFactory(thread=thread, is_opening=True)
    replies = [PostFactory(thread=new) for _ in range(3)]
    dad = _client(world.dad.user)

    # when another family pages through them two at a time
    first = dad.get(f"{API}/boards/{world.board.pk}/threads?limit=2").json()
    second = dad.get(
        f"{API}/boards/{world.board.pk}/threads?limit=2&cursor={first['next_cursor']}"
    ).json()

    # then the pinned one comes first, then the latest activity, each once
    assert [t["id"] for t in first["items"]] == [old.pk, new.pk]
    assert first["items"][0]["is_pinned"] is True
    assert [t["id"] for t in second["items"]] == [middle.pk] and second["next_cursor"] is None
    # and a thread's posts page oldest first, the cursor of one list refused by another
    page = dad.get(f"{API}/threads/{new.pk}?limit=2").json()
    rest = dad.get(f"{API}/threads/{new.pk}?limit=2&cursor={page['next_cursor']}").json()
    assert len(page["posts"]) == 2 and page["posts"][0]["is_opening"] is True
    assert [p["id"] for p in rest["posts"]] == [r.pk for r in replies[1:]]
    foreign = dad.get(f"{API}/threads/{middle.pk}?cursor={page['next_cursor']}")
    assert foreign.status_code == 400 and foreign.json()["code"] == "bad_cursor"


def _png(color=(200, 30, 30)) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), color).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_post_with_pictures_is_sent_as_a_form(world, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from community.models import PostImage

    settings.MEDIA_ROOT = tmp_path
    mum = _client(world.mum.user)
    url = f"{API}/boards/{world.board.pk}/threads"
    fields = {"kind": "sharing", "title": "孩子画的全家福", "body": "周末一起画的。"}

    # when the mother posts two pictures as a form
    posted = mum.post(
        url,
        {
            **fields,
            "images": [
                SimpleUploadedFile("小雨点.png", _png(), content_type="image/png"),
                SimpleUploadedFile("b.png", _png((0, 90, 200)), content_type="image/png"),
            ],
        },
    )

    # then the post has them, cleaned and renamed (never the uploaded name)
    assert posted.status_code == 201, posted.content
    assert posted.json()["post"]["image_count"] == 2
    images = PostImage.objects.filter(post_id=posted.json()["post"]["id"])
    assert images.count() == 2
    assert not any("小雨点" in image.image.name for image in images)
    # and a reply takes pictures the same way
    reply = mum.post(
        f"{API}/threads/{posted.json()['thread_id']}/replies",
        {
            "body": "再补一张",
            "images": [SimpleUploadedFile("c.png", _png(), content_type="image/png")],
        },
    )
    assert reply.status_code == 201 and reply.json()["post"]["image_count"] == 1

    # when a file is no picture, or the form misses a field
    bad = mum.post(url, {**fields, "images": [SimpleUploadedFile("a.png", b"not a picture")]})
    missing = mum.post(url, {"kind": "sharing", "body": "没有标题"})

    # then each is refused naming its field, and nothing more is written
    assert bad.status_code == 400 and bad.json()["code"] == "image_not_image", bad.content
    assert "images" in bad.json()["fields"]
    assert missing.status_code == 422 and "title" in missing.json()["fields"]
    assert Thread.objects.count() == 1 and PostImage.objects.count() == 3
