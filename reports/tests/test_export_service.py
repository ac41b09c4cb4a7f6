"""One export path (reports.services): the form, the worker and the command name
the file and record the audit entry the same way; the background threshold; the
one formula-escaping rule in the report's CSV and workbook."""

import csv
import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from openpyxl import load_workbook

from bookings.models import Offering
from members.models import AuditLog
from members.privacy import spreadsheet_safe
from reports import exports, services
from reports.errors import ReportError
from reports.models import ReportJob
from reports.services import participation_rollup


@pytest.fixture
def rolled_up(dataset, people):
    participation_rollup(term=dataset.term, now=dataset.now)
    return dataset


def _entry(fmt, after=None):
    """The one export entry written since ``after`` (the audit log is append-only)."""
    entries = AuditLog.objects.filter(action=f"reports.export.{fmt}")
    if after is not None:
        entries = entries.filter(pk__gt=after.pk)
    return entries.get()


def _attachment_name(response) -> str:
    return response["Content-Disposition"].split('filename="')[1].rstrip('"')


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_form_worker_and_command_name_the_file_and_record_it_alike(
    client, rolled_up, people, settings, tmp_path, fmt, django_capture_on_commit_callbacks
):
    # given: u1's coordinator exports u1's rows; the command exports the same unit
    term, unit = rolled_up.term, rolled_up.u1
    settings.MEDIA_ROOT = tmp_path / "media"
    client.force_login(people.u1)
    form = {"term": term.code, "format": fmt, "unit": unit.pk}

    # when: inline, from the form
    inline = client.post(reverse("reports:export"), form)
    inline_entry = _entry(fmt)
    # when: in the background (threshold just below the row count)
    rows = inline_entry.data["rows"]
    settings.EXPORT_BACKGROUND_THRESHOLD = rows - 1
    with django_capture_on_commit_callbacks(execute=True):
        queued = client.post(reverse("reports:export"), form)
    job = ReportJob.objects.get(kind=services.EXPORT_KINDS[fmt])
    background_entry = _entry(fmt, after=inline_entry)
    download = client.get(reverse("reports:job_download", args=[job.pk]))
    # when: from the command, into a folder
    out = tmp_path / "out"
    out.mkdir()
    call_command("export_term_report", term=term.code, unit=unit.pk, format=fmt, output=str(out))
    command_entry = _entry(fmt, after=background_entry)

    # then: one name for the file, whoever wrote it
    name = f"term-report-{term.code}-unit{unit.pk}.{fmt}"
    assert _attachment_name(inline) == name
    assert queued.url == reverse("reports:job", args=[job.pk])
    assert job.filename == name and _attachment_name(download) == name
    assert [p.name for p in out.iterdir()] == [name]
    # then: one entry each, alike but for how it ran
    entries = [inline_entry, background_entry, command_entry]
    assert [e.data["via"] for e in entries] == ["download", "background", "command"]
    assert [e.data["job"] for e in entries] == [None, job.pk, None]
    for entry in entries:
        assert entry.target_repr == str(term)
        assert {k: v for k, v in entry.data.items() if k not in ("via", "job")} == {
            "format": fmt,
            "unit": unit.pk,
            "rows": rows,
            "file": name,
        }
    assert [e.actor for e in entries] == [people.u1, people.u1, None]


@pytest.mark.parametrize(("threshold_offset", "background"), [(0, False), (-1, True)])
def test_background_starts_one_row_past_the_threshold(
    rolled_up, people, settings, threshold_offset, background
):
    # given: the CSV of u1's coordinator has 12 rows
    rows = exports.raw_rows_count(
        term=rolled_up.term, unit_ids=services.export_unit_ids(user=people.u1, unit_id=None)
    )
    assert rows == 12
    settings.EXPORT_BACKGROUND_THRESHOLD = rows + threshold_offset
    # when
    export = services.report_export_start(actor=people.u1, term=rolled_up.term, fmt="csv")
    # then: exactly the threshold streams now; one row more is a job, recorded later
    assert (export.job is not None) is background
    assert ReportJob.objects.filter(kind=ReportJob.Kind.EXPORT_CSV).exists() is background
    assert AuditLog.objects.filter(action="reports.export.csv").exists() is not background


def test_the_command_never_goes_to_the_background(rolled_up, settings, tmp_path):
    settings.EXPORT_BACKGROUND_THRESHOLD = 0
    call_command("export_term_report", term=rolled_up.term.code, format="csv", output=str(tmp_path))
    assert not ReportJob.objects.exists()
    assert (tmp_path / f"term-report-{rolled_up.term.code}.csv").stat().st_size > 0
    assert AuditLog.objects.get(action="reports.export.csv").data["via"] == "command"


def test_the_command_refuses_an_unknown_unit(rolled_up, tmp_path):
    with pytest.raises(CommandError, match="找不到该单位"):
        call_command(
            "export_term_report",
            term=rolled_up.term.code,
            unit=999999,
            format="csv",
            output=str(tmp_path),
        )
    assert not AuditLog.objects.filter(action__startswith="reports.export").exists()


@pytest.mark.parametrize(
    ("fmt", "unit", "code"), [("pdf", None, "bad_format"), ("csv", "u2", "unknown_unit")]
)
def test_the_service_refuses_a_bad_format_or_a_unit_out_of_scope(
    rolled_up, people, fmt, unit, code
):
    unit_id = getattr(rolled_up, unit).pk if unit else None
    with pytest.raises(ReportError) as raised:
        services.report_export_start(actor=people.u1, term=rolled_up.term, fmt=fmt, unit_id=unit_id)
    assert raised.value.code == code
    assert not AuditLog.objects.filter(action__startswith="reports.export").exists()


TRICKY_NAMES = ["\t=1+1", "\r@SUM(A1)", "＝1+1", "-2 号楼"]


def test_report_csv_and_workbook_escape_with_the_one_rule(client, rolled_up, people):
    # given: text cells that start with a tab, a carriage return, full-width ＝, -
    rolled_up.u1.name = TRICKY_NAMES[0]
    rolled_up.u1.save()
    rolled_up.g1.user.display_name = TRICKY_NAMES[1]
    rolled_up.g1.user.save()
    Offering.objects.filter(pk=rolled_up.a1.offering_id).update(title=TRICKY_NAMES[2])
    rolled_up.ps_a.name = TRICKY_NAMES[3]
    rolled_up.ps_a.save()
    participation_rollup(term=rolled_up.term, now=rolled_up.now)
    client.force_login(people.admin)

    # when
    csv_response = client.post(
        reverse("reports:export"), {"term": rolled_up.term.code, "format": "csv"}
    )
    xlsx_response = client.post(
        reverse("reports:export"), {"term": rolled_up.term.code, "format": "xlsx"}
    )

    # then: every cell that held one of them is escaped exactly as Python does it
    body = b"".join(csv_response.streaming_content).decode("utf-8-sig")
    csv_cells = {cell for row in csv.reader(io.StringIO(body)) for cell in row}
    book = load_workbook(io.BytesIO(xlsx_response.content), read_only=True)
    book_cells = {cell for sheet in book.worksheets for row in sheet.values for cell in row if cell}
    for cells, newline in ((csv_cells, "\r"), (book_cells, "\n")):
        for name in TRICKY_NAMES:
            escaped = spreadsheet_safe(name).replace("\r", newline)
            assert escaped.startswith("'")
            assert escaped in cells, (name, sorted(c for c in cells if name[1:] in str(c)))
            assert name.replace("\r", newline) not in cells
