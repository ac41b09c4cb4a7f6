import factory
from django.utils import timezone

from community.models import (
    Board,
    BoardProfile,
    CommunityPreference,
    Decision,
    DigestEntry,
    Mute,
    Post,
    PostImage,
    Report,
    SensitiveWord,
    Thread,
    WordListVersion,
)
from members.tests.factories import FamilyFactory, UserFactory
from parent_school.tests.factories import ParentSchoolFactory


class SensitiveWordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SensitiveWord

    word = factory.Sequence(lambda n: f"违禁词{n}")
    category = SensitiveWord.Category.OTHER

    @factory.post_generation
    def list_changed(word, create, extracted, **kwargs):
        # As the service does: without the bump a process that built its matcher in
        # an earlier test (same version, rolled back) would keep the old words.
        if create:
            from community.filtering import wordlist_bump

            wordlist_bump()


class WordListVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WordListVersion


class BoardFactory(factory.django.DjangoModelFactory):
    """A school board; community.services.board_for_school is the real way in."""

    class Meta:
        model = Board

    kind = Board.Kind.SCHOOL
    title = factory.Sequence(lambda n: f"交流区{n}")
    parent_school = factory.SubFactory(ParentSchoolFactory)
    unit = factory.SelfAttribute("parent_school.host_unit")


class BoardProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BoardProfile

    family = factory.SubFactory(FamilyFactory)
    nickname = factory.Sequence(lambda n: f"昵称{n}")


class ThreadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Thread

    board = factory.SubFactory(BoardFactory)
    kind = Thread.Kind.QUESTION
    title = factory.Sequence(lambda n: f"话题{n}")
    status = Post.Status.PUBLISHED
    last_activity_at = factory.LazyFunction(timezone.now)
    published_at = factory.LazyFunction(timezone.now)


class PostFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Post

    thread = factory.SubFactory(ThreadFactory)
    board = factory.SelfAttribute("thread.board")
    body = factory.Sequence(lambda n: f"内容{n}")
    author_role = Post.Role.FAMILY
    author_name = "测试家长"
    status = Post.Status.PUBLISHED
    published_at = factory.LazyFunction(timezone.now)


class PostImageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PostImage

    post = factory.SubFactory(PostFactory)
    image = factory.django.FileField(filename="x.jpg", data=b"\xff\xd8\xff")


class ReportFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Report

    post = factory.SubFactory(PostFactory)
    reporter_family = factory.SubFactory(FamilyFactory)
    reason = Report.Reason.OTHER


class DecisionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Decision

    board = factory.SubFactory(BoardFactory)
    action = Decision.Action.APPROVE
    decided_by = factory.SubFactory(UserFactory)


class MuteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Mute

    family = factory.SubFactory(FamilyFactory)
    parent_school = factory.SubFactory(ParentSchoolFactory)
    until = factory.LazyFunction(lambda: timezone.now() + timezone.timedelta(days=3))
    decision = factory.SubFactory(DecisionFactory, action="mute")


class CommunityPreferenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CommunityPreference

    user = factory.SubFactory(UserFactory)


class DigestEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DigestEntry

    key = factory.Sequence(lambda n: f"digest-test:{n}")
    user = factory.SubFactory(UserFactory)
    day = factory.LazyFunction(lambda: timezone.localdate())
    subject = "有人回复了您的帖子"
