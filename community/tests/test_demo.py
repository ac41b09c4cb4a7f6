"""The demo's boards (community/demo.py, run by load_demo after groups.demo): what
a visitor of the demo finds, and a second load changes nothing."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from community import selectors
from community.models import Board, Post, SensitiveWord, Thread

pytestmark = pytest.mark.django_db


def test_the_demo_boards(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("load_demo", stdout=io.StringIO())
    User = get_user_model()
    parent = User.objects.get(username="demo_parent")
    coordinator = User.objects.get(username="demo_xikou_coordinator")

    # the district's word list, in categories
    assert 10 <= SensitiveWord.objects.count() <= 20
    assert SensitiveWord.objects.filter(word="刷单", category="fraud").exists()
    # the parent's school board: her question answered by the instructor and accepted
    board = Board.objects.get(kind="school", parent_school__name="溪口中心小学家长学校")
    assert board in selectors.boards_readable_by(parent)
    question = Thread.objects.get(board=board, kind="question", author_user=parent)
    assert question.accepted_post.author_role == Post.Role.INSTRUCTOR
    assert Thread.objects.filter(board=board, kind="sharing", status="published").exists()
    # a post held by the word list, in the Xikou coordinator's queue
    queue = selectors.moderation_queue(user=coordinator)
    assert [p.held_for for p in queue.object_list] == ["sensitive"]
    # the alliance's announcement and the family group's thread
    assert Thread.objects.filter(board__kind="alliance", kind="announcement").count() == 1
    assert Thread.objects.filter(board__kind="group", author_user=parent).count() == 1
    # nicknames only in front
    assert parent.phone not in "".join(Post.objects.values_list("author_name", flat=True))

    before = sorted(Post.objects.values_list("pk", "status", "body"))
    call_command("load_demo", stdout=io.StringIO())
    assert sorted(Post.objects.values_list("pk", "status", "body")) == before
