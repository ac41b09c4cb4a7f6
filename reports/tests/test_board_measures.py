"""The school's dashboard shows 互助交流: questions asked on the school's board in
the term, answered, the answer rate and the median time to the first staff reply
(community.selectors.board_measures), and nothing of the posts themselves."""

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from community.models import Post, Thread
from community.tests.factories import BoardFactory, PostFactory, ThreadFactory
from reports.templatetags.reports_tags import duration_minutes
from reports.tests.factories import local


def _question(board, *, at, staff_after=None, accepted=False):
    thread = ThreadFactory(
        board=board,
        kind=Thread.Kind.QUESTION,
        title="孩子写作业拖拉怎么办",
        published_at=at,
        last_activity_at=at,
        first_staff_reply_at=at + dt.timedelta(minutes=staff_after) if staff_after else None,
    )
    if accepted:
        reply = PostFactory(thread=thread, author_role=Post.Role.FAMILY, body="我家是这样做的")
        thread.accepted_post = reply
        thread.save(update_fields=["accepted_post"])
    return thread


def _figures(page: str) -> dict[str, str]:
    figures = {}
    for key in ("asked", "answered", "answer_rate", "median"):
        start = page.index(f'data-community-figure="{key}"')
        value_start = page.index('class="report-figure">', start) + len('class="report-figure">')
        figures[key] = page[value_start : page.index("</span>", value_start)].strip()
    return figures


def test_school_dashboard_shows_the_terms_questions_answers_and_median(client, dataset, people):
    # given on A家长学校's board, in the term (1 March – 30 June): staff answers after
    # 20 minutes, 2 hours and 5 hours, an accepted family answer, an unanswered
    # question; before the term one more answered question that does not count
    board = BoardFactory(parent_school=dataset.ps_a, unit=dataset.ps_a.host_unit)
    for minutes in (20, 120, 300):
        _question(board, at=local(2026, 4, 1), staff_after=minutes)
    _question(board, at=local(2026, 4, 2), accepted=True)
    _question(board, at=local(2026, 4, 3))
    _question(board, at=local(2026, 2, 1), staff_after=1)

    # when the coordinator opens the school's dashboard for the term
    client.force_login(people.u1)
    response = client.get(
        reverse("reports:school", args=[dataset.ps_a.pk]), {"term": dataset.term.code}
    )

    # then
    assert response.status_code == 200
    page = response.content.decode()
    assert "互助交流" in page
    assert _figures(page) == {
        "asked": "5",
        "answered": "4",
        "answer_rate": "80.0%",
        "median": "2.0 小时",
    }
    # counts only: no thread title, no post
    assert "孩子写作业拖拉怎么办" not in page
    assert "我家是这样做的" not in page


def test_a_school_without_a_board_shows_zeros_and_dashes(client, dataset, people):
    client.force_login(people.u1)
    page = client.get(reverse("reports:school", args=[dataset.ps_b.pk])).content.decode()

    assert _figures(page) == {"asked": "0", "answered": "0", "answer_rate": "—", "median": "—"}


def test_the_measures_add_one_query_whatever_the_number_of_questions(client, dataset, people):
    board = BoardFactory(parent_school=dataset.ps_a, unit=dataset.ps_a.host_unit)
    client.force_login(people.u1)
    url = reverse("reports:school", args=[dataset.ps_a.pk])

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    _question(board, at=local(2026, 4, 1), staff_after=5)
    few = count()
    for day in range(1, 29):
        _question(board, at=local(2026, 5, day), staff_after=day * 10, accepted=day % 2 == 0)
    assert count() == few


def test_waiting_times_read_in_minutes_hours_or_days():
    assert duration_minutes(None) == "—"
    assert duration_minutes(12.4) == "12 分钟"
    assert duration_minutes(90) == "1.5 小时"
    assert duration_minutes(60 * 24 * 3) == "3.0 天"
