"""The term report as CSV (against psql \\copy) and as a workbook."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from bench.harness import (
    BENCH_URL,
    PYTHON,
    goal,
    record,
    timed_child,
)

GOAL_CSV = "CSV within 3× of \\copy, peak memory under 300 MB"


# --- 4. CSV export vs psql \copy -------------------------------------------------------------


def bench_csv() -> None:
    from django.db import connection

    from parent_school.models import Term
    from reports.exports import raw_rows_queryset

    term = Term.objects.get(is_current=True)
    term_code = term.code
    out_dir = Path(tempfile.mkdtemp(prefix="bench-csv-"))
    try:
        ours = out_dir / "export.csv"
        command = [
            PYTHON,
            "manage.py",
            "export_term_report",
            "--term",
            term_code,
            "--format",
            "csv",
            "--output",
            str(ours),
        ]
        export_s, export_mb, _ = timed_child(command)
        qs = raw_rows_queryset(term=term, unit_ids=None)
        sql, params = qs.query.sql_with_params()
        with connection.cursor() as cursor:
            literal = cursor.mogrify(sql, params) if hasattr(cursor, "mogrify") else None
        if literal is None:
            literal = connection.ops.compose_sql(sql, params)
        copy_file = out_dir / "copy.csv"
        copy_cmd = ["psql", BENCH_URL, "-c", f"\\copy ({literal}) TO '{copy_file}' WITH CSV HEADER"]
        copy_s, copy_mb, _ = timed_child(copy_cmd)
        goal(
            GOAL_CSV,
            export_s / copy_s <= 3 and export_mb < 300,
            f"{export_s / copy_s:.2f}×, {export_mb:.0f} MB",
        )
        rows_ours = sum(1 for _ in ours.open(encoding="utf-8")) - 1
        rows_copy = sum(1 for _ in copy_file.open(encoding="utf-8")) - 1
        record(
            "csv export",
            f"export_term_report --format csv ({rows_ours:,} rows): time / peak RSS",
            f"{export_s:.2f} s / {export_mb:.0f} MB",
            " ".join(command[1:]).replace(str(ours), "/tmp/term.csv"),
        )
        record(
            "csv export",
            f"psql \\copy of the same query ({rows_copy:,} rows): time / peak RSS",
            f"{copy_s:.2f} s / {copy_mb:.0f} MB",
            "psql $BENCH_DATABASE_URL -c \"\\copy (<the export's SQL>) TO '/tmp/copy.csv' CSV HEADER\"",
        )
        record(
            "csv export",
            "export / \\copy time (goal ≤ 3×, peak memory < 300 MB)",
            f"{export_s / copy_s:.2f}×",
            "ratio of the two figures above",
        )
        # The workbook of the whole district (summary, sessions, roster) in the
        # same way; roster sheets continue on "(2)" past 1,000,000 rows.
        book = out_dir / "term.xlsx"
        xlsx_cmd = [*command[:-3], "xlsx", "--output", str(book)]
        xlsx_s, xlsx_mb, xlsx_out = timed_child(xlsx_cmd)
        record(
            "xlsx export",
            f"export_term_report --format xlsx, all units ({xlsx_out.split(': ')[-1].split(' in')[0]}):"
            " time / peak RSS / file size",
            f"{xlsx_s:.2f} s / {xlsx_mb:.0f} MB / {book.stat().st_size / 1e6:.0f} MB",
            " ".join(xlsx_cmd[1:]).replace(str(book), "/tmp/term.xlsx"),
        )
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
