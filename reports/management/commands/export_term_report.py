import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from parent_school.models import Term
from reports import services
from reports.errors import ReportError


class Command(BaseCommand):
    help = (
        "Write the term report: the XLSX workbook or the CSV of raw rows. "
        "Audited like an export from the reports page (via=command)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--term", required=True, help="term code")
        parser.add_argument("--unit", type=int, help="one unit's id (default: all units)")
        parser.add_argument("--format", required=True, choices=sorted(services.EXPORT_KINDS))
        parser.add_argument(
            "--output",
            default=".",
            help="file to write, or a folder to write term-report-<term>[-unit<id>].<format> in "
            "(default: the current folder)",
        )

    def handle(self, *args, term, unit, format, output, **options):
        found = Term.objects.filter(code=term).first()
        if found is None:
            raise CommandError(f"找不到学期 {term}")
        try:
            export = services.report_export_start(
                actor=None, term=found, fmt=format, unit_id=unit, via=services.EXPORT_VIA_COMMAND
            )
        except ReportError as error:
            raise CommandError(f"{error.message}（单位 {unit}）") from error
        path = Path(output)
        if path.is_dir():
            path = path / export.filename
        started = time.perf_counter()
        rows = services.report_export_write(
            export=export, out=path, actor=None, via=services.EXPORT_VIA_COMMAND
        )
        elapsed = time.perf_counter() - started
        self.stdout.write(f"{path}: {rows} rows in {elapsed:.2f} s")
