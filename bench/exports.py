"""The term report as CSV (against psql \\copy) and as a workbook."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from bench import xlsx_writers
from bench.harness import (
    BENCH_URL,
    PYTHON,
    goal,
    notes,
    record,
    timed_child,
)

GOAL_CSV = "CSV within 3× of \\copy, peak memory under 300 MB"
GOAL_XLSX = "Workbook ≤ 2× the CSV's cost per row, peak memory < 300 MB"
#: Rows each writer of the comparison writes (the first of the district's roster).
COMPARE_ROWS = int(os.environ.get("BENCH_XLSX_COMPARE_ROWS", "200000"))
#: BENCH_XLSX_COMPARE=0 leaves the writer comparison out (to re-time the two exports
#: alone); ``make bench`` runs it.
COMPARE = os.environ.get("BENCH_XLSX_COMPARE", "1") != "0"


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
        # same way; roster sheets continue on "(2)" past 1,000,000 rows. Its goal
        # compares the cost per row with the CSV's, so both are run twice, one
        # after the other, and the faster of each pair counts (the machine is
        # shared: a single run can be slowed by a neighbour).
        book = out_dir / "term.xlsx"
        xlsx_cmd = [*command[:-3], "xlsx", "--output", str(book)]
        xlsx_runs = [timed_child(xlsx_cmd)]
        csv_runs = [(export_s, export_mb, "")]
        csv_runs.append(timed_child(command))
        xlsx_runs.append(timed_child(xlsx_cmd))
        xlsx_s, xlsx_mb = min(r[0] for r in xlsx_runs), max(r[1] for r in xlsx_runs)
        csv_s = min(r[0] for r in csv_runs)
        xlsx_rows = int(re.search(r": (\d+) rows in", xlsx_runs[-1][2]).group(1))
        ratio = (xlsx_s / xlsx_rows) / (csv_s / rows_ours)
        goal(
            GOAL_XLSX,
            ratio <= 2 and xlsx_mb < 300,
            f"{ratio:.2f}×, {xlsx_mb:.0f} MB",
        )
        record(
            "xlsx export",
            f"export_term_report --format xlsx, all units ({xlsx_rows:,} rows):"
            " time / peak RSS / file size (faster of two runs)",
            f"{xlsx_s:.2f} s / {xlsx_mb:.0f} MB / {book.stat().st_size / 1e6:.0f} MB",
            " ".join(xlsx_cmd[1:]).replace(str(book), "/tmp/term.xlsx"),
        )
        record(
            "xlsx export",
            f"export_term_report --format csv ({rows_ours:,} rows), faster of two runs",
            f"{csv_s:.2f} s",
            " ".join(command[1:]).replace(str(ours), "/tmp/term.csv"),
        )
        record(
            "xlsx export",
            "workbook / CSV cost per row (goal ≤ 2×, peak memory < 300 MB)",
            f"{ratio:.2f}×",
            "(xlsx s / xlsx rows) / (csv s / csv rows), the figures above; runs: xlsx "
            + ", ".join(f"{r[0]:.1f}" for r in xlsx_runs)
            + " s, csv "
            + ", ".join(f"{r[0]:.1f}" for r in csv_runs)
            + " s",
        )
        if COMPARE:
            compare_writers(out_dir)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def compare_writers(out_dir: Path) -> None:
    """openpyxl, XlsxWriter, rustpy-xlsxwriter and the portal's writer on the same
    rows (bench/xlsx_writers.py), each in a process of its own."""
    for writer in xlsx_writers.WRITERS:
        out = out_dir / f"compare-{writer}.xlsx"
        command = [PYTHON, "-m", "bench.xlsx_writers", writer, str(COMPARE_ROWS), str(out)]
        _wall, peak_mb, output = timed_child(command)
        found = re.search(r"(\d+) rows in ([\d.]+) s", output)
        rows, seconds = int(found.group(1)), float(found.group(2))
        size = out.stat().st_size / 1e6
        out.unlink()
        record(
            "xlsx writers",
            f"{xlsx_writers.LABELS[writer]}: {rows:,} roster rows, rows/s written"
            " (fetch excluded) / peak RSS / file",
            f"{rows / seconds:,.0f} rows/s / {peak_mb:.0f} MB / {size:.1f} MB",
            f"python -m bench.xlsx_writers {writer} {COMPARE_ROWS} /tmp/{writer}.xlsx",
        )
    notes.append(
        "xlsx writers: the same rows from the database for each, written with the "
        "workbook's formats; rows/s counts the writing (the fetch, the same for all, is "
        "timed apart); the portal writes with rvgsrust-xlsxwriter."
    )
