"""Load the demo alliances, parent schools, courses and events. Idempotent."""

from importlib import import_module

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils.translation import gettext as _

# Each app's demo module has ``load(stdout) -> dict[str, int]``; they run in
# dependency order, and each creates or updates by natural keys, so a second
# run changes nothing.
DEMO_MODULES = ["members.demo", "courses.demo", "events.demo"]


class Command(BaseCommand):
    help = _("载入演示数据（溪口联盟、渝中区教联体、镇海海天舒等）；可重复运行。")

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help=_("数据库中已有联盟时什么也不做（make run 使用）。"),
        )

    def handle(self, *args, if_empty=False, **options):
        from members.models import Alliance

        if if_empty and Alliance.objects.exists():
            self.stdout.write(_("数据库已有数据，跳过演示数据。"))
            return
        with transaction.atomic():
            for path in DEMO_MODULES:
                counts = import_module(path).load(stdout=self.stdout)
                for label, count in counts.items():
                    self.stdout.write(f"{label}: {count}")
        self.stdout.write(self.style.SUCCESS(_("演示数据已就绪。")))
