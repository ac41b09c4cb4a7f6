"""An anonymous survey keeps who answered apart from what was answered: no query
over the database joins an answer to a family (PostgreSQL, committed rows)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Count
from django.test import override_settings

from members.sealing import SealError, unseal
from surveys import services
from surveys.models import Answer, Draft, Participation, PendingResponse, Response
from surveys.tests.factories import with_questions
from surveys.tests.world import ANSWERS, attend, family_with_parent, session_survey

pytestmark = pytest.mark.django_db(transaction=True)

IDENTIFYING_TABLES = {
    "members_family",
    "members_guardian",
    "members_user",
    "surveys_participation",
    "surveys_invitation",
    "surveys_draft",
    "bookings_booking",
}


def _columns(table: str) -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s",
            [table],
        )
        return dict(cursor.fetchall())


def _references(table: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT ccu.table_name FROM information_schema.table_constraints tc
            JOIN information_schema.constraint_column_usage ccu
              ON tc.constraint_name = ccu.constraint_name
            WHERE tc.table_name = %s AND tc.constraint_type = 'FOREIGN KEY'
            """,
            [table],
        )
        return {row[0] for row in cursor.fetchall()}


def _xmins(table: str, where: str, params) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT xmin::text FROM {table} WHERE {where}", params)  # noqa: S608
        return {row[0] for row in cursor.fetchall()}


def _families(world, n):
    users = []
    for i in range(n):
        family, user = family_with_parent(world.school, f"匿名家长{i}")
        attend(family, world.offering)
        users.append(user)
    return users


def _answer(user, survey, i):
    services.response_submit(
        user=user, survey_id=survey.pk, answers={**ANSWERS, "suggestion": f"建议{i}"}
    )


def test_waiting_and_released_rows_carry_nothing_that_joins_them_to_a_family(
    tx_world, settings, django_capture_on_commit_callbacks
):
    world = tx_world
    settings.SURVEYS_ANONYMOUS_BATCH = 5
    survey = session_survey(world, is_anonymous=True)
    users = _families(world, 12)

    # the tables: waiting answers have no column for a family, a user, a time or
    # an order; answers only point at their response and question
    pending_columns = _columns("surveys_pendingresponse")
    assert set(pending_columns) == {"id", "survey_id", "version_id", "sealed_answers"}
    assert pending_columns["id"] == "uuid"
    assert _references("surveys_pendingresponse") & IDENTIFYING_TABLES == set()
    assert set(_columns("surveys_answer")) == {"id", "response_id", "question_id", "number", "text"}
    assert _references("surveys_answer") & IDENTIFYING_TABLES == set()
    assert _columns("surveys_response")["id"] == "uuid"
    assert "timestamp with time zone" not in {
        t for c, t in _columns("surveys_response").items() if c != "submitted_at"
    }
    # the only column a response shares with a participation is the survey's
    shared = set(_columns("surveys_response")) & set(_columns("surveys_participation"))
    assert shared == {"id", "survey_id", "family_id"}

    # when three families answer (a draft first for one): fewer than a batch
    services.draft_save(user=users[0], survey_id=survey.pk, answers={"satisfaction": 5})
    for i in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            _answer(users[i], survey, i)

    # then each left one participation and one sealed waiting response, no draft
    assert Participation.objects.filter(survey=survey).count() == 3
    assert not Draft.objects.filter(survey=survey).exists()
    assert not Response.objects.filter(survey=survey).exists()
    pending = list(PendingResponse.objects.filter(survey=survey))
    assert len(pending) == 3
    for row in pending:
        assert "建议" not in row.sealed_answers and "satisfaction" not in row.sealed_answers
        assert unseal(row.sealed_answers, purpose="surveys.pending")["satisfaction"] == 5
        with override_settings(SEALING_KEY="another-key-another-key-another-key"):
            with pytest.raises(SealError):
                unseal(row.sealed_answers, purpose="surveys.pending")

    # when up to nine have answered, nothing is released: a batch goes out only
    # while twice a batch waits, so a batch always stays for the last one
    for i in range(3, 9):
        with django_capture_on_commit_callbacks(execute=True):
            _answer(users[i], survey, i)
    assert PendingResponse.objects.filter(survey=survey).count() == 9
    assert not Response.objects.filter(survey=survey).exists()

    # when the tenth answers, a batch of five is released by the task after commit
    with django_capture_on_commit_callbacks(execute=True):
        _answer(users[9], survey, 9)
    assert PendingResponse.objects.filter(survey=survey).count() == 5
    released = Response.objects.filter(survey=survey)
    assert released.count() == 5
    assert set(released.values_list("batch", flat=True)) == {1}
    assert released.filter(family__isnull=False).exists() is False
    assert released.filter(submitted_by__isnull=False).exists() is False
    assert released.filter(submitted_at__isnull=False).exists() is False
    # the batch was written in one transaction: one xmin for its responses and
    # answers, which no participation has
    batch_xmins = _xmins("surveys_response", "survey_id = %s", [survey.pk])
    assert len(batch_xmins) == 1
    answer_xmins = _xmins(
        "surveys_answer",
        "response_id IN (SELECT id FROM surveys_response WHERE survey_id = %s)",
        [survey.pk],
    )
    assert answer_xmins == batch_xmins
    participation_xmins = _xmins("surveys_participation", "survey_id = %s", [survey.pk])
    assert participation_xmins.isdisjoint(batch_xmins)
    assert Answer.objects.filter(response__survey=survey, question__key="suggestion").count() == 5

    # when the last two answer and the survey closes, all seven waiting go out as
    # one new batch (≥ a batch); the first batch is left as it was, not rewritten
    for i in range(10, 12):
        with django_capture_on_commit_callbacks(execute=True):
            _answer(users[i], survey, i)
    assert PendingResponse.objects.filter(survey=survey).count() == 7
    with django_capture_on_commit_callbacks(execute=True):
        services.survey_close(actor=world.unit_coordinator, survey_id=survey.pk)
    assert not PendingResponse.objects.filter(survey=survey).exists()
    assert released.filter(batch=1).count() == 5 and released.filter(batch=2).count() == 7
    assert _xmins("surveys_response", "batch = 1 AND survey_id = %s", [survey.pk]) == batch_xmins
    last = _xmins("surveys_response", "batch = 2 AND survey_id = %s", [survey.pk])
    assert len(last) == 1 and last.isdisjoint(participation_xmins | batch_xmins)
    texts = set(
        Answer.objects.filter(response__survey=survey, question__key="suggestion").values_list(
            "text", flat=True
        )
    )
    assert texts == {f"建议{i}" for i in range(12)}
    survey.refresh_from_db()
    assert survey.released_batches == 2


