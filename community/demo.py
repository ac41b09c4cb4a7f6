"""Demo boards for ``manage.py load_demo`` (right after groups.demo, whose
family group's board gets a thread here).

Everything goes through community.services, as a family or a coordinator would:

- a small district word list (mild words in their categories, e.g. 广告引流:
  加微信, 代购; 诈骗与违法: 刷单 …), saved by the district administrator;
- 溪口中心小学家长学校's board (the demo parent's school: her family group meets
  there): her question, answered by the school's instructor and accepted; the
  Wang family's sharing post; and 周奶奶's post held by the word list, waiting in
  the Xikou coordinator's queue (/community/moderation/);
- the Xikou alliance's announcement board with one announcement by its coordinator;
- the family group's board with a thread of the demo parent's.

The instructor (溪口中心小学吴老师（演示）) is made here with an instructor role at
the school; like the other demo families but the parent, they cannot sign in.
Idempotent: a word, a thread (by board and title), a reply (by thread and author)
or an acceptance that exists is left as it is, so a second load changes nothing.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from members.models import Alliance, Guardian, MemberUnit, RoleAssignment

from . import services
from .filtering import normalise
from .models import Board, Post, SensitiveWord, Thread

WORDS = [
    ("加微信", SensitiveWord.Category.ADS),
    ("代购", SensitiveWord.Category.ADS),
    ("扫码进群", SensitiveWord.Category.ADS),
    ("私信领取", SensitiveWord.Category.ADS),
    ("刷单", SensitiveWord.Category.FRAUD),
    ("兼职日结", SensitiveWord.Category.FRAUD),
    ("恭喜中奖", SensitiveWord.Category.FRAUD),
    ("代写作业", SensitiveWord.Category.FRAUD),
    ("网赌", SensitiveWord.Category.GAMBLING),
    ("赌球", SensitiveWord.Category.GAMBLING),
    ("裸聊", SensitiveWord.Category.PORN),
    ("冰毒", SensitiveWord.Category.DRUGS),
    ("去死", SensitiveWord.Category.ABUSE),
    ("脑残", SensitiveWord.Category.ABUSE),
    ("身份证号", SensitiveWord.Category.PRIVACY),
]

SCHOOL = "溪口中心小学家长学校"
ALLIANCE = "溪口协同育人联盟"
FAMILY_GROUP = "周末亲子阅读家伴组"
INSTRUCTOR = ("demo_xikou_instructor", "溪口中心小学吴老师（演示）", "溪口中心小学")

QUESTION = {
    "title": "孩子晚上写作业总是拖到很晚，怎么办？",
    "body": "孩子三年级，每天晚上写作业要写到十点多，一会儿喝水一会儿玩橡皮。\n"
    "说了很多次也没用，各位家长和老师有什么好办法吗？",
}
ANSWER = (
    "可以试试把作业分成几小段：每写二十分钟休息五分钟，先做最容易的一项让孩子有成就感。"
    "家长在旁边看书陪着，不要一直提醒。两周后再看看效果，有问题可以在家长会后找我聊。"
)
SHARING = {
    "title": "分享：周末带孩子去镇图书馆的小经验",
    "body": "我们每周六上午去溪口镇图书馆，孩子自己挑两本书，回家后讲给我们听。\n"
    "坚持一个月，孩子主动看书的时间多了。图书馆开放时间见 https://www.fenghua.gov.cn/",
}
HELD = {
    "title": "有人说加微信可以代购学习机",
    "body": "家长群里有人说加微信可以代购学习机，便宜一半，大家买过吗？",
}
ANNOUNCEMENT = {
    "title": "本学期家长学校开课安排",
    "body": "各位家长：本学期各家长学校的课程已在「课程」里发布，欢迎为自己和孩子报名。\n"
    "每次课后请在「我的问卷」里留下您的意见，我们会据此改进。",
}
GROUP_THREAD = {
    "title": "下次共读带什么书？",
    "body": "上次孩子们都很喜欢《小猪唏哩呼噜》，下次大家想读哪一本？欢迎推荐。",
}


def _guardian(username: str) -> Guardian | None:
    return Guardian.objects.select_related("user", "family").filter(user__username=username).first()


def _instructor():
    username, display_name, unit_name = INSTRUCTOR
    unit = MemberUnit.objects.filter(name=unit_name).first()
    if unit is None:
        return None
    user, created = get_user_model().objects.get_or_create(
        username=username, defaults={"display_name": display_name, "is_staff": True}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    if not RoleAssignment.objects.filter(
        user=user, role=RoleAssignment.Role.INSTRUCTOR, unit=unit
    ).exists():
        from members import registry

        registry.role_assign(
            actor=None, user=user, role=RoleAssignment.Role.INSTRUCTOR, unit=unit, alliance=None
        )
    return user


def _words(admin) -> None:
    existing = set(SensitiveWord.objects.values_list("word", flat=True))
    for word, category in WORDS:
        if normalise(word) not in existing:
            services.sensitive_word_save(user=admin, word=word, category=category)


def _thread(user, board: Board, spec: dict, kind: str) -> Thread:
    thread = Thread.objects.filter(board=board, title=spec["title"]).first()
    if thread is None:
        thread = services.thread_create(
            user=user, board_id=board.pk, kind=kind, title=spec["title"], body=spec["body"]
        )
    return thread


def _reply(user, thread: Thread, body: str) -> Post:
    post = Post.objects.filter(thread=thread, is_opening=False, author_user=user).first()
    if post is None:
        post = services.reply_create(user=user, thread_id=thread.pk, body=body)
    return post


@transaction.atomic
def load(stdout=None) -> dict[str, int]:
    User = get_user_model()
    admin = User.objects.filter(username="demo_district_admin").first()
    coordinator = User.objects.filter(username="demo_xikou_coordinator").first()
    parent, wang, zhou = (
        _guardian(name) for name in ("demo_parent", "demo_family_wang", "demo_family_zhou")
    )
    from parent_school.models import ParentSchool

    school = ParentSchool.objects.filter(name=SCHOOL).first()
    if None in (admin, coordinator, parent, school):
        return {"交流区": 0}
    _words(admin)
    instructor = _instructor()

    profile = services.profile_for_family(parent.family)
    if profile.nickname != "小溪妈妈":
        services.nickname_set(user=parent.user, nickname="小溪妈妈")

    board = services.board_for_school(school)
    question = _thread(parent.user, board, QUESTION, Thread.Kind.QUESTION)
    if instructor is not None:
        answer = _reply(instructor, question, ANSWER)
        question.refresh_from_db()
        if question.accepted_post_id is None and answer.status == Post.Status.PUBLISHED:
            services.answer_accept(user=instructor, thread_id=question.pk, post_id=answer.pk)
    if wang is not None:
        _thread(wang.user, board, SHARING, Thread.Kind.SHARING)
    if zhou is not None:
        # 加微信 and 代购 are on the list: held for the Xikou coordinator's queue.
        _thread(zhou.user, board, HELD, Thread.Kind.QUESTION)

    alliance = Alliance.objects.filter(name=ALLIANCE).first()
    alliance_board = services.board_for_alliance(alliance) if alliance is not None else None
    if alliance_board is not None:
        _thread(coordinator, alliance_board, ANNOUNCEMENT, Thread.Kind.ANNOUNCEMENT)

    from groups.models import Group

    group = Group.objects.filter(parent_school=school, name=FAMILY_GROUP).first()
    if group is not None:
        group_board = services.board_for_group(group)
        _thread(parent.user, group_board, GROUP_THREAD, Thread.Kind.QUESTION)

    if stdout is not None:
        stdout.write("交流区演示数据已载入（敏感词表、学校交流区、联盟公告和小组交流区）。")
    return {
        "交流区": Board.objects.count(),
        "交流区帖子": Post.objects.count(),
        "敏感词": SensitiveWord.objects.count(),
    }
