"""Load the demo alliances, parent schools, courses and events, with a term in
progress (sessions held, attendance, credits, event registrations, messages
sent), then compute the dashboards' figures. Idempotent."""

from importlib import import_module

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils.translation import gettext as _

# Each app's demo module has ``load(stdout) -> dict[str, int]``; they run in
# dependency order, and each creates or updates by natural keys, so a second
# run changes nothing. The courses' history (sessions held, attendance) is run
# by events.demo together with the events', in one timeline with the outbox.
DEMO_MODULES = [
    ("members.demo", {}),
    ("courses.demo", {"history": False}),
    ("events.demo", {}),
    # The growth handbook's claims (decided, proposed from the attendance above)
    # and the learning-family rules with their draft lists (not published).
    ("handbook.demo", {}),
    ("recognition.demo", {}),
    # Buddy groups: a 家伴 group with the demo parent, a 学伴 group, a booked session.
    ("groups.demo", {}),
    # The boards: a word list, the demo parent's school board (an accepted answer,
    # a post held for the queue), the alliance's announcements, the group's board.
    ("community.demo", {}),
    # Questionnaires: templates, a session's named answers, an anonymous term survey.
    ("surveys.demo", {}),
    # The evaluation loop: this term's targets, a district feedback, two actions.
    ("evaluation.demo", {}),
    # The 海天舒 guidance station: a chief and 29 mentors, weekly slots, the demo
    # parent's consultations (one booked, one held with a summary and a follow-up).
    ("guidance.demo", {}),
    # 渝中家长成长指导中心's 138 volunteers, applications waiting, service hours.
    ("volunteers.demo", {}),
    # Certificates: both alliances' rules and seals, and the coordinator's button for the term.
    ("certificates.demo", {}),
]


class Command(BaseCommand):
    help = _(
        "载入演示数据（溪口联盟、渝中区教联体、镇海海天舒等，含本学期已开课程、签到、学分、活动和消息）；可重复运行。"
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help=_("数据库中已有联盟时什么也不做（make run 使用）。"),
        )

    def handle(self, *args, if_empty=False, **options):
        from members.models import Alliance
        from reports import selectors as report_selectors
        from reports.services import participation_rollup

        if if_empty and Alliance.objects.exists():
            self.stdout.write(_("数据库已有数据，跳过演示数据。"))
            return
        with transaction.atomic():
            for path, options in DEMO_MODULES:
                counts = import_module(path).load(stdout=self.stdout, **options)
                for label, count in counts.items():
                    self.stdout.write(f"{label}: {count}")
        # The dashboards read snapshots: compute the current term's now, so they
        # show the demo's figures on first start (the nightly roll-up keeps them up).
        term = report_selectors.term_choose(code=None)
        rows = participation_rollup(term=term)
        self.stdout.write(_("统计快照：%(term)s，%(rows)s 行。") % {"term": term, "rows": rows})
        self.stdout.write(self.style.SUCCESS(_("演示数据已就绪。")))