def test_the_last_batch_holds_at_least_a_batch_whatever_the_number_of_answers(world, settings):
    # given: anonymous surveys answered by 5 to 23 families, the worker releasing
    # after every answer (as it does), then the closing
    settings.SURVEYS_ANONYMOUS_BATCH = 5
    users = _families(world, 23)
    for answered in range(5, 24):
        survey = session_survey(world, is_anonymous=True, template=with_questions().template)
        for i in range(answered):
            _answer(users[i], survey, i)
            services.anonymous_release(survey_id=survey.pk)
            # a batch always stays waiting for the last one
            assert PendingResponse.objects.filter(survey=survey).count() >= min(i + 1, 5)
        services.anonymous_release(survey_id=survey.pk, final=True)

        # then every batch, the last too, holds at least five; all were released
        sizes = list(
            Response.objects.filter(survey=survey)
            .values("batch")
            .annotate(n=Count("pk"))
            .order_by("batch")
            .values_list("n", flat=True)
        )
        assert sum(sizes) == answered and min(sizes) >= 5, (answered, sizes)
        assert sizes[:-1] == [5] * (len(sizes) - 1)


def test_fewer_answers_than_a_batch_wait_until_the_closing(world, settings):
    settings.SURVEYS_ANONYMOUS_BATCH = 5
    survey = session_survey(world, is_anonymous=True)
    users = _families(world, 3)
    for i, user in enumerate(users):
        _answer(user, survey, i)
    assert services.anonymous_release(survey_id=survey.pk) == 0
    assert not Response.objects.filter(survey=survey).exists()
    # at closing the three go out as batch 1 (results hide them: below the minimum)
    assert services.anonymous_release(survey_id=survey.pk, final=True) == 3
    assert list(Response.objects.filter(survey=survey).values_list("batch", flat=True)) == [1] * 3


def test_the_batch_is_written_in_the_shuffled_order_not_the_order_of_answering(
    tx_world, settings, monkeypatch
):
    world = tx_world
    settings.SURVEYS_ANONYMOUS_BATCH = 5
    survey = session_survey(world, is_anonymous=True)

    # a shuffler that reverses, so the test knows the order it must find
    class Reverse:
        def sample(self, rows, k):
            return list(rows)[:k]

        def shuffle(self, rows):
            rows.reverse()

    monkeypatch.setattr(services, "_random", Reverse())
    users = _families(world, 10)
    # the tenth answer's commit releases a batch: the first five waiting rows (the
    # table's order, which is the order of answering here), five stay waiting
    for i, user in enumerate(users):
        _answer(user, survey, i)
    assert PendingResponse.objects.filter(survey=survey).count() == 5
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT a.text FROM surveys_answer a JOIN surveys_question q ON q.id = a.question_id
            JOIN surveys_response r ON r.id = a.response_id
            WHERE r.survey_id = %s AND q.key = 'suggestion' ORDER BY r.ctid
            """,
            [survey.pk],
        )
        in_table = [row[0] for row in cursor.fetchall()]
    assert sorted(in_table) == [f"建议{i}" for i in range(5)]
    assert in_table == [f"建议{i}" for i in reversed(range(5))]
