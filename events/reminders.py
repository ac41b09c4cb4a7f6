"""The outbox: every message the portal sends to a person, once, on time.

Reminders, time changes, cancellations, booking receipts, promotion notices,
withdrawal receipts (courses and events alike) and co-guardian invitations are
all ``Delivery`` rows: one per recipient and channel, with a unique key. Notices
are written in the transaction of the change they report (the receivers in
events/receivers.py listen to the signals of bookings and members); reminders
are planned when their moment comes. Workers send them after the commit; the
beat pass sends whatever a lost "kick" left pending.

How it works (details and the trade-offs in docs/EVENTS.md):

1. **Plan.** Once a minute the reminder pass looks at offerings (events and
   course sessions) starting within the largest reminder offset. A rule whose
   moment has come is *planned* once (``ReminderPlan``): one ``Delivery`` row
   per guardian and chosen channel, for families confirmed by that moment.
   Families that registered later never get that reminder. A moved start is a
   new moment, hence a new plan; the old rows no longer match and are skipped.
2. **Claim.** Due rows are claimed in bounded batches with ``SELECT … FOR
   UPDATE SKIP LOCKED`` (pending → claimed, with a fresh claim token and
   ``claimed_at``); rows whose claim is older than the lease are claimed again.
   Claimed ids go to workers in small send tasks, after the commit.
3. **Send.** A send task locks each row (``SKIP LOCKED``), checks it still holds
   the task's claim token, sends and marks it sent. The in-site notice is
   written in the same transaction as "sent" (exactly once). For SMTP the row
   is committed as sent *before* the message's final ``.`` is written, so a
   worker killed at any point either left the message unfinished (the server
   drops it, the row rolls back and is sent again) or finished it with the row
   already marked sent: no message goes out twice.
"""

from __future__ import annotations

import datetime
import logging
import re
import smtplib
import uuid
from dataclasses import dataclass, field
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.message import sanitize_address
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from bookings.models import Booking, Offering
from members.formatting import when_label
from members.models import FamilyInvitation, Guardian, User
from members.sms import send_sms
from notifications.selectors import (
    notification_preference_for,
    notification_sms_phone,
    sms_allowed_from,
)
from notifications.services import notification_create

from .ics import calendar_bytes
from .models import Delivery, Event, ReminderPlan
from .selectors import (
    OfferingInfo,
    max_reminder_offset,
    offering_info,
    reminder_offsets_for_offerings,
)

logger = logging.getLogger(__name__)

# How many ids one send task carries: small, so a killed worker strands few
# rows until their lease runs out, yet one SMTP connection serves several.
SEND_CHUNK = 25
# A reminder planned more than this after its moment is marked late.
LATE_AFTER = datetime.timedelta(minutes=10)


@dataclass
class PassResult:
    planned: int = 0
    claimed: int = 0
    tasks: int = 0
    claimed_ids: list[int] = field(default_factory=list)


# --- planning ---------------------------------------------------------------


def _recipient_rows(bookings: list[tuple[int, int]]):
    """(booking_id, guardian) for every guardian of the booked families."""
    by_family: dict[int, list[int]] = {}
    for booking_id, family_id in bookings:
        by_family.setdefault(family_id, []).append(booking_id)
    guardians = (
        Guardian.objects.filter(family_id__in=list(by_family))
        .select_related("user", "user__notification_preference")
        .order_by("pk")
    )
    for guardian in guardians:
        if not guardian.user.is_active:
            continue
        for booking_id in by_family[guardian.family_id]:
            yield booking_id, guardian


def _channel_rows(
    guardian: Guardian, *, scheduled_for, due_at, starts_at, **fields
) -> list[Delivery]:
    user = guardian.user
    preference = notification_preference_for(user=user)
    rows = []
    if preference.in_site:
        rows.append(Delivery(channel=Delivery.Channel.INBOX, due_at=due_at, **fields))
    if preference.by_email and user.email:
        rows.append(Delivery(channel=Delivery.Channel.EMAIL, due_at=due_at, **fields))
    phone = notification_sms_phone(user=user, guardian=guardian)
    if preference.by_sms and phone:
        sms_due = sms_allowed_from(preference=preference, when=due_at)
        row = Delivery(channel=Delivery.Channel.SMS, due_at=sms_due, **fields)
        if sms_due != due_at and starts_at is not None and sms_due >= starts_at:
            # Quiet hours last until the start: better no text than a 07:00 text
            # about something that already began.
            row.status = Delivery.Status.SKIPPED
            row.note = _("免打扰时段持续到开始之后，未发短信。")
        elif sms_due != due_at:
            row.note = _("免打扰时段，短信推迟到 %(time)s。") % {
                "time": f"{timezone.localtime(sms_due):%H:%M}"
            }
        rows.append(row)
    for row in rows:
        row.user = user
        row.scheduled_for = scheduled_for
    return rows


