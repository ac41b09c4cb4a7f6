"""Reports and moderators' decisions through community.services (PostgreSQL):
one report per family, holding at COMMUNITY_REPORTS_HOLD, approve / hide / warn /
mute / dismiss, each audit-logged and told to the author once, who moderates where."""

from __future__ import annotations

import pytest
from django.utils import timezone

from community import selectors, services
from community.errors import CommunityError
from community.models import Decision, Mute, Post, Report
from community.tests.factories import SensitiveWordFactory
from events.models import Delivery, Notice
from groups.models import GroupMembership
from members.models import AuditLog
from members.tests.factories import GuardianFactory, UserFactory

pytestmark = pytest.mark.django_db


def _thread(user, board, body="孩子不爱吃蔬菜，怎么办？"):
    return services.thread_create(
        user=user, board_id=board.pk, kind="question", title="孩子挑食怎么办", body=body
    )


def _family_at(w, name):
    """Another verified family of the school."""
    from community.tests.world import _guardian

    guardian, _child = _guardian(name, school=w.school, child_name=f"{name}的孩子")
    return guardian


def _told(user, key_prefix):
    return Notice.objects.filter(key__startswith=key_prefix, deliveries__user=user).distinct()


def test_one_report_per_family_and_the_post_is_held_at_three(board_world, settings):
    w = board_world
    settings.COMMUNITY_REPORTS_HOLD = 3
    thread = _thread(w.mum.user, w.board)
    post = thread.opening_post
    first = services.report_create(user=w.dad.user, post_id=post.pk, reason="ads")
    # the same family again (a double tap, or the other guardian): the same report
    co_guardian = GuardianFactory(family=w.dad.family, user=UserFactory(phone_verified=True))
    assert services.report_create(user=co_guardian.user, post_id=post.pk, reason="abuse") == first
    assert services.report_create(user=w.dad.user, post_id=post.pk, reason="ads") == first
    post.refresh_from_db()
    assert post.report_count == 1 and post.status == "published"
    services.report_create(user=_family_at(w, "孙妈妈").user, post_id=post.pk, reason="ads")
    services.report_create(user=w.coordinator, post_id=post.pk, reason="other", detail="核实中")
    post.refresh_from_db()
    thread.refresh_from_db()
    assert (post.report_count, post.status, post.held_for) == (3, "held", "reports")
    assert thread.status == "held"  # a held opening post holds its thread
    assert selectors.thread_readable(w.dad.user, thread.pk) is None
    assert Report.objects.filter(post=post).count() == 3


def test_reports_are_refused_on_own_posts_unreadable_posts_and_bad_reasons(board_world):
    w = board_world
    post = _thread(w.mum.user, w.board).opening_post
    for user, fields, code in (
        (w.mum.user, {"reason": "ads"}, "report_own"),
        (w.outsider.user, {"reason": "ads"}, "post_missing"),
        (w.dad.user, {"reason": "boring"}, "report_reason"),
        (w.dad.user, {"reason": "ads", "detail": "长" * 201}, "detail_too_long"),
    ):
        with pytest.raises(CommunityError) as error:
            services.report_create(user=user, post_id=post.pk, **fields)
        assert error.value.code == code
    with pytest.raises(CommunityError) as error:
        services.report_create(user=w.dad.user, post_id="x", reason="ads")
    assert error.value.code == "post_missing"
    assert not Report.objects.exists()


def test_a_report_on_a_group_board_tells_its_facilitator_once(board_world):
    w = board_world
    GroupMembership.objects.create(group=w.group, family=w.dad.family, status="active")
    thread = services.thread_create(
        user=w.mum.user,
        board_id=w.group_board.pk,
        kind="sharing",
        title="周末读书打卡",
        body="今天读了半小时",
    )
    report = services.report_create(
        user=w.dad.user, post_id=thread.opening_post.pk, reason="privacy"
    )
    notices = Notice.objects.filter(key=f"community.report:{report.pk}")
    assert notices.count() == 1
    assert set(Delivery.objects.filter(notice__in=notices).values_list("user_id", flat=True)) == {
        w.instructor.pk
    }
    # reports on the school's board do not go to the facilitator
    school_post = _thread(w.mum.user, w.board).opening_post
    services.report_create(user=w.dad.user, post_id=school_post.pk, reason="ads")
    assert Notice.objects.filter(key__startswith="community.report:").count() == 1


