"""Questionnaires at scale: a district-wide survey compared across 100 units, and
the survey roll-up against its one SQL aggregate.

The data is generate_scale_data's (reports/scale.py, ``surveys_generate``): the
district's term survey at every parent school, answered by 30% of the families
(60,000 at district-large), every fourth anonymous and released in batches, and
session surveys on every tenth held session of the current term.
"""

from __future__ import annotations

import statistics
import time

from bench.harness import BenchError, goal, record

GOAL_COMPARISON_QUERIES = (
    "Comparison of a district-wide survey: 100 units cost the same queries as 10"
)
GOAL_ROLLUP = "Survey roll-up ≤ 1.5× its single SQL aggregate"
COMPARISON_GOALS = [GOAL_COMPARISON_QUERIES]
ROLLUP_GOALS = [GOAL_ROLLUP]
RUNS = 5  # timed runs (after one to warm), the median recorded


def _median_ms(fn) -> float:
    fn()
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def _term_template():
    from reports.scale import SCALE_TERM_SURVEY
    from surveys.models import SurveyTemplate

    template = SurveyTemplate.objects.filter(alliance=None, name=SCALE_TERM_SURVEY).first()
    if template is None:
        raise BenchError(
            "no scale term survey: the data set predates the questionnaires; "
            "drop the bench database and run make bench again"
        )
    return template