def _create_rows(
    *,
    offering: Offering,
    bookings: list[tuple[int, int]],
    purpose: str,
    offset_minutes: int,
    scheduled_for,
    due_at,
    is_late: bool = False,
    skip_starts_at=True,
) -> int:
    rows: list[Delivery] = []
    for booking_id, guardian in _recipient_rows(bookings):
        rows.extend(
            _channel_rows(
                guardian,
                scheduled_for=scheduled_for,
                due_at=due_at,
                starts_at=offering.starts_at if skip_starts_at else None,
                offering_id=offering.pk,
                booking_id=booking_id,
                purpose=purpose,
                offset_minutes=offset_minutes,
                is_late=is_late,
            )
        )
    # The unique key (recipient, offering, purpose, offset, moment, channel)
    # makes planning twice harmless.
    created = Delivery.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
    return len(created)


def _plan_rule(offering: Offering, offset: int, scheduled_for, now) -> int:
    try:
        with transaction.atomic():
            plan = ReminderPlan.objects.create(
                offering=offering, offset_minutes=offset, scheduled_for=scheduled_for
            )
            eligible = list(
                Booking.objects.filter(
                    offering=offering,
                    status=Booking.Status.CONFIRMED,
                    confirmed_at__lte=scheduled_for,
                    family__isnull=False,
                ).values_list("pk", "family_id")
            )
            created = _create_rows(
                offering=offering,
                bookings=eligible,
                purpose=Delivery.Purpose.REMINDER,
                offset_minutes=offset,
                scheduled_for=scheduled_for,
                due_at=max(scheduled_for, now),
                is_late=now - scheduled_for > LATE_AFTER,
            )
            plan.created = created
            plan.save(update_fields=["created"])
            return created
    except IntegrityError:
        return 0  # another pass planned it first


def _skip_rule(offering: Offering, offset: int, scheduled_for) -> None:
    ReminderPlan.objects.bulk_create(
        [
            ReminderPlan(
                offering=offering, offset_minutes=offset, scheduled_for=scheduled_for, skipped=True
            )
        ],
        ignore_conflicts=True,
    )


def reminders_plan_due(*, now: datetime.datetime) -> int:
    """Plan every rule whose moment has come; returns the delivery rows made."""
    horizon = now + datetime.timedelta(minutes=max_reminder_offset())
    offerings = list(
        Offering.objects.filter(status=Offering.Status.OPEN, starts_at__gt=now)
        .filter(starts_at__lte=horizon)
        .exclude(event__status__in=[Event.Status.DRAFT, Event.Status.CANCELLED])
        .order_by("starts_at", "pk")
    )
    if not offerings:
        return 0
    offsets = reminder_offsets_for_offerings(offerings)
    planned = set(
        ReminderPlan.objects.filter(offering__in=offerings).values_list(
            "offering_id", "offset_minutes", "scheduled_for"
        )
    )
    created = 0
    for offering in offerings:
        due = [
            (offset, offering.starts_at - datetime.timedelta(minutes=offset))
            for offset in offsets[offering.pk]
            if offering.starts_at - datetime.timedelta(minutes=offset) <= now
        ]
        unplanned = [(o, s) for o, s in due if (offering.pk, o, s) not in planned]
        if not unplanned:
            continue
        # Only the latest due rule goes out: after an outage nobody gets the
        # 24-hour and the 2-hour reminder in the same minute.
        latest = min(o for o, _s in due)
        for offset, scheduled_for in unplanned:
            if offset == latest:
                created += _plan_rule(offering, offset, scheduled_for, now)
            else:
                _skip_rule(offering, offset, scheduled_for)
    return created


def reminders_skip_passed(*, offering: Offering, now: datetime.datetime) -> None:
    """After a move: rules whose new moment has already passed are not sent (the
    families have just been told the new time)."""
    offsets = reminder_offsets_for_offerings([offering])[offering.pk]
    for offset in offsets:
        scheduled_for = offering.starts_at - datetime.timedelta(minutes=offset)
        if scheduled_for <= now:
            _skip_rule(offering, offset, scheduled_for)


