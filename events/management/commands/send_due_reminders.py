"""Run one reminder pass by hand: exactly what the beat entry does each minute."""

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from events.reminders import reminder_pass_run


class Command(BaseCommand):
    help = _("执行一次提醒发送（与每分钟的定时任务完全相同）。")

    def handle(self, *args, **options):
        result = reminder_pass_run()
        self.stdout.write(
            _("新计划 %(planned)s 条，领取 %(claimed)s 条，派发 %(tasks)s 个发送任务。")
            % {"planned": result.planned, "claimed": result.claimed, "tasks": result.tasks}
        )
