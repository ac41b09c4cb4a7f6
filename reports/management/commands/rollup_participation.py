import time

from django.core.management.base import BaseCommand, CommandError

from parent_school.models import Term
from reports.services import participation_rollup


class Command(BaseCommand):
    help = "Recompute the participation snapshots of a term (default: the current term)."

    def add_arguments(self, parser):
        parser.add_argument("--term", help="term code, e.g. 2025-2026-2")

    def handle(self, *args, term=None, **options):
        if term:
            found = Term.objects.filter(code=term).first()
            if found is None:
                raise CommandError(f"找不到学期 {term}")
        else:
            found = Term.objects.filter(is_current=True).first()
            if found is None:
                raise CommandError("没有当前学期；请用 --term 指定学期代码。")
        started = time.perf_counter()
        rows = participation_rollup(term=found)
        elapsed = time.perf_counter() - started
        self.stdout.write(f"{found.code}: {rows} snapshot rows in {elapsed:.2f} s")
