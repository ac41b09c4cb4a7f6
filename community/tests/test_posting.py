"""Posting through community.services on PostgreSQL: boards made on first use,
threads and replies, what holds a post, who may post, the snapshots shown."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from community import services
from community.errors import CommunityError
from community.models import Board, BoardProfile, Post, PostImage, Thread
from community.tests.factories import MuteFactory, SensitiveWordFactory
from groups.models import Group
from members.tests.factories import AllianceFactory, MemberUnitFactory
from parent_school.tests.factories import ParentSchoolFactory

pytestmark = pytest.mark.django_db

QUESTION = "孩子写作业总拖拉怎么办"
BODY = "三年级，每天晚上写作业要到十点，大家有什么好办法吗？"


def _words(*rows):
    from community.filtering import wordlist_bump

    for word, category in rows:
        SensitiveWordFactory(word=word, category=category)
    wordlist_bump()


def _ask(user, board, **fields):
    values = {"kind": "question", "title": QUESTION, "body": BODY} | fields
    return services.thread_create(user=user, board_id=board.pk, **values)


def _jpeg(size=(3000, 2000), exif=None) -> SimpleUploadedFile:
    out = io.BytesIO()
    image = Image.new("RGB", size, (200, 120, 40))
    image.save(out, format="JPEG", exif=exif or Image.Exif())
    return SimpleUploadedFile("小雨点的作业.jpg", out.getvalue(), content_type="image/jpeg")


# --- boards ------------------------------------------------------------------------


def test_boards_are_made_once_on_first_use_with_their_owners_unit(board_world):
    w = board_world
    school = ParentSchoolFactory(name="溪口镇社区家长学校", host_unit=w.school)
    board = services.board_for_school(school)
    assert (board.kind, board.unit_id, board.title) == (
        "school",
        w.school.pk,
        "溪口镇社区家长学校交流区",
    )
    assert services.board_for_school(school).pk == board.pk
    assert services.board_for_school(w.parent_school).pk == w.board.pk
    assert services.board_for_alliance(w.alliance).pk == w.alliance_board.pk
    assert services.board_for_alliance(AllianceFactory()) is None  # no base unit
    assert services.board_for_group(w.group).pk == w.group_board.pk


def test_a_dissolved_groups_board_is_made_archived(board_world):
    w = board_world
    group = Group.objects.create(
        kind="family",
        name="已解散的小组",
        parent_school=w.parent_school,
        facilitator=w.instructor,
        facilitator_role="instructor",
        status="dissolved",
        dissolved_at=timezone.now(),
    )
    board = services.board_for_group(group)
    assert board.is_archived and board.parent_school_id == w.parent_school.pk
    assert board.unit_id == w.school.pk


def test_boards_ensure_for_makes_the_familys_and_staffs_boards_once(
    board_world, django_assert_max_num_queries
):
    w = board_world
    Board.objects.filter(pk__in=[w.board.pk, w.alliance_board.pk]).delete()
    services.boards_ensure_for(w.mum.user)
    assert Board.objects.filter(kind="school", parent_school=w.parent_school).count() == 1
    assert Board.objects.filter(kind="alliance", alliance=w.alliance).count() == 1
    # a new parent school at a unit the coordinator sees
    second = ParentSchoolFactory(host_unit=w.school)
    services.boards_ensure_for(w.coordinator)
    assert Board.objects.filter(kind="school", parent_school=second).exists()
    w.mum.user._community_family = w.mum.family  # the family is known (cached per request)
    with django_assert_max_num_queries(1):
        services.boards_ensure_for(w.mum.user)


def test_board_settings_only_by_its_moderators_and_audited(board_world):
    from members.models import AuditLog

    w = board_world
    board = services.board_settings_update(
        user=w.coordinator, board_id=w.board.pk, hold_first_posts=2
    )
    assert board.hold_first_posts == 2
    assert AuditLog.objects.filter(action="community.board.settings").count() == 1
    for user in (w.instructor, w.mum.user):
        with pytest.raises(CommunityError) as refused:
            services.board_settings_update(user=user, board_id=w.board.pk, hold_first_posts=0)
        assert refused.value.code == "not_allowed"
    with pytest.raises(CommunityError) as refused:
        services.board_settings_update(
            user=w.other_coordinator, board_id=w.board.pk, hold_first_posts=0
        )
    assert refused.value.code == "board_missing"
    with pytest.raises(CommunityError) as refused:
        services.board_settings_update(
            user=w.coordinator, board_id=w.board.pk, hold_first_posts="x"
        )
    assert refused.value.field == "hold_first_posts"


# --- posting -----------------------------------------------------------------------


def test_a_family_posts_under_its_nickname_and_school_never_a_phone_or_child(board_world):
    w = board_world
    thread = _ask(w.mum.user, w.board)
    post = thread.opening_post
    assert thread.status == post.status == Post.Status.PUBLISHED
    nickname = BoardProfile.objects.get(family=w.mum.family).nickname
    assert post.author_name == nickname and nickname.startswith("家长")
    assert post.author_school == w.parent_school.name
    assert post.author_role == "family" and post.author_family == w.mum.family
    for secret in w.secrets():
        assert secret not in f"{post.author_name}{post.author_school}"
    assert thread.published_at and thread.reply_count == 0


def test_staff_post_in_their_role_on_each_board(board_world):
    w = board_world
    thread = _ask(w.mum.user, w.board)
    answer = services.reply_create(user=w.instructor, thread_id=thread.pk, body="先定个小闹钟。")
    assert (answer.author_role, answer.author_name) == ("instructor", "吴老师（讲师）")
    assert answer.author_family is None
    on_group = services.thread_create(
        user=w.instructor,
        board_id=w.group_board.pk,
        kind="sharing",
        title="本周阅读书单",
        body="《窗边的小豆豆》",
    )
    assert on_group.opening_post.author_role == "facilitator"
    notice = services.thread_create(
        user=w.alliance_coordinator,
        board_id=w.alliance_board.pk,
        kind="announcement",
        title="寒假亲子活动通知",
        body="详见附件。",
    )
    assert notice.opening_post.author_role == "coordinator"
    assert notice.opening_post.author_school == w.alliance.name


def test_replies_count_only_when_published_and_the_first_staff_reply_is_kept(board_world):
    w = board_world
    thread = _ask(w.mum.user, w.board)
    services.reply_create(user=w.dad.user, thread_id=thread.pk, body="我家也这样。")
    thread.refresh_from_db()
    assert thread.reply_count == 1 and thread.first_staff_reply_at is None
    staff = services.reply_create(user=w.instructor, thread_id=thread.pk, body="可以试试番茄钟。")
    services.reply_create(user=w.coordinator, thread_id=thread.pk, body="学校下周有讲座。")
    thread.refresh_from_db()
    assert thread.reply_count == 3
    assert thread.first_staff_reply_at == staff.published_at
    assert thread.last_activity_at >= staff.published_at


def test_who_may_not_post(board_world):
    w = board_world

    def refused(code, user, board, **fields):
        with pytest.raises(CommunityError) as error:
            _ask(user, board, **fields)
        assert error.value.code == code, error.value.code

    refused("phone_unverified", w.unverified.user, w.board)
    refused("board_missing", w.outsider.user, w.board)
    refused("board_missing", w.dad.user, w.group_board)  # not a member
    refused("announcements_only", w.mum.user, w.alliance_board)
    refused("announcement_moderators", w.mum.user, w.board, kind="announcement")
    refused("kind_invalid", w.mum.user, w.board, kind="poll")
    refused("title_length", w.mum.user, w.board, title="求助")
    refused("title_length", w.mum.user, w.board, title="长" * 81)
    refused("body_empty", w.mum.user, w.board, body="  \n ")
    refused("body_too_long", w.mum.user, w.board, body="字" * 5001)
    refused("control_chars", w.mum.user, w.board, body="你好\x00")
    refused("control_chars", w.mum.user, w.board, title="你好\x1b[31m标题")
    Board.objects.filter(pk=w.group_board.pk).update(is_archived=True)
    refused("board_archived", w.instructor, w.group_board)
    assert not Thread.objects.exists()


def test_a_muted_family_may_not_post_until_the_mute_ends(board_world):
    w = board_world
    until = timezone.now() + timezone.timedelta(days=2)
    MuteFactory(family=w.mum.family, parent_school=w.parent_school, until=until)
    with pytest.raises(CommunityError) as error:
        _ask(w.mum.user, w.board)
    assert (
        error.value.code == "muted"
        and timezone.localtime(until).strftime("%Y-%m-%d") in error.value.message
    )
    # a school's mute covers its groups' boards too
    with pytest.raises(CommunityError):
        services.thread_create(
            user=w.mum.user,
            board_id=w.group_board.pk,
            kind="sharing",
            title="周末一起读书",
            body="好",
        )
    later = timezone.now() + timezone.timedelta(days=3)
    assert (
        services.thread_create(
            user=w.mum.user,
            board_id=w.board.pk,
            kind="question",
            title=QUESTION,
            body=BODY,
            now=later,
        ).opening_post.status
        == "published"
    )


def test_closed_threads_take_replies_from_moderators_only(board_world):
    w = board_world
    thread = _ask(w.mum.user, w.board)
    services.thread_close(user=w.coordinator, thread_id=thread.pk, closed=True)
    with pytest.raises(CommunityError) as error:
        services.reply_create(user=w.dad.user, thread_id=thread.pk, body="还有问题")
    assert error.value.code == "thread_closed"
    services.reply_create(user=w.coordinator, thread_id=thread.pk, body="本帖已解决，关闭。")
    with pytest.raises(CommunityError) as error:
        services.thread_close(user=w.instructor, thread_id=thread.pk, closed=False)
    assert error.value.code == "not_allowed"


# --- holding -----------------------------------------------------------------------


def test_a_listed_word_holds_the_post_even_in_pinyin_and_the_author_is_told_politely(
    board_world,
):
    w = board_world
    _words(("刷单", "fraud"), ("加微信", "ads"))
    thread = _ask(w.mum.user, w.board, body="有没有人一起shua dan赚零花钱")
    post = thread.opening_post
    assert (thread.status, post.status, post.held_for) == ("held", "held", "sensitive")
    assert post.matched_categories == "fraud"
    message = services.held_message(post)
    assert "审核" in message and "刷单" not in message and "shua" not in message
    reply_target = _ask(w.dad.user, w.board)
    reply = services.reply_create(
        user=w.mum.user, thread_id=reply_target.pk, body="可以加 微 信 聊"
    )
    assert reply.status == "held" and reply.matched_categories == "ads"
    reply_target.refresh_from_db()
    assert reply_target.reply_count == 0
    # a moderator's post is published at once, the categories recorded for the log
    staff = _ask(w.coordinator, w.board, body="警惕刷单诈骗")
    assert staff.opening_post.status == "published"
    assert staff.opening_post.matched_categories == "fraud"


def test_a_new_familys_first_posts_are_held_where_the_board_says_so(board_world):
    w = board_world
    services.board_settings_update(user=w.coordinator, board_id=w.board.pk, hold_first_posts=1)
    first = _ask(w.dad.user, w.board)
    assert (first.opening_post.status, first.opening_post.held_for) == ("held", "new_member")
    services.post_decide(user=w.coordinator, post_id=first.opening_post.pk, action="approve")
    second = _ask(w.dad.user, w.board, title="第二个问题请教大家")
    assert second.opening_post.status == "published"
    # staff are not "new members"
    assert _ask(w.instructor, w.board).opening_post.status == "published"


def test_nobody_replies_to_a_held_thread_but_its_author_sees_it(board_world):
    w = board_world
    _words(("刷单", "fraud"))
    thread = _ask(w.mum.user, w.board, body="刷单")
    with pytest.raises(CommunityError) as error:
        services.reply_create(user=w.dad.user, thread_id=thread.pk, body="？")
    assert error.value.code == "thread_missing"
    with pytest.raises(CommunityError) as error:
        services.reply_create(user=w.mum.user, thread_id=thread.pk, body="补充")
    assert error.value.code == "thread_held"


# --- pictures ----------------------------------------------------------------------


def test_pictures_are_cleaned_resized_and_renamed(board_world, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    w = board_world
    exif = Image.Exif()
    exif[0x010F] = "PhoneMakerXYZ"
    thread = _ask(w.mum.user, w.board, images=[_jpeg(exif=exif), _jpeg(size=(400, 300))])
    images = list(PostImage.objects.filter(post=thread.opening_post))
    assert [(i.width, i.height) for i in images] == [(1600, 1067), (400, 300)]
    for image in images:
        data = (tmp_path / image.image.name).read_bytes()
        assert b"PhoneMakerXYZ" not in data and b"Exif" not in data
        assert "小雨点" not in image.image.name


def test_bad_pictures_are_refused_naming_the_field_and_nothing_is_written(
    board_world, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    w = board_world
    not_image = SimpleUploadedFile("a.jpg", b"not a picture", content_type="image/jpeg")
    for images, code in (
        ([not_image], "image_not_image"),
        ([_jpeg(size=(100, 100))] * 5, "too_many_images"),
    ):
        with pytest.raises(CommunityError) as error:
            _ask(w.mum.user, w.board, images=images)
        assert (error.value.code, error.value.field) == (code, "images")
    settings.COMMUNITY_IMAGE_MAX_BYTES = 1024
    with pytest.raises(CommunityError) as error:
        _ask(w.mum.user, w.board, images=[_jpeg()])
    assert error.value.code == "image_too_large"
    assert not Thread.objects.exists() and not PostImage.objects.exists()
    assert not any(tmp_path.rglob("*.jpg"))


# --- nicknames ---------------------------------------------------------------------


def test_nickname_rules(board_world):
    from members.models import AuditLog

    w = board_world
    profile = services.nickname_set(user=w.mum.user, nickname=" 雨点妈妈 ")
    assert profile.nickname == "雨点妈妈"
    assert AuditLog.objects.filter(action="community.nickname.change").count() == 1
    _words(("刷单", "fraud"))
    for nickname, code in (
        ("我", "nickname_length"),
        ("一" * 13, "nickname_length"),
        ("妈妈138 1234", "nickname_digits"),
        ("妈妈１３８１２", "nickname_digits"),
        ("王老师", "nickname_reserved"),
        ("官方客服", "nickname_reserved"),
        ("刷单达人", "nickname_sensitive"),
        ("雨点\x00", "control_chars"),
    ):
        with pytest.raises(CommunityError) as error:
            services.nickname_set(user=w.dad.user, nickname=nickname)
        assert (error.value.code, error.value.field) == (code, "nickname"), nickname
    with pytest.raises(CommunityError) as error:
        services.nickname_set(user=w.dad.user, nickname="雨点妈妈")
    assert error.value.code == "nickname_taken"
    with pytest.raises(CommunityError) as error:
        services.nickname_set(user=w.coordinator, nickname="周主任")
    assert error.value.code == "no_family"
    # the snapshot: posts keep the nickname they were posted under
    thread = _ask(w.mum.user, w.board)
    services.nickname_set(user=w.mum.user, nickname="小雨的家")
    thread.opening_post.refresh_from_db()
    assert thread.opening_post.author_name == "雨点妈妈"


def test_other_boards_and_units_are_unchanged_by_board_creation(board_world):
    before = Board.objects.count()
    services.board_for_school(ParentSchoolFactory(host_unit=MemberUnitFactory()))
    assert Board.objects.count() == before + 1


def test_dissolving_a_group_archives_its_board_in_the_same_transaction(board_world):
    from django.db import transaction

    from groups.signals import group_dissolved

    w = board_world
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            group_dissolved.send(sender=Group, group=w.group)
            assert Board.objects.get(pk=w.group_board.pk).is_archived
            raise RuntimeError("the dissolution fails")
    assert not Board.objects.get(pk=w.group_board.pk).is_archived
    group_dissolved.send(sender=Group, group=w.group)
    board = Board.objects.get(pk=w.group_board.pk)
    assert board.is_archived and board.archived_at
    with pytest.raises(CommunityError) as error:
        services.reply_create(user=w.instructor, thread_id=0, body="x")
    assert error.value.code == "thread_missing"


class ReviewEverything:
    """A cloud check that asks a person to look at every text (the interface of
    community.content_check.ContentChecker)."""

    seen: list = []

    def check(self, *, text, user):
        from community.content_check import Verdict

        ReviewEverything.seen.append((text, user.pk))
        return Verdict("review", "广告")


def test_the_cloud_checks_review_holds_a_post_but_not_a_moderators(board_world, settings):
    w = board_world
    settings.COMMUNITY_CONTENT_CHECK = f"{__name__}.ReviewEverything"
    ReviewEverything.seen = []
    held = _ask(w.mum.user, w.board)
    assert (held.opening_post.status, held.opening_post.held_for) == ("held", "cloud")
    assert ReviewEverything.seen == [(f"{QUESTION}\n{BODY}", w.mum.user.pk)]
    assert _ask(w.coordinator, w.board).opening_post.status == "published"
    assert len(ReviewEverything.seen) == 1  # moderators are not sent to the cloud
    settings.COMMUNITY_CONTENT_CHECK = ""
    assert _ask(w.dad.user, w.board).opening_post.status == "published"