def test_approving_a_held_reply_publishes_it_counts_it_and_tells_both_once(board_world):
    w = board_world
    SensitiveWordFactory(word="加微信", category="ads")
    from community.filtering import wordlist_bump

    wordlist_bump()
    thread = _thread(w.mum.user, w.board)
    reply = services.reply_create(
        user=w.dad.user, thread_id=thread.pk, body="我整理了食谱，加微信发你"
    )
    assert reply.status == "held"
    assert not _told(w.mum.user, "community.reply:").exists()

    decision = services.post_decide(user=w.coordinator, post_id=reply.pk, action="approve")

    reply.refresh_from_db()
    thread.refresh_from_db()
    assert reply.status == "published" and reply.published_at and thread.reply_count == 1
    assert decision.action == "approve" and decision.decided_by == w.coordinator
    assert (
        AuditLog.objects.filter(action="community.post.approve", target_id=str(reply.pk)).count()
        == 1
    )
    assert _told(w.dad.user, f"community.decision:{decision.pk}").count() == 1
    assert _told(w.mum.user, f"community.reply:{reply.pk}").count() == 1
    # approving again writes a decision but tells nobody again
    services.post_decide(user=w.coordinator, post_id=reply.pk, action="approve")
    assert Notice.objects.filter(key__startswith="community.reply:").count() == 1
    assert _told(w.dad.user, "community.decision:").count() == 1


def test_hide_warn_mute_each_need_a_reason_are_logged_and_told(board_world):
    w = board_world
    thread = _thread(w.mum.user, w.board)
    reply = services.reply_create(user=w.dad.user, thread_id=thread.pk, body="说得不对")
    for action in ("hide", "warn", "mute"):
        with pytest.raises(CommunityError) as error:
            services.post_decide(user=w.coordinator, post_id=reply.pk, action=action, mute_days=3)
        assert (error.value.code, error.value.field) == ("reason_required", "reason")
    for days in (0, 91, "三"):
        with pytest.raises(CommunityError) as error:
            services.post_decide(
                user=w.coordinator, post_id=reply.pk, action="mute", reason="辱骂", mute_days=days
            )
        assert error.value.field == "mute_days"
    with pytest.raises(CommunityError) as error:
        services.post_decide(user=w.coordinator, post_id=reply.pk, action="ban", reason="x")
    assert error.value.field == "action"

    warn = services.post_decide(
        user=w.coordinator, post_id=reply.pk, action="warn", reason="请文明发言"
    )
    reply.refresh_from_db()
    assert reply.status == "published"
    now = timezone.now()
    mute = services.post_decide(
        user=w.coordinator, post_id=reply.pk, action="mute", reason="多次辱骂", mute_days=7, now=now
    )
    hide = services.post_decide(
        user=w.coordinator, post_id=reply.pk, action="hide", reason="人身攻击"
    )
    reply.refresh_from_db()
    thread.refresh_from_db()
    assert reply.status == "hidden" and thread.reply_count == 0
    row = Mute.objects.get(decision=mute)
    assert (row.family_id, row.parent_school_id, row.group_id) == (
        w.dad.family.pk,
        w.parent_school.pk,
        None,
    )
    assert row.until == now + timezone.timedelta(days=7)
    assert selectors.active_mute(family=w.dad.family, board=w.group_board) is not None
    for decision, verb in ((warn, "warn"), (mute, "mute"), (hide, "hide")):
        assert AuditLog.objects.filter(action=f"community.post.{verb}").count() == 1
        notice = Notice.objects.get(key=f"community.decision:{decision.pk}")
        assert decision.reason in notice.lead
        assert Delivery.objects.filter(notice=notice, user=w.dad.user).exists()
        assert not Delivery.objects.filter(notice=notice).exclude(user=w.dad.user).exists()
    with pytest.raises(CommunityError) as error:
        services.reply_create(user=w.dad.user, thread_id=thread.pk, body="再说一句")
    assert error.value.code == "muted"


def test_the_held_posts_author_is_told_without_the_word(board_world):
    w = board_world
    SensitiveWordFactory(word="刷单", category="fraud")
    from community.filtering import wordlist_bump

    wordlist_bump()
    post = _thread(w.mum.user, w.board, body="刷单兼职日结").opening_post
    decision = services.post_decide(
        user=w.coordinator, post_id=post.pk, action="hide", reason="疑似诈骗广告"
    )
    notice = Notice.objects.get(key=f"community.decision:{decision.pk}")
    assert "刷单" not in notice.subject + notice.lead
    assert "疑似诈骗广告" in notice.lead


