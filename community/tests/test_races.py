"""Two (or more) callers at the same instant, in real threads on PostgreSQL
(tests/races.py): first boards and first nicknames made once, one report per
family, exact counters under many replies and two moderators at once."""

from __future__ import annotations

import pytest

from community import services
from community.models import Board, BoardProfile, Decision, Post, Report, Thread
from community.tests.world import _guardian, build_world
from events.models import Notice
from members.tests.factories import GuardianFactory, UserFactory
from parent_school.tests.factories import ParentSchoolFactory
from tests.races import run_together

pytestmark = pytest.mark.django_db(transaction=True)


def _assert_clean(outcome, met):
    assert not outcome.errors, outcome.errors
    assert outcome.met == met


def _question(w, user=None):
    return services.thread_create(
        user=user or w.mum.user,
        board_id=w.board.pk,
        kind="question",
        title="孩子上学总迟到",
        body="每天早上起不来，大家怎么叫孩子起床？",
    )


def test_two_first_visits_make_one_school_board():
    w = build_world()
    school = ParentSchoolFactory(host_unit=w.school)
    outcome = run_together(
        [lambda: services.board_for_school(school).pk] * 2, meet_before_write=["community_board"]
    )
    _assert_clean(outcome, 2)
    assert Board.objects.filter(kind="school", parent_school=school).count() == 1
    assert len(set(outcome.results)) == 1


def test_two_first_posts_of_a_family_make_one_nickname():
    w = build_world()
    outcome = run_together(
        [lambda: services.profile_for_family(w.dad.family).pk] * 2,
        meet_before_write=["community_boardprofile"],
    )
    _assert_clean(outcome, 2)
    assert BoardProfile.objects.filter(family=w.dad.family).count() == 1
    assert len(set(outcome.results)) == 1


def test_the_two_guardians_of_a_family_reporting_at_once_make_one_report():
    w = build_world()
    post = _question(w).opening_post
    other = GuardianFactory(family=w.dad.family, user=UserFactory(phone_verified=True))
    outcome = run_together(
        [
            lambda: services.report_create(user=w.dad.user, post_id=post.pk, reason="ads").pk,
            lambda: services.report_create(user=other.user, post_id=post.pk, reason="abuse").pk,
        ],
        meet_before_write=["community_thread"],
    )
    _assert_clean(outcome, 2)
    assert Report.objects.filter(post=post).count() == 1
    assert len(set(outcome.results)) == 1
    post.refresh_from_db()
    assert post.report_count == 1


def test_three_families_reporting_at_once_hold_the_post_once(settings):
    settings.COMMUNITY_REPORTS_HOLD = 3
    w = build_world()
    thread = _question(w)
    reply = services.reply_create(user=w.instructor, thread_id=thread.pk, body="早睡早起")
    reporters = [w.mum.user] + [
        _guardian(name, school=w.school, child_name=f"{name}家孩子")[0].user
        for name in ("孙妈妈", "钱爸爸")
    ]
    outcome = run_together(
        [
            (lambda user=user: services.report_create(user=user, post_id=reply.pk, reason="false"))
            for user in reporters
        ],
        meet_before_write=["community_thread"],
    )
    _assert_clean(outcome, 3)
    reply.refresh_from_db()
    thread.refresh_from_db()
    assert (reply.report_count, reply.status, reply.held_for) == (3, "held", "reports")
    assert thread.reply_count == 0 and thread.first_staff_reply_at is None


def test_replies_at_once_are_all_counted():
    w = build_world()
    thread = _question(w)
    repliers = [w.dad.user, w.instructor, w.coordinator] + [
        _guardian(name, school=w.school, child_name=f"{name}家孩子")[0].user
        for name in ("孙妈妈", "钱爸爸")
    ]
    outcome = run_together(
        [
            (
                lambda user=user: (
                    services.reply_create(user=user, thread_id=thread.pk, body="闹钟").pk
                )
            )
            for user in repliers
        ],
        meet_before_write=["community_thread"],
    )
    _assert_clean(outcome, len(repliers))
    thread.refresh_from_db()
    assert (
        thread.reply_count
        == len(repliers)
        == Post.objects.filter(thread=thread, is_opening=False).count()
    )
    assert Notice.objects.filter(key__startswith="community.reply:").count() == len(repliers)


def test_two_moderators_approving_at_once_count_and_tell_once():
    w = build_world()
    from community.filtering import wordlist_bump
    from community.tests.factories import SensitiveWordFactory

    SensitiveWordFactory(word="代购", category="ads")
    wordlist_bump()
    thread = _question(w)
    reply = services.reply_create(user=w.dad.user, thread_id=thread.pk, body="我做代购，私聊")
    assert reply.status == "held"
    outcome = run_together(
        [
            lambda: services.post_decide(user=w.coordinator, post_id=reply.pk, action="approve").pk,
            lambda: (
                services.post_decide(user=w.district_admin, post_id=reply.pk, action="approve").pk
            ),
        ],
        meet_before_write=["community_thread"],
    )
    _assert_clean(outcome, 2)
    thread.refresh_from_db()
    assert thread.reply_count == 1
    assert Decision.objects.filter(post=reply).count() == 2
    assert Notice.objects.filter(key=f"community.reply:{reply.pk}").count() == 1
    # only the decision that published it told the author
    assert Notice.objects.filter(key__startswith="community.decision:").count() == 1
    assert Thread.objects.get(pk=thread.pk).status == "published"
