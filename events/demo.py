"""Demo events for the Xikou alliance and Yuzhong's 教联体, with the term so far.

Units and alliances come from members.demo and are looked up by name. An event
is matched by (title, organiser unit); an existing one keeps its times, so a
second run changes nothing.

Events before today were held: the demo families (members.demo) registered,
some withdrew, staff checked them in, all through the event services at the
moments it happened (``members.demo.demo_clock``). Then the outbox replays the
history: the reminders due by now are planned at their moments and every message
the history wrote is sent when it fell due, so the delivery log shows what a term
in progress looks like and nothing old is sent on first start.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db.models import Min
from django.test.utils import override_settings
from django.utils import timezone

from bookings.models import Booking, Offering
from courses.demo import course_history_steps, demo_families, offering_history_steps
from courses.services import course_next_session_refresh
from members import demo as members_demo
from members.demo import demo_clock
from members.models import Alliance, MemberUnit
from members.sms import BaseSMSBackend
from parent_school.models import BrandProgramme

from .models import Delivery, Event, ReminderPlan, ReminderRule
from .reminders import (
    deliveries_claim_batch,
    delivery_send_batch,
    events_mark_finished,
    reminders_plan_due,
)
from .selectors import max_reminder_offset, reminder_offsets_for_offerings
from .services import (
    event_check_in,
    event_create,
    event_register,
    event_registration_cancel,
)

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))

# (alliance, unit, title, kind, audience, venue, online link, days ahead, hour, hours, capacity)
DEMO_EVENTS = [
    (
        "溪口协同育人联盟",
        "溪口镇成人文化技术学校",
        "溪口镇家校社协同育人推进会",
        Event.Kind.PROMOTION_MEETING,
        Event.Audience.EDUCATORS,
        "溪口镇成人文化技术学校三楼会议室",
        "",
        10,
        9,
        2,
        60,
    ),
    (
        "溪口协同育人联盟",
        "溪口中学",
        "家庭教育讲座：青春期亲子沟通",
        Event.Kind.LECTURE,
        Event.Audience.PARENTS,
        "溪口中学报告厅",
        "https://live.example.cn/xikou-parenting",
        6,
        19,
        1.5,
        200,
    ),
    (
        "溪口协同育人联盟",
        "溪口镇成人文化技术学校",
        "亲子实践：溪口千层饼与竹编非遗体验日",
        Event.Kind.PARENT_CHILD,
        Event.Audience.FAMILIES,
        "溪口镇武岭路社区学习点",
        "",
        17,
        14,
        3,
        40,
    ),
    (
        "渝中区“教联体”",
        "渝中家长成长指导中心",
        "家庭教育指导研讨会：社区家长学校怎么办",
        Event.Kind.SEMINAR,
        Event.Audience.EDUCATORS,
        "渝中区社区教育学院二楼报告厅",
        "",
        8,
        14,
        2.5,
        120,
    ),
    (
        "渝中区“教联体”",
        "渝中区社区教育学院",
        "工作坊：科学与AI亲子课",
        Event.Kind.WORKSHOP,
        Event.Audience.FAMILIES,
        "渝中区社区教育学院创客教室",
        "",
        12,
        10,
        2,
        30,
    ),
    (
        "渝中区“教联体”",
        "中华路小学",
        "志愿服务：社区学习中心亲子阅读角",
        Event.Kind.VOLUNTEER,
        Event.Audience.PUBLIC,
        "中华路小学图书馆",
        "",
        5,
        15,
        2,
        20,
    ),
    # Held already this term (negative days): see EVENT_HISTORY.
    (
        "溪口协同育人联盟",
        "溪口中学",
        "初一新生家长会：家校携手第一步",
        Event.Kind.LECTURE,
        Event.Audience.PARENTS,
        "溪口中学报告厅",
        "",
        -20,
        19,
        1.5,
        150,
    ),
    (
        "溪口协同育人联盟",
        "溪口镇成人文化技术学校",
        "亲子实践：武岭公园秋季亲子徒步",
        Event.Kind.PARENT_CHILD,
        Event.Audience.FAMILIES,
        "武岭公园南门集合",
        "",
        -30,
        9,
        3,
        40,
    ),
    (
        "渝中区“教联体”",
        "渝中区妇联",
        "慧育家·爱有方：家庭教育公益讲座",
        Event.Kind.LECTURE,
        Event.Audience.PARENTS,
        "渝中区妇联二楼会议室",
        "",
        -18,
        14,
        2,
        80,
    ),
]

# Who registered for each event, in order: (family key of members.demo, who,
# outcome) as in courses.demo.COURSE_HISTORY ("present"/"absent" at check-in,
# "" not checked in or still to come, "cancel" withdrew three days before).
EVENT_HISTORY = {
    "家庭教育讲座：青春期亲子沟通": [("parent", "gc", ""), ("wang", "gc", "")],
    "初一新生家长会：家校携手第一步": [
        ("parent", "gc", "present"),
        ("wang", "gc", "present"),
        ("zhou", "g", "present"),
        ("chen", "g", ""),
    ],
    "亲子实践：武岭公园秋季亲子徒步": [
        ("parent", "gc", "present"),
        ("chen", "gc", "present"),
        ("zhou", "gc", "cancel"),
        ("wang", "g", "absent"),
    ],
    "慧育家·爱有方：家庭教育公益讲座": [
        ("liu", "g", "present"),
        ("zhao", "g", "present"),
        ("sun", "g", "present"),
        ("he", "g", ""),
    ],
}

# Brand programmes (courses.demo.BRANDS) that some demo events belong to.
EVENT_BRANDS = {
    "慧育家·爱有方：家庭教育公益讲座": "慧育家·爱有方",
    "亲子实践：武岭公园秋季亲子徒步": "溪口家庭成长营",
}

# Parent–child days are announced earlier: two days and three hours before.
KIND_RULES = [(Event.Kind.PARENT_CHILD, 48 * 60), (Event.Kind.PARENT_CHILD, 3 * 60)]


def _at(day: datetime.date, hour: int) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI)


def load(stdout=None) -> dict[str, int]:
    now = timezone.now()
    today = now.astimezone(SHANGHAI).date()
    made = 0
    for scope, offset in KIND_RULES:
        ReminderRule.objects.get_or_create(scope=scope, event=None, offset_minutes=offset)
    for (
        alliance_name,
        unit_name,
        title,
        kind,
        audience,
        venue,
        online_url,
        days,
        hour,
        hours,
        capacity,
    ) in DEMO_EVENTS:
        unit = MemberUnit.objects.filter(name=unit_name).order_by("pk").first()
        if unit is None:
            continue  # members.demo did not create it: nothing to attach to
        if Event.objects.filter(title=title, organiser_unit=unit).exists():
            continue
        starts_at = _at(today + datetime.timedelta(days=days), hour)
        # Announced when the demo's history begins, like the course sessions.
        with demo_clock(members_demo.history_start(now)):
            event_create(
                created_by=None,
                title=title,
                kind=kind,
                organiser_unit=unit,
                organiser_alliance=Alliance.objects.filter(name=alliance_name).first(),
                audience=audience,
                venue=venue,
                online_url=online_url,
                description=f"{title}。欢迎报名，名额有限，满员后可进入候补名单。",
                starts_at=starts_at,
                ends_at=starts_at + datetime.timedelta(hours=hours),
                capacity=capacity,
                booking_closes_at=starts_at - datetime.timedelta(hours=2),
                status=Event.Status.PUBLISHED,
            )
        made += 1
    for title, brand_name in EVENT_BRANDS.items():
        Event.objects.filter(title=title, brand__isnull=True).update(
            brand=BrandProgramme.objects.filter(name=brand_name).first()
        )
    # The term so far, courses and events in one timeline, with the outbox
    # sending each message at its moment (courses.demo leaves its history to this).
    replay = OutboxReplay(until=now)
    members_demo.history_run(
        course_history_steps(now=now) + event_history_steps(now=now), before_each=replay.before
    )
    replay.advance(now)
    sent = replay.sent
    # What the minute beat and the catalogue sweep would have done by now: past
    # events are finished, and each course's next session is on the real present.
    events_mark_finished(now=now)
    course_next_session_refresh()
    if stdout is not None:
        stdout.write(f"活动演示数据已载入（新建 {made} 个，补发历史消息 {sent} 条）。")
    return {
        "活动": Event.objects.count(),
        "提醒规则": ReminderRule.objects.count(),
        "活动报名": Booking.objects.filter(offering__event__isnull=False).count(),
    }


def event_history_steps(*, now: datetime.datetime) -> list[members_demo.HistoryStep]:
    """EVENT_HISTORY as steps, leaving out what has not happened by ``now``: families
    register from 10:00 eight days ahead (or today), withdraw three days ahead at
    20:00, and are checked in at the door a quarter of an hour after the start."""
    guardians = demo_families()
    steps = []
    for title, plan in EVENT_HISTORY.items():
        event = Event.objects.filter(title=title).select_related("offering").first()
        if event is None:
            continue
        offering = event.offering
        start_day = offering.starts_at.astimezone(SHANGHAI).date()
        register_day = min(start_day - datetime.timedelta(days=8), now.astimezone(SHANGHAI).date())

        def book(guardian, guardian_ids, child_ids, event_id=event.pk):
            event_register(
                event_id=event_id,
                family=guardian.family,
                booked_by=guardian.user,
                guardian_ids=guardian_ids,
                child_ids=child_ids,
            )

        def cancel(booking, guardian, event_id=event.pk):
            event_registration_cancel(
                event_id=event_id, family=booking.family, cancelled_by=guardian.user
            )

        def mark(booking, present, event=event):
            event_check_in(event=event, booking_id=booking.pk, marked_by=None, present=present)

        steps += offering_history_steps(
            offering_id=offering.pk,
            plan=plan,
            guardians=guardians,
            book_at=lambda index, day=register_day: (
                _at(day, 10) + datetime.timedelta(minutes=13 * index)
            ),
            # Registration closes before the start (a family too late takes no part).
            book_until=offering.booking_closes_at or offering.starts_at,
            cancel_at=_at(start_day - datetime.timedelta(days=3), 20),
            mark_at=offering.starts_at + datetime.timedelta(minutes=15),
            book=book,
            cancel=cancel,
            mark=mark,
        )
    return [step for step in steps if step.moment < now]


class HistorySMSBackend(BaseSMSBackend):
    """Where the replayed history's texts go: nowhere. They were due in the past
    (and the demo families' numbers are made up)."""

    def send(self, message) -> None:
        return None


SEND_WINDOW = datetime.timedelta(minutes=60)


class OutboxReplay:
    """Sends what the demo's history wrote, at the moments it fell due.

    ``advance(moment)`` brings the outbox up to ``moment``: the reminder rules due
    before it are planned at their own moments (``reminders_plan_due``) and every
    due row is claimed and sent by the outbox's own functions
    (``deliveries_claim_batch``, ``delivery_send_batch``) with the clock at its
    moment: a receipt goes out minutes after the booking, a reminder before its
    session, an SMS due in the quiet hours waits for the morning, and the in-site
    notices land in the families' inboxes. E-mail and SMS go to backends that
    keep nothing, since the moments are past and the families made up.

    It works only while every unsent message in the database is the demo
    families' own: otherwise (load_demo on a database in real use) it does
    nothing, and the workers send the demo's messages as usual.
    """

    def __init__(self, *, until: datetime.datetime):
        self.until = until
        self.sent = 0
        usernames = [spec.username for spec in members_demo.DEMO_FAMILIES]
        unsent = Delivery.objects.filter(
            status__in=[Delivery.Status.PENDING, Delivery.Status.CLAIMED]
        )
        self.active = not unsent.exclude(user__username__in=usernames).exists()
        since = members_demo.history_start(until)
        horizon = datetime.timedelta(minutes=max_reminder_offset())
        # Every open offering of the demo's period: rules of one nobody booked
        # plan nothing, as on the real beat.
        offerings = list(
            Offering.objects.filter(
                status=Offering.Status.OPEN, starts_at__gt=since, starts_at__lte=until + horizon
            )
        )
        offsets = reminder_offsets_for_offerings(offerings)
        planned = set(
            ReminderPlan.objects.filter(offering__in=offerings).values_list(
                "offering_id", "offset_minutes"
            )
        )
        # The moments of the rules not planned yet (a second load finds none).
        self.moments = sorted(
            {
                moment
                for offering in offerings
                for offset in offsets[offering.pk]
                if (offering.pk, offset) not in planned
                and since <= (moment := offering.starts_at - datetime.timedelta(minutes=offset))
                and moment < until
            }
        )

    def before(self, step: members_demo.HistoryStep) -> None:
        """Catch up before a cancellation or a roster: they change what an unsent
        message says or whether it goes. A booking changes no other family's
        messages, so the receipts of a morning's bookings go out together."""
        if step.kind != "book":
            self.advance(step.moment)

    def advance(self, moment: datetime.datetime) -> None:
        if not self.active:
            return
        target = min(moment, self.until)
        with override_settings(
            EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
            SMS_BACKEND="events.demo.HistorySMSBackend",
            SMS_OPTIONS={},
        ):
            for _step in range(MAX_REPLAY_STEPS):
                step = self._next(target)
                if step is None:
                    return
                with demo_clock(step):
                    if self.moments and self.moments[0] <= step:
                        while self.moments and self.moments[0] <= step:
                            self.moments.pop(0)
                        reminders_plan_due(now=step)
                    self._send_due(step)

    def _next(self, target: datetime.datetime) -> datetime.datetime | None:
        """The next moment before ``target`` at which the outbox has work."""
        due = Delivery.objects.filter(status=Delivery.Status.PENDING, due_at__lt=target).aggregate(
            first=Min("due_at")
        )["first"]
        if due is not None:
            # Workers send within the minute; the replay sends what fell due
            # within the hour together (one claim, not one each), never past
            # the next step of the history.
            due = min(due + SEND_WINDOW, target - datetime.timedelta(microseconds=1))
        candidates = [m for m in (due, self.moments[0] if self.moments else None) if m]
        step = min(candidates, default=None)
        return step if step is not None and step < target else None

    def _send_due(self, moment: datetime.datetime) -> None:
        limit = settings.REMINDER_BATCH_SIZE
        while True:
            token, ids = deliveries_claim_batch(now=moment, limit=limit)
            if ids:
                outcome = delivery_send_batch(delivery_ids=ids, claim_token=str(token))
                self.sent += outcome.get("sent", 0)
            if len(ids) < limit:
                return


SEND_WINDOW = datetime.timedelta(minutes=60)
# Safety bound on the outbox's steps between two history steps.
MAX_REPLAY_STEPS = 2000