def test_dismiss_shows_a_reports_held_post_again_and_resolves_the_reports(board_world, settings):
    w = board_world
    settings.COMMUNITY_REPORTS_HOLD = 2
    thread = _thread(w.dad.user, w.board)
    reply = services.reply_create(
        user=w.instructor, thread_id=thread.pk, body="请参考学校的营养食谱。"
    )
    services.report_create(user=w.mum.user, post_id=reply.pk, reason="false")
    services.report_create(user=_family_at(w, "钱爸爸").user, post_id=reply.pk, reason="false")
    reply.refresh_from_db()
    thread.refresh_from_db()
    assert (
        reply.status == "held" and thread.reply_count == 0 and thread.first_staff_reply_at is None
    )

    decision = services.post_decide(user=w.coordinator, post_id=reply.pk, action="dismiss")

    reply.refresh_from_db()
    thread.refresh_from_db()
    assert reply.status == "published" and thread.reply_count == 1
    assert thread.first_staff_reply_at == reply.published_at
    assert not Report.objects.filter(post=reply, resolved_at__isnull=True).exists()
    assert AuditLog.objects.filter(action="community.post.dismiss").count() == 1
    assert _told(w.instructor, f"community.decision:{decision.pk}").count() == 1
    # dismissing reports on a post that stayed shown resolves them, and the author
    # is told that too (every decision is), without the reporters or their reasons
    services.report_create(user=_family_at(w, "吴奶奶").user, post_id=reply.pk, reason="ads")
    checked = services.post_decide(user=w.coordinator, post_id=reply.pk, action="dismiss")
    told = Notice.objects.get(key=f"community.decision:{checked.pk}")
    assert "核实" in told.subject and "吴奶奶" not in told.lead
    assert _told(w.instructor, f"community.decision:{checked.pk}").count() == 1
    assert not Report.objects.filter(post=reply, resolved_at__isnull=True).exists()


def test_hiding_the_opening_post_hides_the_thread_and_an_accepted_answer_stops_counting(
    board_world,
):
    w = board_world
    thread = _thread(w.mum.user, w.board)
    answer = services.reply_create(user=w.instructor, thread_id=thread.pk, body="少量多次尝试。")
    services.answer_accept(user=w.mum.user, thread_id=thread.pk, post_id=answer.pk)
    services.post_decide(user=w.coordinator, post_id=answer.pk, action="hide", reason="误导")
    thread.refresh_from_db()
    assert thread.accepted_post is None and thread.reply_count == 0
    services.post_decide(
        user=w.coordinator,
        post_id=thread.posts.get(is_opening=True).pk,
        action="hide",
        reason="重复",
    )
    thread.refresh_from_db()
    assert thread.status == "hidden"
    assert selectors.thread_readable(w.mum.user, thread.pk) is None
    assert selectors.thread_readable(w.coordinator, thread.pk) is not None


def test_a_facilitator_moderates_their_group_only_and_mutes_there_only(board_world):
    w = board_world
    GroupMembership.objects.create(group=w.group, family=w.dad.family, status="active")
    group_post = services.thread_create(
        user=w.dad.user,
        board_id=w.group_board.pk,
        kind="sharing",
        title="分享一本好书",
        body="推荐大家",
    ).opening_post
    school_post = _thread(w.dad.user, w.board).opening_post
    with pytest.raises(CommunityError) as error:
        services.post_decide(user=w.instructor, post_id=school_post.pk, action="hide", reason="x")
    assert error.value.code == "post_missing"
    with pytest.raises(CommunityError) as error:
        services.post_decide(
            user=w.other_coordinator, post_id=group_post.pk, action="hide", reason="x"
        )
    assert error.value.code == "post_missing"

    decision = services.post_decide(
        user=w.instructor, post_id=group_post.pk, action="mute", reason="刷屏", mute_days=1
    )

    mute = Mute.objects.get(decision=decision)
    assert (mute.group_id, mute.parent_school_id) == (w.group.pk, None)
    assert selectors.active_mute(family=w.dad.family, board=w.group_board) is not None
    assert selectors.active_mute(family=w.dad.family, board=w.board) is None
    # the school's coordinator mutes on the school (its board and its groups')
    coordinator_mute = services.post_decide(
        user=w.coordinator, post_id=group_post.pk, action="mute", reason="刷屏", mute_days=2
    )
    assert Mute.objects.get(decision=coordinator_mute).parent_school_id == w.parent_school.pk


def test_staff_are_not_muted(board_world):
    w = board_world
    thread = _thread(w.mum.user, w.board)
    reply = services.reply_create(user=w.instructor, thread_id=thread.pk, body="回复")
    with pytest.raises(CommunityError) as error:
        services.post_decide(
            user=w.coordinator, post_id=reply.pk, action="mute", reason="x", mute_days=1
        )
    assert error.value.code == "mute_family_only"
    assert not Decision.objects.exists() and not Mute.objects.exists()