def reminders_for_promoted(
    *, offering: Offering, bookings: list[Booking], now: datetime.datetime | None = None
) -> int:
    """Families promoted after a rule's moment get the latest passed reminder at
    once, marked late; later rules are planned as usual. Called inside the
    promoting transaction (events/receivers.py), so it commits with the promotion."""
    now = now or timezone.now()
    if offering.status != Offering.Status.OPEN or offering.starts_at <= now:
        return 0
    offsets = reminder_offsets_for_offerings([offering])[offering.pk]
    passed = [o for o in offsets if offering.starts_at - datetime.timedelta(minutes=o) <= now]
    if not passed:
        return 0
    offset = min(passed)
    made = _create_rows(
        offering=offering,
        bookings=[(b.pk, b.family_id) for b in bookings if b.family_id is not None],
        purpose=Delivery.Purpose.REMINDER,
        offset_minutes=offset,
        scheduled_for=offering.starts_at - datetime.timedelta(minutes=offset),
        due_at=now,
        is_late=True,
    )
    if made:
        _kick_after_commit()
    return made


def booking_notices_create(
    *,
    offering: Offering,
    bookings: list[Booking],
    purpose: str,
    moment: datetime.datetime | None = None,
    now: datetime.datetime | None = None,
) -> int:
    """A receipt, promotion notice or withdrawal receipt for each booking's
    family: one row per guardian and chosen channel, due ``now`` (an SMS in the
    guardian's quiet hours later). Call inside the transaction of the change
    (events/receivers.py); the per-booking unique key makes a second call harmless."""
    now = now or timezone.now()
    made = _create_rows(
        offering=offering,
        bookings=[(b.pk, b.family_id) for b in bookings if b.family_id is not None],
        purpose=purpose,
        offset_minutes=0,
        scheduled_for=moment or now,
        due_at=now,
    )
    if made:
        _kick_after_commit()
    return made


def invitation_notice_create(
    *, invitation: FamilyInvitation, base_url: str = "", now: datetime.datetime | None = None
) -> int:
    """The one message that carries a co-guardian invitation, to the phone or
    email the inviter gave (the invitee may have no account yet).

    Sent at once: the inviter asked for it now and a stranger has no preferences
    on file. If the phone already belongs to an active account, that account's
    SMS quiet hours apply. The unique key (invitation, channel) makes a
    repeated signal or a duplicated task send it once.
    """
    now = now or timezone.now()
    row = Delivery(
        purpose=Delivery.Purpose.INVITATION,
        invitation=invitation,
        base_url=(base_url or "")[:200],
        scheduled_for=invitation.created_at or now,
        due_at=now,
    )
    if invitation.phone:
        row.channel, row.address = Delivery.Channel.SMS, invitation.phone
        account = (
            User.objects.filter(phone=invitation.phone, is_active=True)
            .select_related("notification_preference")
            .first()
        )
        if account is not None:
            preference = notification_preference_for(user=account)
            row.due_at = sms_allowed_from(preference=preference, when=now)
            if row.due_at != now:
                row.note = _("免打扰时段，短信推迟到 %(time)s。") % {
                    "time": f"{timezone.localtime(row.due_at):%H:%M}"
                }
    else:
        row.channel, row.address = Delivery.Channel.EMAIL, invitation.email
    made = len(Delivery.objects.bulk_create([row], ignore_conflicts=True))
    _kick_after_commit()
    return made


def notices_create(
    *,
    offering: Offering,
    purpose: str,
    statuses=(Booking.Status.CONFIRMED,),
    booking_ids: list[int] | None = None,
    moment: datetime.datetime | None = None,
) -> int:
    """Notice rows (confirmation, time changed, cancelled) due now; a pass is
    kicked after the commit, and the beat pass sends them if the kick is lost."""
    now = moment or timezone.now()
    bookings = Booking.objects.filter(offering=offering, status__in=statuses, family__isnull=False)
    if booking_ids is not None:
        bookings = bookings.filter(pk__in=booking_ids)
    made = _create_rows(
        offering=offering,
        bookings=list(bookings.values_list("pk", "family_id")),
        purpose=purpose,
        offset_minutes=0,
        scheduled_for=now,
        due_at=now,
        skip_starts_at=purpose != Delivery.Purpose.CANCELLED,
    )
    if made:
        _kick_after_commit()
    return made


def _kick_after_commit() -> None:
    """Ask for a send pass once the transaction commits. ``robust``: a failing
    kick must not turn a committed change into an error page (the beat pass
    sends the rows). One change may kick more than once; the later passes find
    the rows claimed (SKIP LOCKED) and send nothing twice."""
    transaction.on_commit(deliveries_kick, robust=True)


def deliveries_kick() -> None:
    """Ask a worker to send due rows now (claim only: a burst of registrations
    must not mean a burst of planning). If the broker is down, nothing breaks:
    the rows are pending and the next beat pass sends them."""
    from .tasks import deliveries_dispatch

    try:
        deliveries_dispatch.apply_async(retry=False)
    except Exception:
        logger.warning("broker unreachable; the next reminder pass will send", exc_info=True)


# --- claiming ---------------------------------------------------------------


