import time

from django.core.management.base import BaseCommand, CommandError

from members.models import MemberUnit
from members.services import audit_log_record
from parent_school.models import Term
from reports import exports


class Command(BaseCommand):
    help = "Write the term report: the XLSX workbook or the CSV of raw rows."

    def add_arguments(self, parser):
        parser.add_argument("--term", required=True, help="term code")
        parser.add_argument("--unit", type=int, help="one unit's id (default: all units)")
        parser.add_argument("--format", required=True, choices=["xlsx", "csv"])
        parser.add_argument("--output", required=True, help="file to write")

    def handle(self, *args, term, unit, format, output, **options):
        found = Term.objects.filter(code=term).first()
        if found is None:
            raise CommandError(f"找不到学期 {term}")
        if unit is not None and not MemberUnit.objects.filter(pk=unit).exists():
            raise CommandError(f"找不到单位 {unit}")
        unit_ids = None if unit is None else [unit]
        started = time.perf_counter()
        if format == "xlsx":
            rows = exports.xlsx_write(term=found, unit_ids=unit_ids, out=output)
        else:
            with open(output, "w", encoding="utf-8", newline="") as out:
                rows = exports.csv_write(term=found, unit_ids=unit_ids, out=out)
        audit_log_record(
            actor=None,
            action=f"reports.export.{format}",
            target=found,
            data={"unit": unit, "rows": rows, "command": True, "output": output[-150:]},
        )
        elapsed = time.perf_counter() - started
        self.stdout.write(f"{output}: {rows} rows in {elapsed:.2f} s")