def test_pins_and_closing_are_audited(board_world):
    w = board_world
    thread = _thread(w.mum.user, w.board)
    services.thread_pin(user=w.coordinator, thread_id=thread.pk, pinned=True)
    services.thread_pin(user=w.coordinator, thread_id=thread.pk, pinned=True)  # no change
    services.thread_close(user=w.coordinator, thread_id=thread.pk, closed=True)
    thread.refresh_from_db()
    assert thread.is_pinned and thread.is_closed
    assert list(
        AuditLog.objects.filter(action__startswith="community.thread.")
        .values_list("action", flat=True)
        .order_by("pk")
    ) == [
        "community.thread.pin",
        "community.thread.close",
    ]
    with pytest.raises(CommunityError) as error:
        services.thread_pin(user=w.dad.user, thread_id=thread.pk, pinned=False)
    assert error.value.code == "not_allowed"
    assert Post.objects.filter(thread=thread).count() == 1


# --- the word list ---------------------------------------------------------------------


def test_only_district_administrators_change_the_word_list_stored_normalised(board_world):
    from community.filtering import text_check
    from community.models import SensitiveWord

    w = board_world
    for user in (w.coordinator, w.alliance_coordinator, w.mum.user):
        with pytest.raises(CommunityError) as error:
            services.sensitive_word_save(user=user, word="代购", category="ads")
        assert error.value.code == "not_allowed"
    word = services.sensitive_word_save(user=w.district_admin, word=" 代 购 ", category="广告引流")
    assert (word.word, word.category, word.updated_by) == ("代购", "ads", w.district_admin)
    assert text_check("专业代-购，价格实惠").hit  # the next check sees it (version bumped)
    for fields, code in (
        ({"word": "  ", "category": "ads"}, "word_empty"),
        ({"word": "!!!", "category": "ads"}, "word_empty"),
        ({"word": "长" * 51, "category": "ads"}, "word_too_long"),
        ({"word": "代购", "category": "ads"}, "word_duplicate"),
        ({"word": "ＤＡＩ购", "category": "nonsense"}, "category_invalid"),
    ):
        with pytest.raises(CommunityError) as error:
            services.sensitive_word_save(user=w.district_admin, **fields)
        assert error.value.code == code, fields
        assert error.value.field in ("word", "category")
    services.sensitive_word_save(
        user=w.district_admin, word="代购", category="ads", is_active=False, word_id=word.pk
    )
    assert not text_check("专业代购").hit
    services.sensitive_word_delete(user=w.district_admin, word_id=word.pk)
    assert not SensitiveWord.objects.exists()
    assert [
        a
        for a in AuditLog.objects.filter(action__startswith="community.word.")
        .order_by("pk")
        .values_list("action", flat=True)
    ] == [
        "community.word.add",
        "community.word.change",
        "community.word.delete",
    ]


def test_importing_words_is_all_or_nothing_with_row_and_column_errors(board_world):
    from community.filtering import text_check
    from community.models import SensitiveWord

    w = board_world
    SensitiveWordFactory(word="刷单", category="other")
    with pytest.raises(CommunityError) as error:
        services.sensitive_words_import(
            user=w.district_admin,
            rows=[
                (2, "加微信", "ads"),
                (3, "", "诈骗与违法"),
                (4, "赌球", "体育"),
                (5, "加 微信", "ads"),
            ],
        )
    message = error.value.message
    assert (
        "第 3 行“敏感词”" in message and "第 4 行“类别”" in message and "第 5 行“敏感词”" in message
    )
    assert [(r, c) for r, c, _why in error.value.row_errors] == [
        (3, "敏感词"),
        (4, "类别"),
        (5, "敏感词"),
    ]
    assert SensitiveWord.objects.count() == 1

    taken = services.sensitive_words_import(
        user=w.district_admin, rows=[(2, "加微信", "ads"), (3, "刷单", "诈骗与违法")]
    )

    assert taken == 2
    assert dict(SensitiveWord.objects.values_list("word", "category")) == {
        "加微信": "ads",
        "刷单": "fraud",
    }
    assert text_check("加wei xin").hit
    assert AuditLog.objects.filter(action="community.word.import").count() == 1
    with pytest.raises(CommunityError):
        services.sensitive_words_import(user=w.coordinator, rows=[(2, "赌博", "gambling")])