def deliveries_claim_batch(*, now: datetime.datetime, limit: int) -> tuple[uuid.UUID, list[int]]:
    """Claim up to ``limit`` due rows (or rows whose claim lease ran out)."""
    real_now = timezone.now()
    lease = datetime.timedelta(seconds=settings.REMINDER_CLAIM_LEASE_SECONDS)
    token = uuid.uuid4()
    with transaction.atomic():
        ids = list(
            Delivery.objects.filter(
                Q(status=Delivery.Status.PENDING, due_at__lte=now)
                | Q(status=Delivery.Status.CLAIMED, claimed_at__lt=real_now - lease)
            )
            .order_by("due_at", "pk")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return token, []
        # A row claimed this often keeps losing its worker: stop trying.
        Delivery.objects.filter(pk__in=ids, claims__gte=settings.REMINDER_MAX_CLAIMS).update(
            status=Delivery.Status.FAILED,
            claim_token=None,
            note=_("多次领取仍未发出（发送进程反复中断）。"),
        )
        Delivery.objects.filter(pk__in=ids, claims__lt=settings.REMINDER_MAX_CLAIMS).update(
            status=Delivery.Status.CLAIMED,
            claim_token=token,
            claimed_at=real_now,
            claims=F("claims") + 1,
        )
        claimed = list(
            Delivery.objects.filter(pk__in=ids, claim_token=token)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        transaction.on_commit(lambda: _dispatch(claimed, token))
    return token, claimed


def _dispatch(ids: list[int], token: uuid.UUID) -> int:
    from .tasks import deliveries_send

    sent = 0
    for start in range(0, len(ids), SEND_CHUNK):
        chunk = ids[start : start + SEND_CHUNK]
        try:
            deliveries_send.apply_async(args=[chunk, str(token)], retry=False)
            sent += 1
        except Exception:
            # The rows stay claimed; their lease runs out and a later pass
            # claims them again.
            logger.warning("could not queue %s deliveries", len(chunk), exc_info=True)
            break
    return sent


def deliveries_dispatch_due(*, now: datetime.datetime | None = None) -> PassResult:
    """Claim due rows and hand them to workers (no planning).

    Bounded: at most REMINDER_MAX_BATCHES_PER_PASS batches of
    REMINDER_BATCH_SIZE rows (500 × 20 by default), so one pass ends well
    inside a minute and a backlog drains over the next passes.
    """
    now = now or timezone.now()
    result = PassResult()
    for _batch in range(settings.REMINDER_MAX_BATCHES_PER_PASS):
        _token, ids = deliveries_claim_batch(now=now, limit=settings.REMINDER_BATCH_SIZE)
        result.claimed += len(ids)
        result.claimed_ids.extend(ids)
        result.tasks += (len(ids) + SEND_CHUNK - 1) // SEND_CHUNK
        if len(ids) < settings.REMINDER_BATCH_SIZE:
            break
    return result


def events_mark_finished(*, now: datetime.datetime) -> int:
    """Published events whose end has passed become "finished" (lists and statistics)."""
    return Event.objects.filter(status=Event.Status.PUBLISHED, offering__ends_at__lt=now).update(
        status=Event.Status.FINISHED, updated_at=now
    )


def reminder_pass_run(*, now: datetime.datetime | None = None) -> PassResult:
    """One beat pass: plan due reminders, then claim and dispatch due rows."""
    now = now or timezone.now()
    planned = reminders_plan_due(now=now)
    result = deliveries_dispatch_due(now=now)
    result.planned = planned
    events_mark_finished(now=min(now, timezone.now()))
    return result


# --- sending ----------------------------------------------------------------


class _SmtpStage:
    """Speaks SMTP up to, but not including, the final ``.`` of a message.

    ``stage`` sends MAIL, RCPT, DATA and the content; ``finish`` sends the
    terminating dot and checks the reply; ``abort`` drops the connection, and an
    SMTP server discards a message whose DATA never ended.
    """

    def __init__(self):
        self.backend = get_connection()
        self.is_smtp = isinstance(self.backend, SMTPBackend)
        self.staged = False

    def _smtp(self) -> smtplib.SMTP:
        if self.backend.connection is None:
            self.backend.open()
        return self.backend.connection

    def stage(self, message: EmailMultiAlternatives) -> None:
        if not self.is_smtp:
            # Other backends (console, locmem) have no "almost sent": send now.
            self.backend.send_messages([message])
            return
        encoding = message.encoding or settings.DEFAULT_CHARSET
        smtp = self._smtp()
        smtp.ehlo_or_helo_if_needed()
        sender = sanitize_address(message.from_email, encoding)
        code, reply = smtp.mail(sender)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, reply, sender)
        for recipient in message.recipients():
            code, reply = smtp.rcpt(sanitize_address(recipient, encoding))
            if code not in (250, 251):
                raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
        smtp.putcmd("data")
        code, reply = smtp.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        data = message.message().as_bytes(linesep="\r\n")
        data = re.sub(rb"(?m)^\.", b"..", data)
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        smtp.send(data)
        self.staged = True

    def finish(self) -> None:
        if not self.staged:
            return
        smtp = self._smtp()
        self.staged = False
        smtp.send(b".\r\n")
        code, reply = smtp.getreply()
        if code != 250:
            raise smtplib.SMTPDataError(code, reply)

    def abort(self) -> None:
        self.staged = False
        if self.is_smtp and self.backend.connection is not None:
            try:
                self.backend.connection.close()
            finally:
                self.backend.connection = None

    def close(self) -> None:
        if self.staged:
            self.abort()
        try:
            self.backend.close()
        except Exception:  # closing a broken connection must not hide the result
            logger.debug("closing the SMTP connection failed", exc_info=True)


def _skip_reason(delivery: Delivery, now) -> str:
    """Why a claimed row should no longer go out ("" = send it)."""
    purpose = delivery.purpose
    if delivery.user_id is not None and not delivery.user.is_active:
        return _("账号已停用。")
    if purpose == Delivery.Purpose.INVITATION:
        invitation = delivery.invitation
        if invitation is None or not invitation.is_open:
            return _("邀请已被接受、撤回或已过期。")
        return ""
    if purpose == Delivery.Purpose.CANCELLED:
        return ""
    booking = delivery.booking
    if purpose == Delivery.Purpose.WITHDRAWN:
        # The receipt stays true whatever happens to the offering afterwards.
        if booking is None or booking.family_id is None:
            return _("家庭已删除。")
        return ""
    offering = delivery.offering
    if offering.status == Offering.Status.CANCELLED:
        return _("活动已取消。")
    if booking is None or booking.status == Booking.Status.CANCELLED:
        return _("报名已取消。")
    if purpose == Delivery.Purpose.PROMOTED and offering.starts_at <= now:
        return _("已经开始，不再通知。")
    if delivery.purpose == Delivery.Purpose.REMINDER:
        if booking.status != Booking.Status.CONFIRMED:
            return _("报名已取消。")
        if offering.starts_at <= now:
            return _("已经开始，不再提醒。")
        expected = offering.starts_at - datetime.timedelta(minutes=delivery.offset_minutes)
        if delivery.scheduled_for != expected:
            return _("时间已变更，按新时间提醒。")
    return ""


def _absolute(base_url: str, path: str) -> str:
    return (base_url or settings.PORTAL_BASE_URL).rstrip("/") + path if path else ""


def _render_invitation(delivery: Delivery) -> dict[str, str]:
    invitation = delivery.invitation
    link = _absolute(
        delivery.base_url,
        reverse("members:invitation_accept", kwargs={"token": invitation.token}),
    )
    inviter = invitation.invited_by.display_name if invitation.invited_by else ""
    values = {
        "relation": invitation.get_relation_display(),
        "days": settings.FAMILY_INVITATION_DAYS,
        "link": link,
    }
    subject = _("【协同育人门户】邀请您加入家庭")
    text = _(
        "您好！\n\n%(inviter)s邀请您作为%(relation)s加入协同育人门户上的家庭，"
        "一起为孩子报名家长学校课程和联盟活动。\n\n"
        "请在%(days)s天内打开下面的链接，注册或登录后接受邀请：\n%(link)s\n\n"
        "如果您不认识邀请人，请忽略这封邮件。"
    ) % {**values, "inviter": inviter or _("您的家人")}
    # members.sms.send_sms puts the signature in front.
    sms = _(
        "%(inviter)s邀请您作为%(relation)s加入家庭，一起为孩子报名课程和活动。%(days)s天内有效：%(link)s"
    ) % {**values, "inviter": inviter or _("家人")}
    return {"subject": subject, "lead": text, "text": text, "html": "", "sms": sms, "path": ""}


def _path_for(delivery: Delivery, info: OfferingInfo) -> str:
    """Where the message points: the event or course page; a promoted course
    family goes to My learning, where its sessions are."""
    if (
        delivery.purpose == Delivery.Purpose.PROMOTED
        and delivery.offering.kind == Offering.Kind.COURSE_SESSION
    ):
        # 我的学习 is /me/ (portal:my_learning; courses:my_learning before it moved).
        for name in ("portal:my_learning", "courses:my_learning"):
            try:
                return reverse(name)
            except NoReverseMatch:
                continue
    return info.path


# Texts are billed per 70 Chinese characters (67 once split): names and places
# are cut so that a text with a link stays within two parts, most within one.
SMS_TITLE_CHARS = 20
SMS_PLACE_CHARS = 16


def _short(text: str, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _sms_text(delivery: Delivery, info: OfferingInfo, *, when: str, link: str) -> str:
    """The text message: what, when (with the weekday), where or 线上; a promotion
    adds the link. members.sms.send_sms puts the signature in front."""
    purpose = delivery.purpose
    booking = delivery.booking
    place = _short(info.venue, SMS_PLACE_CHARS) if info.venue else ""
    if not place and info.online_url:
        place = _("线上")
    values = {
        "title": _short(info.title, SMS_TITLE_CHARS),
        "when": when,
        "at": f"，{place}" if place else "",
        "link": link,
    }
    if purpose == Delivery.Purpose.REMINDER:
        # A reminder comes a day or hours before: the year would only lengthen it.
        values["when"] = when_label(delivery.offering.starts_at, with_year=False)
        return _("提醒：%(title)s，%(when)s 开始%(at)s。") % values
    if purpose == Delivery.Purpose.PROMOTED:
        text = _("候补转正：%(title)s，%(when)s 开始%(at)s。") % values
        if link:
            text += _("不能参加请及时取消：%(link)s") % values
        else:
            text += _("不能参加请及时取消。")
        return text
    if purpose == Delivery.Purpose.CONFIRMATION:
        if booking is not None and booking.status == Booking.Status.WAITING:
            return _("已进入候补：%(title)s（%(when)s），有空位会按顺序转正并通知您。") % values
        return _("报名成功：%(title)s，%(when)s 开始%(at)s。") % values
    if purpose == Delivery.Purpose.TIME_CHANGED:
        return _("时间变更：%(title)s 改为 %(when)s 开始%(at)s，报名仍有效。") % values
    if purpose == Delivery.Purpose.WITHDRAWN:
        return _("已取消报名：%(title)s（%(when)s）。") % values
    if delivery.offering.kind == Offering.Kind.COURSE_SESSION:
        return _("课程取消：%(title)s（原定 %(when)s）已取消，无需前往。") % values
    return _("活动取消：%(title)s（原定 %(when)s）已取消，无需前往。") % values


def _render(delivery: Delivery, info: OfferingInfo | None) -> dict[str, str]:
    if delivery.purpose == Delivery.Purpose.INVITATION:
        return _render_invitation(delivery)
    booking = delivery.booking
    purpose = delivery.purpose
    title = info.title
    # One way of writing times (members/formatting.py): 12月3日 周三 18:00.
    when = when_label(delivery.offering.starts_at)
    values = {"title": title, "when": when}
    if purpose == Delivery.Purpose.REMINDER:
        hours = delivery.offset_minutes / 60
        subject = _("【提醒】%(title)s 将于 %(when)s 开始") % values
        lead = _("您报名的“%(title)s”将于 %(when)s（北京时间）开始，距开始约 %(hours)s 小时。") % {
            **values,
            "hours": f"{hours:g}",
        }
        if delivery.is_late:
            subject = _("【迟发提醒】") + subject
            lead += _("（您刚从候补转为正式报名，或系统稍有延迟，因此本提醒晚于原定时间发出。）")
    elif purpose == Delivery.Purpose.CONFIRMATION:
        if booking is not None and booking.status == Booking.Status.WAITING:
            subject = _("已进入候补：%(title)s") % values
            lead = (
                _(
                    "名额已满，您的家庭已进入“%(title)s”的候补名单，有空位时将按顺序转为正式报名并通知您。"
                )
                % values
            )
        else:
            subject = _("报名成功：%(title)s") % values
            lead = _("您的家庭已成功报名“%(title)s”，时间 %(when)s（北京时间）。") % values
    elif purpose == Delivery.Purpose.TIME_CHANGED:
        subject = _("【时间变更】%(title)s 改为 %(when)s") % values
        lead = _("“%(title)s”的时间已变更为 %(when)s（北京时间），您的报名保持有效。") % values
    elif purpose == Delivery.Purpose.PROMOTED:
        subject = _("候补转正：%(title)s") % {"title": title}
        lead = _(
            "您家庭候补的“%(title)s”（%(starts)s 开始，北京时间）已有空位，"
            "已为您转为正式报名，共 %(party)s 人。如不能参加，请及时取消，把名额留给其他家庭。"
        ) % {
            "title": title,
            "starts": when,
            "party": booking.party_size if booking is not None else "",
        }
    elif purpose == Delivery.Purpose.WITHDRAWN:
        subject = _("已取消报名：%(title)s") % values
        if booking is not None and booking.confirmed_at is None:
            lead = _("您的家庭已退出“%(title)s”（%(when)s，北京时间）的候补名单。") % values
        else:
            lead = (
                _("您家庭在“%(title)s”（%(when)s，北京时间）的报名已取消，名额已留给其他家庭。")
                % values
            )
    else:
        if delivery.offering.kind == Offering.Kind.COURSE_SESSION:
            subject = _("【课程场次取消】%(title)s") % {"title": title}
        else:
            subject = _("【活动取消】%(title)s") % {"title": title}
        lead = _("很抱歉，原定于 %(when)s（北京时间）的“%(title)s”已取消，无需前往。") % values
    path = _path_for(delivery, info)
    # No calendar file for a booking that is no more: it would add it back.
    ics = purpose != Delivery.Purpose.WITHDRAWN
    context = {
        "subject": subject,
        "lead": lead,
        "info": info,
        "url": _absolute("", path),
        "ics": ics,
        "name": str(delivery.user),
        "party_size": booking.party_size if booking is not None else None,
        "cancelled": purpose in (Delivery.Purpose.CANCELLED, Delivery.Purpose.WITHDRAWN),
        "preferences_url": settings.PORTAL_BASE_URL.rstrip("/") + "/notifications/preferences/",
    }
    return {
        "subject": subject,
        "lead": lead,
        "text": render_to_string("events/email/delivery.txt", context),
        "html": render_to_string("events/email/delivery.html", context),
        "sms": _sms_text(delivery, info, when=when, link=_absolute("", path)),
        "path": path,
        "ics": ics,
    }


def _email(delivery: Delivery, info: OfferingInfo | None, rendered: dict) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=rendered["subject"],
        body=rendered["text"],
        to=[delivery.user.email if delivery.user_id is not None else delivery.address],
        headers={
            # Stable per row: a receiving system that dedupes by Message-ID
            # sees one message even in the documented worst case.
            "Message-ID": make_msgid(f"delivery-{delivery.pk}", domain="alliance-portal"),
        },
    )
    if rendered["html"]:
        message.attach_alternative(rendered["html"], "text/html")
    if info is not None and rendered.get("ics"):
        message.attach("event.ics", calendar_bytes([info], name=info.title), "text/calendar")
    return message


def _phone(delivery: Delivery) -> str:
    """The same number the row was planned for (notifications' one rule)."""
    if delivery.user_id is None:
        return delivery.address
    return notification_sms_phone(user=delivery.user)


def _record_failure(delivery: Delivery, error: Exception) -> None:
    delivery.note = f"{type(error).__name__}: {error}"[:300]
    delivery.claim_token = None
    delivery.attempts += 1
    if delivery.attempts >= settings.REMINDER_MAX_ATTEMPTS:
        delivery.status = Delivery.Status.FAILED
    else:
        # Backoff through the database, not through countdown tasks: 2, 4, 8 … minutes.
        delivery.status = Delivery.Status.PENDING
        delivery.due_at = timezone.now() + datetime.timedelta(minutes=2**delivery.attempts)
    delivery.save(update_fields=["note", "claim_token", "attempts", "status", "due_at"])


def _send_one(delivery_id: int, claim_token: str, stage: _SmtpStage, infos: dict) -> str:
    now = timezone.now()
    try:
        with transaction.atomic():
            delivery = (
                Delivery.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("offering", "booking", "user", "invitation__invited_by")
                .filter(pk=delivery_id, status=Delivery.Status.CLAIMED, claim_token=claim_token)
                .first()
            )
            if delivery is None:
                return "not-ours"  # sent, re-claimed by a later pass, or being sent
            reason = _skip_reason(delivery, now)
            if reason:
                delivery.status = Delivery.Status.SKIPPED
                delivery.note = reason
                delivery.save(update_fields=["status", "note"])
                return "skipped"
            if delivery.channel == Delivery.Channel.SMS and delivery.user_id is not None:
                preference = notification_preference_for(user=delivery.user)
                allowed = sms_allowed_from(preference=preference, when=now)
                if allowed != now:
                    delivery.status = Delivery.Status.PENDING
                    delivery.due_at = allowed
                    delivery.claim_token = None
                    delivery.save(update_fields=["status", "due_at", "claim_token"])
                    return "deferred"
            try:
                with transaction.atomic():
                    info = None
                    if delivery.offering_id is not None:
                        if delivery.offering_id not in infos:
                            infos[delivery.offering_id] = offering_info(delivery.offering)
                        info = infos[delivery.offering_id]
                    rendered = _render(delivery, info)
                    if delivery.channel == Delivery.Channel.INBOX:
                        notification_create(
                            user=delivery.user,
                            title=rendered["subject"],
                            body=rendered["lead"],
                            url=rendered["path"],
                            kind=f"events.{delivery.purpose}",
                        )
                    elif delivery.channel == Delivery.Channel.SMS:
                        send_sms(phone=_phone(delivery), text=rendered["sms"])
                    else:
                        stage.stage(_email(delivery, info, rendered))
                    delivery.status = Delivery.Status.SENT
                    delivery.sent_at = timezone.now()
                    delivery.note = ""
                    delivery.save(update_fields=["status", "sent_at", "note"])
            except Exception as error:
                stage.abort()
                logger.warning("delivery %s failed: %s", delivery_id, error)
                _record_failure(delivery, error)
                return "failed"
        # Committed as sent: now (and only now) end the SMTP message.
    except Exception:
        stage.abort()  # the commit failed: the unfinished message is dropped
        raise
    try:
        stage.finish()
    except Exception as error:
        stage.abort()
        logger.warning("SMTP refused delivery %s at the end: %s", delivery_id, error)
        with transaction.atomic():
            row = Delivery.objects.select_for_update().get(pk=delivery_id)
            if row.status == Delivery.Status.SENT:
                row.status = Delivery.Status.CLAIMED
                _record_failure(row, error)
        return "failed"
    return "sent"


def delivery_send_batch(*, delivery_ids: list[int], claim_token: str) -> dict[str, int]:
    """Send claimed rows; each row at most once (see the module docstring)."""
    stage = _SmtpStage()
    infos: dict[int, OfferingInfo] = {}
    outcome: dict[str, int] = {}
    try:
        with translation.override(settings.LANGUAGE_CODE):
            for delivery_id in delivery_ids:
                result = _send_one(delivery_id, claim_token, stage, infos)
                outcome[result] = outcome.get(result, 0) + 1
    finally:
        stage.close()
    return outcome


# --- what events do to reminders -------------------------------------------


def deliveries_after_move(*, offering: Offering) -> int:
    """Unsent reminders of the old time are dropped; they are planned again for
    the new time when it comes (few rows: reminders are planned only when due)."""
    dropped = 0
    pending = Delivery.objects.filter(
        offering=offering, purpose=Delivery.Purpose.REMINDER, status=Delivery.Status.PENDING
    )
    for delivery in pending.only("pk", "offset_minutes", "scheduled_for"):
        expected = offering.starts_at - datetime.timedelta(minutes=delivery.offset_minutes)
        if delivery.scheduled_for != expected:
            dropped += Delivery.objects.filter(
                pk=delivery.pk, status=Delivery.Status.PENDING
            ).update(status=Delivery.Status.SKIPPED, note=_("时间已变更，按新时间提醒。"))
    return dropped


def deliveries_after_cancel(*, offering: Offering) -> int:
    return (
        Delivery.objects.filter(offering=offering, status=Delivery.Status.PENDING)
        # A withdrawal receipt is still true; the cancellation notice is the news.
        .exclude(purpose__in=[Delivery.Purpose.CANCELLED, Delivery.Purpose.WITHDRAWN])
        .update(status=Delivery.Status.SKIPPED, note=_("活动已取消。"))
    )


def notices_after_cancel(*, offering: Offering, now: datetime.datetime | None = None) -> None:
    """A cancelled offering: unsent reminders are skipped and each booked or
    waiting family gets one cancellation notice. Call inside the cancelling
    transaction (event_cancel, or bookings.offering_cancel via the listener)."""
    deliveries_after_cancel(offering=offering)
    notices_create(
        offering=offering,
        purpose=Delivery.Purpose.CANCELLED,
        statuses=(Booking.Status.CONFIRMED, Booking.Status.WAITING),
        moment=now or timezone.now(),
    )


def notices_after_move(*, offering: Offering, now: datetime.datetime | None = None) -> None:
    """A moved offering: reminders follow the new time, rules already past are not
    sent, and each booked or waiting family gets one "time changed" notice."""
    now = now or timezone.now()
    deliveries_after_move(offering=offering)
    reminders_skip_passed(offering=offering, now=now)
    notices_create(
        offering=offering,
        purpose=Delivery.Purpose.TIME_CHANGED,
        statuses=(Booking.Status.CONFIRMED, Booking.Status.WAITING),
        moment=now,
    )


def offering_changed(offering: Offering, change: str) -> None:
    """bookings.offering_change_listeners: an offering was cancelled or moved.

    Course sessions and events alike change only through the bookings service
    (offering_cancel, offering_reschedule), so every cancel or move arrives here
    once, in the same transaction as the change: the notices are written with it
    or not at all.
    """
    if change == "cancelled":
        notices_after_cancel(offering=offering)
    elif change == "moved":
        notices_after_move(offering=offering)