def bench_survey_comparison() -> None:
    """surveys.results.template_comparison of the district's term survey by unit,
    for 10 and for 100 units (queries and median time), and the comparison page
    as the district admin (every unit) and an alliance coordinator."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from members.models import RoleAssignment
    from parent_school.models import Term
    from surveys.models import Participation, Survey
    from surveys.results import template_comparison

    template = _term_template()
    term = Term.objects.get(is_current=True)
    admin = RoleAssignment.objects.filter(role="district_admin").select_related("user").first()
    units = list(
        Survey.objects.filter(template=template, term=term)
        .order_by("unit_id")
        .values_list("unit_id", flat=True)
        .distinct()[:100]
    )
    if len(units) < 100:
        raise BenchError(f"only {len(units)} units have the term survey: use district-large")
    counts = {}
    for size in (10, 100):
        chosen = units[:size]

        def compare(chosen=chosen):
            return template_comparison(
                user=admin.user, template_id=template.pk, by="unit", unit_ids=chosen
            )

        compare()
        with CaptureQueriesContext(connection) as ctx:
            result = compare()
        counts[size] = len(ctx.captured_queries)
        ms = _median_ms(compare)
        answered = Participation.objects.filter(
            survey__template=template, survey__unit_id__in=chosen
        ).count()
        record(
            "surveys",
            f"template_comparison of the district term survey by unit, {size} units "
            f"({len(result.columns)} columns, {answered:,} answers): queries / median time",
            f"{counts[size]} / {ms:.0f} ms",
            "surveys.results.template_comparison(user=district admin, by='unit', "
            "unit_ids=…) (bench/surveys.py)",
        )
    goal(
        GOAL_COMPARISON_QUERIES,
        counts[10] == counts[100],
        f"{counts[10]} and {counts[100]} queries",
    )
    url = f"/surveys/manage/compare/?template={template.pk}&by=unit&terms={term.pk}"
    alliance = (
        RoleAssignment.objects.filter(role="alliance_coordinator").select_related("user").first()
    )
    for role, user in (("district admin", admin.user), ("alliance coordinator", alliance.user)):
        client = Client()
        client.force_login(user)
        client.get(url)
        with CaptureQueriesContext(connection) as ctx:
            status = client.get(url).status_code
        queries = len(ctx.captured_queries)
        ms = _median_ms(lambda client=client: client.get(url))
        record(
            "surveys",
            f"GET the comparison page by unit as {role} (status {status}): queries / median time",
            f"{queries} / {ms:.0f} ms",
            f"django.test.Client GET {url.split('?')[0]}?template=…&by=unit&terms=… "
            "+ CaptureQueriesContext",
        )


def bench_survey_rollup() -> None:
    """The questionnaires' part of the roll-up (reports.rollup.survey_figures,
    the SurveySnapshot upsert and 考核 for every unit target) against its one
    aggregate statement run bare through a cursor; and one unit's pass."""
    from django.db import connection, transaction
    from django.utils import timezone

    from evaluation.models import UnitTarget
    from evaluation.services import unit_targets_default
    from members.models import RoleAssignment
    from parent_school.models import Term
    from reports.models import ParticipationSnapshot, SnapshotMark, SurveySnapshot
    from reports.rollup import reporting_session, survey_figures, survey_figures_sql
    from reports.services import (
        attainment_compute,
        participation_rollup,
        snapshot_marks_rollup,
        survey_marks_write,
        survey_snapshots_write,
    )
    from surveys.models import Answer, Invitation, Participation

    _term_template()
    term = Term.objects.get(is_current=True)
    # 考核 measures something only with targets and participation rows: the
    # district's defaults for every unit (as the district admin would fill them),
    # and one full roll-up if the data set has none yet.
    if not UnitTarget.objects.filter(term=term).exists():
        admin = RoleAssignment.objects.filter(role="district_admin").select_related("user").first()
        unit_targets_default(actor=admin.user, term_id=term.pk)
    if not ParticipationSnapshot.objects.filter(term=term).exists():
        participation_rollup(term=term)
    targets = UnitTarget.objects.filter(term=term).count()
    sql, params = survey_figures_sql(term)

    def floor() -> float:
        started = time.perf_counter()
        with connection.cursor() as cursor, transaction.atomic():
            reporting_session(cursor)
            cursor.execute(sql, params)
            cursor.fetchall()
        return time.perf_counter() - started

    def rollup() -> tuple[float, int]:
        started = time.perf_counter()
        figures = survey_figures(term=term)
        with transaction.atomic():
            stamp = timezone.now()
            survey_snapshots_write(term=term, figures=figures, stamp=stamp)
            attainment_compute(term=term, stamp=stamp)
        return time.perf_counter() - started, len(figures)

    floor()
    rollup()  # warm both
    floor_s = min(floor() for _ in range(3))
    rollup_s, rows = min(rollup() for _ in range(3))
    ratio = rollup_s / floor_s
    sizes = (
        f"{Invitation.objects.count():,} invitations, {Participation.objects.count():,} answers, "
        f"{Answer.objects.count():,} answer rows"
    )
    record(
        "surveys",
        f"survey figures, bare SQL: reports.rollup.survey_figures_sql of term {term.code} "
        f"({sizes}), best of 3",
        f"{floor_s * 1000:.0f} ms",
        "cursor.execute(survey_figures_sql(term)) + fetchall (bench/surveys.py)",
    )
    record(
        "surveys",
        f"survey roll-up: survey_figures + SurveySnapshot upsert ({rows} units) + 考核 "
        f"(UnitAttainment of {targets:,} unit targets), best of 3",
        f"{rollup_s * 1000:.0f} ms",
        "reports.services.survey_snapshots_write + attainment_compute, as participation_rollup",
    )
    record("surveys", "survey roll-up / its SQL aggregate (goal ≤ 1.5×)", f"{ratio:.2f}×", "ratio")
    goal(GOAL_ROLLUP, ratio <= 1.5, f"{ratio:.2f}×, {rollup_s * 1000:.0f} ms")

    # One unit's pass: its survey row and its attainment, after a mark.
    busiest = SurveySnapshot.objects.filter(term=term).order_by("-answered").first()
    SnapshotMark.objects.all().delete()
    timings = []
    for _ in range(RUNS):
        with transaction.atomic():
            survey_marks_write(keys=[(term.pk, busiest.unit_id)])
        started = time.perf_counter()
        snapshot_marks_rollup()
        timings.append(time.perf_counter() - started)
    record(
        "surveys",
        f"incremental pass of one unit's survey row + attainment (the busiest, "
        f"{busiest.answered:,} answers): median",
        f"{statistics.median(timings) * 1000:.0f} ms",
        "reports.services.survey_marks_write + snapshot_marks_rollup (bench/surveys.py)",
    )
