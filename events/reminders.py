"""The outbox: every message the portal sends to a person, once, on time.

Reminders, time changes, cancellations, booking receipts, promotion notices,
withdrawal receipts (courses and events alike), co-guardian invitations and
account messages (allauth's codes and mails) are all ``Delivery`` rows: one
per recipient and channel, with a unique key. Notices are written in the transaction of the change they report (the receivers in
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
   Claimed ids go to workers in send tasks of one channel each, after the
   commit. A pass that hits its bound asks for a follow-up pass behind the
   tasks it queued, so a large backlog drains as fast as the workers free up.
3. **Send.** A send task reads its rows in one query and renders each
   offering's message once. Only rows still holding the task's claim token are
   sent, each at most once:

   * in-site: the batch's rows are locked (``SKIP LOCKED``), the notices
     inserted in bulk and the rows marked sent in the same transaction (exactly
     once; one bad row sends the batch row by row, its failure on that row);
   * email, over one SMTP connection per batch: each message is spoken up to,
     but not including, its final ``.``; the row is committed as sent; then the
     ``.`` is written. A worker killed at any point either left the message
     unfinished (the server drops it, the row is claimed again after its lease)
     or finished it with the row already marked sent: no message goes out twice;
   * SMS: the batch's rows are committed as sent, then the texts go to the
     gateway (in one request where it takes batches, else over one kept-alive
     connection); each text's refusal puts its row back for a retry.

   A refused message fails alone (backoff on its row); a connection lost
   mid-batch puts the rows not yet tried back to pending, not sent twice.
"""

from __future__ import annotations

import datetime
import logging
import re
import smtplib
import socket
import uuid
from dataclasses import dataclass, field
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.message import sanitize_address
from django.db import IntegrityError, transaction
from django.db.models import F, prefetch_related_objects
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.translation import gettext as _

from bookings.models import Booking, Offering
from members.formatting import when_label
from members.models import FamilyInvitation, Guardian, User
from members.selectors import account_message_contents
from members.sms import SMSNotTried, SMSOutcomeUnknown, send_sms_many
from notifications.selectors import (
    notification_preference_for,
    notification_sms_phone,
    notification_wechat_reachable,
    sms_allowed_from,
)
from notifications.services import notification_create, notifications_create_many

from .ics import calendar_bytes
from .models import Delivery, Event, Notice, ReminderPlan
from .notices import notice_skip_reason
from .selectors import (
    OfferingInfo,
    max_reminder_offset,
    offering_info,
    reminder_offsets_for_offerings,
)

logger = logging.getLogger(__name__)

# Ids per send task for a channel without its own REMINDER_SEND_CHUNK_* setting.
SEND_CHUNK = 25
# A reminder planned more than this after its moment is marked late.
LATE_AFTER = datetime.timedelta(minutes=10)


@dataclass
class PassResult:
    planned: int = 0
    claimed: int = 0
    tasks: int = 0
    claimed_ids: list[int] = field(default_factory=list)
    more: bool = False  # the pass hit its bound: a follow-up pass was asked for


# --- planning ---------------------------------------------------------------


def _recipient_rows(bookings: list[tuple[int, int]]):
    """(booking_id, guardian) for every guardian of the booked families."""
    by_family: dict[int, list[int]] = {}
    for booking_id, family_id in bookings:
        by_family.setdefault(family_id, []).append(booking_id)
    guardians = (
        Guardian.objects.filter(family_id__in=list(by_family))
        # (user__wechat_identity: whether WeChat reaches them, without a query each)
        .select_related("user", "user__notification_preference", "user__wechat_identity")
        .order_by("pk")
    )
    for guardian in guardians:
        if not guardian.user.is_active:
            continue
        for booking_id in by_family[guardian.family_id]:
            yield booking_id, guardian


# The WeChat subscription template (wechat.SubscriptionTemplate.Kind) of each
# kind of message; invitations and account messages never go by WeChat.
WECHAT_KINDS = {
    Delivery.Purpose.REMINDER: "reminder",
    Delivery.Purpose.TIME_CHANGED: "time_change",
    Delivery.Purpose.CANCELLED: "cancellation",
    Delivery.Purpose.PROMOTED: "promotion",
    Delivery.Purpose.CONFIRMATION: "receipt",
    Delivery.Purpose.WITHDRAWN: "receipt",
    Delivery.Purpose.NOTICE: "notice",
}


def _sms_row(*, preference, due_at, starts_at, note: str = "", **fields) -> Delivery:
    """A text row, due outside the guardian's quiet hours (skipped if they last
    until ``starts_at``)."""
    sms_due = sms_allowed_from(preference=preference, when=due_at)
    row = Delivery(channel=Delivery.Channel.SMS, due_at=sms_due, note=note, **fields)
    if sms_due != due_at and starts_at is not None and sms_due >= starts_at:
        # Quiet hours last until the start: better no text than a 07:00 text
        # about something that already began.
        row.status = Delivery.Status.SKIPPED
        row.note = note + _("免打扰时段持续到开始之后，未发短信。")
    elif sms_due != due_at:
        row.note = note + _("免打扰时段，短信推迟到 %(time)s。") % {
            "time": f"{timezone.localtime(sms_due):%H:%M}"
        }
    return row


def _channel_rows(
    guardian: Guardian | None, *, scheduled_for, due_at, starts_at, user=None, **fields
) -> list[Delivery]:
    """The rows of one message to one person, one per channel they chose (a
    person who is no guardian is passed as ``user``, with ``guardian`` None)."""
    user = user if user is not None else guardian.user
    preference = notification_preference_for(user=user)
    rows = []
    if preference.in_site:
        rows.append(Delivery(channel=Delivery.Channel.INBOX, due_at=due_at, **fields))
    if preference.by_email and user.email:
        rows.append(Delivery(channel=Delivery.Channel.EMAIL, due_at=due_at, **fields))
    if (
        preference.by_wechat
        and fields.get("purpose") in WECHAT_KINDS
        and notification_wechat_reachable(user=user)
    ):
        # Not held back by the quiet hours: WeChat files it silently under 服务通知.
        rows.append(Delivery(channel=Delivery.Channel.WECHAT, due_at=due_at, **fields))
    phone = notification_sms_phone(user=user, guardian=guardian)
    if preference.by_sms and phone:
        rows.append(_sms_row(preference=preference, due_at=due_at, starts_at=starts_at, **fields))
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


def notice_rows_create(
    *,
    notice: Notice,
    family_ids=(),
    user_ids=(),
    now: datetime.datetime | None = None,
) -> int:
    """The rows of a ``Notice`` (events.services.notice_send): one per active
    guardian of ``family_ids`` and active user of ``user_ids`` and chosen
    channel, due ``now`` (a text in the person's quiet hours later), written in
    the caller's transaction; the send is kicked after the commit. The key
    (notice, user, channel) makes a second call write nothing."""
    now = now or timezone.now()
    family_ids = sorted({int(pk) for pk in family_ids})
    user_ids = {int(pk) for pk in user_ids}
    people: dict[int, tuple[Guardian | None, User]] = {}
    if family_ids:
        guardians = (
            Guardian.objects.filter(family_id__in=family_ids, user__is_active=True)
            .select_related("user", "user__notification_preference", "user__wechat_identity")
            .order_by("pk")
        )
        for guardian in guardians:
            people[guardian.user_id] = (guardian, guardian.user)
    others = user_ids - set(people)
    if others:
        users = (
            User.objects.filter(pk__in=others, is_active=True)
            .select_related("guardian", "notification_preference", "wechat_identity")
            .order_by("pk")
        )
        for user in users:
            people[user.pk] = (getattr(user, "guardian", None), user)
    rows: list[Delivery] = []
    for guardian, user in people.values():
        rows.extend(
            _channel_rows(
                guardian,
                user=user,
                scheduled_for=notice.created_at or now,
                due_at=now,
                starts_at=None,
                notice_id=notice.pk,
                purpose=Delivery.Purpose.NOTICE,
            )
        )
    made = len(Delivery.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True))
    if made:
        _kick_after_commit()
    return made


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
    if created >= ANALYZE_AFTER_ROWS:
        _analyze_deliveries()
    return created


# A pass that planned this many rows refreshes the table's statistics at once
# (PostgreSQL docs, "Populating a Database": run ANALYZE after a bulk load):
# with the statistics of a table that was nearly empty a minute ago the planner
# reads and sorts every due row for each claim instead of walking the due index.
ANALYZE_AFTER_ROWS = 10_000


def _analyze_deliveries() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {connection.ops.quote_name(Delivery._meta.db_table)}")


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
            .select_related("notification_preference", "wechat_identity")
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


# allauth's mail templates (account/email/<name>) and what the delivery log calls them.
_ACCOUNT_MAIL_KINDS = {
    "email_confirmation": Delivery.AccountKind.EMAIL_CONFIRMATION,
    "email_confirmation_signup": Delivery.AccountKind.EMAIL_CONFIRMATION,
    "password_reset_key": Delivery.AccountKind.PASSWORD_RESET,
    "password_reset_code": Delivery.AccountKind.PASSWORD_RESET,
    "login_code": Delivery.AccountKind.LOGIN_CODE,
    "unknown_account": Delivery.AccountKind.UNKNOWN_ACCOUNT,
    "account_already_exists": Delivery.AccountKind.ACCOUNT_EXISTS,
}


def account_message_create(
    *,
    message_key: str,
    kind: str,
    template: str = "",
    phone: str = "",
    email: str = "",
    user: User | None = None,
    now: datetime.datetime | None = None,
) -> int:
    """The one row that carries a message about a person's own account (a code,
    a texted answer, an allauth mail; members.services.account_message_send).

    Written in the caller's transaction; once it commits, this row is claimed
    and handed to a worker at once, ahead of any backlog the beat pass is
    working through (a code is asked for now: no quiet hours either). The row
    names the kind and the address; the content waits in the cache under
    ``message_key`` (unique with the channel: a repeated signal writes nothing).
    """
    now = now or timezone.now()
    if kind == "mail":
        channel, address = Delivery.Channel.EMAIL, email
        account_kind = _ACCOUNT_MAIL_KINDS.get(
            template.rsplit("/", 1)[-1], Delivery.AccountKind.SECURITY_NOTICE
        )
    else:
        channel, address = Delivery.Channel.SMS, phone
        account_kind = Delivery.AccountKind(kind)
    row = Delivery(
        purpose=Delivery.Purpose.ACCOUNT,
        channel=channel,
        user=user,
        address=address,
        message_key=message_key,
        account_kind=account_kind,
        scheduled_for=now,
        due_at=now,
    )
    made = len(Delivery.objects.bulk_create([row], ignore_conflicts=True))
    transaction.on_commit(lambda: deliveries_send_now(message_key=message_key), robust=True)
    return made


def deliveries_send_now(*, message_key: str) -> int:
    """After the commit: claim the account message's row and queue its send task
    now (not behind the due rows of a busy evening). If the task cannot be
    queued (broker down), the row goes back to pending for the next pass."""
    token = uuid.uuid4()
    with transaction.atomic():
        found = list(
            Delivery.objects.filter(
                purpose=Delivery.Purpose.ACCOUNT,
                message_key=message_key,
                status=Delivery.Status.PENDING,
            )
            .select_for_update(skip_locked=True)
            .values_list("pk", "channel")
        )
        if not found:
            return 0
        Delivery.objects.filter(pk__in=[pk for pk, _channel in found]).update(
            status=Delivery.Status.CLAIMED,
            claim_token=token,
            claimed_at=timezone.now(),
            claims=F("claims") + 1,
        )

        def hand_over():
            if not _dispatch(found, token):
                _ours(str(token)).filter(pk__in=[pk for pk, _channel in found]).update(
                    status=Delivery.Status.PENDING, claim_token=None
                )

        transaction.on_commit(hand_over)
    return len(found)


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
    """Claim up to ``limit`` due rows (or rows whose claim lease ran out); after
    the commit they go to workers in send tasks."""
    token, claimed = _claim_batch(now=now, limit=limit)
    return token, [pk for pk, _channel in claimed]


def _claim_batch(*, now: datetime.datetime, limit: int) -> tuple[uuid.UUID, list[tuple[int, str]]]:
    real_now = timezone.now()
    lease = datetime.timedelta(seconds=settings.REMINDER_CLAIM_LEASE_SECONDS)
    token = uuid.uuid4()
    with transaction.atomic():
        # Two index scans that stop at ``limit`` (the partial indexes on
        # claimed_at and due_at), rather than one OR that sorts every due row:
        # stranded claims first, then pending rows in due order.
        found = list(
            Delivery.objects.filter(status=Delivery.Status.CLAIMED, claimed_at__lt=real_now - lease)
            .order_by("claimed_at")
            .select_for_update(skip_locked=True)
            .values_list("pk", "channel", "claims")[:limit]
        )
        if len(found) < limit:
            found += list(
                Delivery.objects.filter(status=Delivery.Status.PENDING, due_at__lte=now)
                .order_by("due_at")
                .select_for_update(skip_locked=True)
                .values_list("pk", "channel", "claims")[: limit - len(found)]
            )
        if not found:
            return token, []
        # A row claimed this often keeps losing its worker: stop trying.
        given_up = [pk for pk, _channel, claims in found if claims >= settings.REMINDER_MAX_CLAIMS]
        if given_up:
            Delivery.objects.filter(pk__in=given_up).update(
                status=Delivery.Status.FAILED,
                claim_token=None,
                note=_("多次领取仍未发出（发送进程反复中断）。"),
            )
        claimed = sorted(
            (pk, channel) for pk, channel, claims in found if claims < settings.REMINDER_MAX_CLAIMS
        )
        Delivery.objects.filter(pk__in=[pk for pk, _channel in claimed]).update(
            status=Delivery.Status.CLAIMED,
            claim_token=token,
            claimed_at=real_now,
            claims=F("claims") + 1,
        )
        transaction.on_commit(lambda: _dispatch(claimed, token))
    return token, claimed


def send_chunks(claimed: list[tuple[int, str]]) -> list[list[int]]:
    """Claimed (id, channel) pairs cut into send tasks, one channel a task: an
    in-site task is one bulk transaction (``REMINDER_SEND_CHUNK_INBOX`` rows), an
    email task one SMTP connection (``…_EMAIL``), a text task one pooled HTTP
    connection (``…_SMS``). Small enough that a killed worker strands few rows
    until their lease runs out."""
    sizes = {
        Delivery.Channel.INBOX: settings.REMINDER_SEND_CHUNK_INBOX,
        Delivery.Channel.EMAIL: settings.REMINDER_SEND_CHUNK_EMAIL,
        Delivery.Channel.SMS: settings.REMINDER_SEND_CHUNK_SMS,
    }
    by_channel: dict[str, list[int]] = {}
    for pk, channel in claimed:
        by_channel.setdefault(channel, []).append(pk)
    chunks = []
    for channel, ids in by_channel.items():
        size = max(1, sizes.get(channel, SEND_CHUNK))
        chunks.extend(ids[start : start + size] for start in range(0, len(ids), size))
    return chunks


def _dispatch(claimed: list[tuple[int, str]], token: uuid.UUID) -> int:
    from .tasks import deliveries_send

    sent = 0
    for chunk in send_chunks(claimed):
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
    # Halfway through a full pass, a follow-up pass is queued (once: see
    # deliveries_continue): it lands behind the first half's send tasks, so a
    # worker claims the next rows while the other still sends the second half.
    half = max(1, settings.REMINDER_MAX_BATCHES_PER_PASS // 2)
    for batch in range(settings.REMINDER_MAX_BATCHES_PER_PASS):
        _token, claimed = _claim_batch(now=now, limit=settings.REMINDER_BATCH_SIZE)
        result.claimed += len(claimed)
        result.claimed_ids.extend(pk for pk, _channel in claimed)
        result.tasks += len(send_chunks(claimed))
        if len(claimed) < settings.REMINDER_BATCH_SIZE:
            break
        if batch + 1 == half:
            # A backlog of a pass or more (a city evening): it keeps draining as
            # fast as the workers free up, not 10,000 rows a minute.
            result.more = True
            transaction.on_commit(deliveries_continue, robust=True)
    return result


# Set while a follow-up dispatch is queued: one at a time, however many passes ran.
CONTINUE_KEY = "events:deliveries-continue"


def deliveries_continue() -> None:
    """Queue one follow-up claim-and-dispatch (``events.tasks.deliveries_dispatch``)
    unless one is already waiting; a lost one is replaced after the lease."""
    from django.core.cache import cache

    from .tasks import deliveries_dispatch

    if not cache.add(CONTINUE_KEY, 1, timeout=settings.REMINDER_CLAIM_LEASE_SECONDS):
        return
    try:
        deliveries_dispatch.apply_async(kwargs={"follow_up": True}, retry=False)
    except Exception:
        cache.delete(CONTINUE_KEY)
        logger.warning("broker unreachable; the next reminder pass goes on", exc_info=True)


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
            # The content and the final "." are separate small writes: without
            # TCP_NODELAY, Nagle's algorithm holds the "." until the server's
            # delayed ACK (40 ms a message).
            sock = getattr(self.backend.connection, "sock", None)
            if sock is not None:
                try:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                except OSError:
                    pass
        return self.backend.connection

    def stage(self, message: EmailMultiAlternatives) -> None:
        if not self.is_smtp:
            # Other backends (console, locmem) have no "almost sent": send now.
            self.backend.send_messages([message])
            return
        self.stage_bytes(*_envelope(message))

    def stage_bytes(self, sender: str, recipients: list[str], data: bytes) -> None:
        smtp = self._smtp()
        smtp.ehlo_or_helo_if_needed()
        code, reply = smtp.mail(sender)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, reply, sender)
        for recipient in recipients:
            code, reply = smtp.rcpt(recipient)
            if code not in (250, 251):
                raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
        smtp.putcmd("data")
        code, reply = smtp.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
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
    if purpose == Delivery.Purpose.ACCOUNT:
        if getattr(delivery, "account_content", None) is None:
            return _("验证码或链接已过期，未发送。")
        return ""
    if purpose == Delivery.Purpose.NOTICE:
        notice = delivery.notice
        # (rows of one notice share one instance in a batch (_load): one check each)
        if not hasattr(notice, "skip_reason"):
            notice.skip_reason = notice_skip_reason(notice)
        return notice.skip_reason
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
    if delivery.offering.kind == Offering.Kind.CONSULTATION:
        # A guidance consultation: the family's consultation page, found from the
        # slot's offering (the texts are rendered once per offering, so the link
        # names the offering, never one family's consultation).
        try:
            return reverse("guidance:booked", args=[delivery.offering_id])
        except NoReverseMatch:
            return ""
    return info.path


# Texts are billed per 70 Chinese characters (67 once split): names and places
# are cut so that a text with a link stays within two parts, most within one.
SMS_TITLE_CHARS = 20
SMS_PLACE_CHARS = 16


def _short(text: str, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# A notice's text without its own: "subject：lead" and the link, within two parts
# (2 × 67, less the signature members.sms puts in front).
SMS_NOTICE_CHARS = 120


def _notice_texts(notice: Notice) -> dict:
    """What a notice says on every channel (the in-site notice, the email's
    subject and lead, the text): from the Notice, once per batch."""
    link = _absolute("", notice.path)
    sms = notice.sms
    if not sms:
        tail = f" {link}" if link else ""
        sms = _short(f"{notice.subject}：{notice.lead}", max(20, SMS_NOTICE_CHARS - len(tail)))
        sms += tail
    return {
        "subject": notice.subject,
        "lead": notice.lead,
        "path": notice.path,
        "sms": sms,
        "ics": False,
        "kind": notice.topic[:40],
    }


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


def _texts(delivery: Delivery, info: OfferingInfo) -> dict:
    """Subject, lead and link of an offering's message: all an in-site notice needs."""
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
    return {
        "subject": subject,
        "lead": lead,
        "when": when,
        "path": _path_for(delivery, info),
        # No calendar file for a booking that is no more: it would add it back.
        "ics": purpose != Delivery.Purpose.WITHDRAWN,
    }


def _bodies(
    delivery: Delivery, info: OfferingInfo, texts: dict, *, name: str, html_name: str | None = None
) -> dict:
    """The email's plain and HTML bodies, for the recipient called ``name``
    (``html_name`` in the HTML body, if it differs)."""
    preferences_url = settings.PORTAL_BASE_URL.rstrip("/") + "/notifications/preferences/"
    if delivery.purpose == Delivery.Purpose.NOTICE:
        context = {
            "subject": texts["subject"],
            "lead": texts["lead"],
            "url": _absolute("", texts["path"]),
            "name": name,
            "preferences_url": preferences_url,
        }
        text = render_to_string("events/email/notice.txt", context)
        if html_name is not None:
            context["name"] = html_name
        return {"text": text, "html": render_to_string("events/email/notice.html", context)}
    booking = delivery.booking
    purpose = delivery.purpose
    context = {
        "subject": texts["subject"],
        "lead": texts["lead"],
        "info": info,
        "url": _absolute("", texts["path"]),
        "ics": texts["ics"],
        "name": name,
        "party_size": booking.party_size if booking is not None else None,
        "cancelled": purpose in (Delivery.Purpose.CANCELLED, Delivery.Purpose.WITHDRAWN),
        "preferences_url": preferences_url,
    }
    text = render_to_string("events/email/delivery.txt", context)
    if html_name is not None:
        context["name"] = html_name
    return {"text": text, "html": render_to_string("events/email/delivery.html", context)}


# Marks in a message built once for many recipients, replaced per row: the name
# in the plain and in the HTML body (private-use characters: templates neither
# escape nor change them), the address and the Message-ID.
_NAME_MARK = "\ue000"
_HTML_NAME_MARK = "\ue001"
_ADDRESS_MARK = "recipient@outbox.invalid"
_ID_MARK = "<outbox-message-id@alliance-portal>"


class _Renderer:
    """What a batch says, rendered once per offering and kind of message, not per
    row: the offering's details, the texts, the email bodies (the recipient's name
    is put in afterwards) and the calendar file."""

    def __init__(self):
        self.infos: dict[int, OfferingInfo] = {}
        self.cache: dict[tuple, dict] = {}
        self.calendars: dict[int, bytes] = {}
        self.built: dict[tuple, tuple[str, bytes] | bool] = {}

    def info(self, delivery: Delivery) -> OfferingInfo | None:
        if delivery.offering_id is None:
            return None
        if delivery.offering_id not in self.infos:
            self.infos[delivery.offering_id] = offering_info(delivery.offering)
        return self.infos[delivery.offering_id]

    def _key(self, delivery: Delivery) -> tuple:
        if delivery.purpose == Delivery.Purpose.NOTICE:
            return (None, delivery.purpose, delivery.notice_id)
        booking = delivery.booking
        return (
            delivery.offering_id,
            delivery.purpose,
            delivery.offset_minutes,
            delivery.is_late,
            booking.status if booking is not None else None,
            booking.confirmed_at is None if booking is not None else None,
            booking.party_size if booking is not None else None,
        )

    def texts(self, delivery: Delivery) -> dict:
        if delivery.purpose == Delivery.Purpose.INVITATION:
            return _render_invitation(delivery)
        if delivery.purpose == Delivery.Purpose.ACCOUNT:
            return delivery.account_content
        key = self._key(delivery)
        if key not in self.cache:
            if delivery.purpose == Delivery.Purpose.NOTICE:
                self.cache[key] = _notice_texts(delivery.notice)
            else:
                self.cache[key] = _texts(delivery, self.info(delivery))
        return self.cache[key]

    def sms(self, delivery: Delivery) -> str:
        texts = self.texts(delivery)
        if delivery.purpose in (
            Delivery.Purpose.INVITATION,
            Delivery.Purpose.ACCOUNT,
            Delivery.Purpose.NOTICE,
        ):
            return texts["sms"]
        if "sms" not in texts:
            texts["sms"] = _sms_text(
                delivery,
                self.info(delivery),
                when=texts["when"],
                link=_absolute("", texts["path"]),
            )
        return texts["sms"]

    def envelope(self, delivery: Delivery) -> tuple[str, list[str], bytes]:
        """(sender, recipients, bytes) of the row's email. The MIME message is
        built once per offering and kind of message, with marks where the name,
        address and Message-ID go; each row only replaces them. (An invitation,
        a non-ASCII address or a body that had to be encoded is built whole.)"""
        if delivery.purpose == Delivery.Purpose.ACCOUNT:
            return _envelope(self.email(delivery))
        address = delivery.user.email if delivery.user_id is not None else delivery.address
        if delivery.purpose == Delivery.Purpose.INVITATION or not address.isascii():
            return _envelope(self.email(delivery))
        key = self._key(delivery)
        built = self.built.get(key)
        if built is None:
            texts = self.texts(delivery)
            info = self.info(delivery)
            marked = {
                **texts,
                **_bodies(delivery, info, texts, name=_NAME_MARK, html_name=_HTML_NAME_MARK),
            }
            message = _email(
                delivery,
                info,
                marked,
                calendar=self._calendar(delivery, info, texts),
                to=_ADDRESS_MARK,
                message_id=_ID_MARK,
            )
            sender, _recipients, data = _envelope(message)
            marks = [m.encode() for m in (_NAME_MARK, _HTML_NAME_MARK, _ADDRESS_MARK, _ID_MARK)]
            built = self.built[key] = (sender, data) if all(m in data for m in marks) else False
        if built is False:
            return _envelope(self.email(delivery))
        sender, data = built
        name = str(delivery.user)
        message_id = make_msgid(f"delivery-{delivery.pk}", domain="alliance-portal")
        data = (
            data.replace(_ID_MARK.encode(), message_id.encode())
            .replace(_ADDRESS_MARK.encode(), address.encode())
            .replace(_NAME_MARK.encode(), name.encode())
            .replace(_HTML_NAME_MARK.encode(), escape(name).encode())
        )
        return sender, [address], data

    def _calendar(self, delivery: Delivery, info: OfferingInfo | None, texts: dict) -> bytes | None:
        if not texts["ics"] or info is None:
            return None
        if delivery.offering_id not in self.calendars:
            self.calendars[delivery.offering_id] = calendar_bytes([info], name=info.title)
        return self.calendars[delivery.offering_id]

    def email(self, delivery: Delivery) -> EmailMultiAlternatives:
        if delivery.purpose == Delivery.Purpose.ACCOUNT:
            return _account_email(delivery)
        texts = self.texts(delivery)
        info = self.info(delivery)
        if delivery.purpose == Delivery.Purpose.INVITATION:
            return _email(delivery, None, texts)
        if "text" not in texts:
            texts.update(_bodies(delivery, info, texts, name=_NAME_MARK))
        name = str(delivery.user)
        rendered = {
            **texts,
            "text": texts["text"].replace(_NAME_MARK, name),
            "html": texts["html"].replace(_NAME_MARK, escape(name)),
        }
        return _email(delivery, info, rendered, calendar=self._calendar(delivery, info, texts))


def _email(
    delivery: Delivery,
    info: OfferingInfo | None,
    rendered: dict,
    *,
    calendar: bytes | None = None,
    to: str | None = None,
    message_id: str | None = None,
) -> EmailMultiAlternatives:
    if to is None:
        to = delivery.user.email if delivery.user_id is not None else delivery.address
    message = EmailMultiAlternatives(
        subject=rendered["subject"],
        body=rendered["text"],
        to=[to],
        headers={
            # Stable per row: a receiving system that dedupes by Message-ID
            # sees one message even in the documented worst case.
            "Message-ID": message_id
            or make_msgid(f"delivery-{delivery.pk}", domain="alliance-portal"),
        },
    )
    if rendered["html"]:
        message.attach_alternative(rendered["html"], "text/html")
    if info is not None and rendered.get("ics"):
        message.attach(
            "event.ics", calendar or calendar_bytes([info], name=info.title), "text/calendar"
        )
    return message


def _account_email(delivery: Delivery) -> EmailMultiAlternatives:
    """allauth's mail as it rendered it for the request, to the address it was for."""
    content = delivery.account_content
    html = content.get("html", "")
    message = EmailMultiAlternatives(
        subject=content["subject"],
        body=content.get("body") or html,
        from_email=content.get("from_email") or None,
        to=[delivery.address],
        headers={"Message-ID": make_msgid(f"delivery-{delivery.pk}", domain="alliance-portal")},
    )
    if not content.get("body"):
        message.content_subtype = "html"
    elif html:
        message.attach_alternative(html, "text/html")
    return message


def _envelope(message: EmailMultiAlternatives) -> tuple[str, list[str], bytes]:
    """What SMTP is given: the sender, the recipients and the message's bytes."""
    encoding = message.encoding or settings.DEFAULT_CHARSET
    return (
        sanitize_address(message.from_email, encoding),
        [sanitize_address(recipient, encoding) for recipient in message.recipients()],
        message.message().as_bytes(linesep="\r\n"),
    )


def _phone(delivery: Delivery) -> str:
    """The same number the row was planned for (notifications' one rule); an
    account message goes to the number it was asked for."""
    if delivery.user_id is None or delivery.purpose == Delivery.Purpose.ACCOUNT:
        return delivery.address
    return notification_sms_phone(user=delivery.user)


def _failure_fields(delivery: Delivery, error: Exception) -> dict:
    attempts = delivery.attempts + 1
    fields = {
        "note": f"{type(error).__name__}: {error}"[:300],
        "claim_token": None,
        "attempts": attempts,
    }
    if attempts >= settings.REMINDER_MAX_ATTEMPTS:
        fields["status"] = Delivery.Status.FAILED
    else:
        # Backoff through the database, not through countdown tasks: 2, 4, 8 … minutes.
        fields["status"] = Delivery.Status.PENDING
        fields["due_at"] = timezone.now() + datetime.timedelta(minutes=2**attempts)
    return fields


def _record_failure(delivery: Delivery, error: Exception, *, token: str | None = None) -> None:
    """This row's attempt failed: back to pending with a backoff, or failed for
    good. With ``token``, only while the row still holds that claim."""
    fields = _failure_fields(delivery, error)
    rows = Delivery.objects.filter(pk=delivery.pk)
    if token is not None:
        rows = rows.filter(claim_token=token)
    rows.update(**fields)
    for name, value in fields.items():
        setattr(delivery, name, value)


def _load(delivery_ids: list[int], token: str) -> list[Delivery]:
    """The batch's rows still claimed with ``token``, and what sending them reads,
    in a few queries for the whole batch: the rows with their booking, recipient
    and invitation (one query), each offering once, and for texts the
    recipients' preferences (quiet hours) and guardians (phone)."""
    rows = list(
        _ours(token)
        .filter(pk__in=delivery_ids)
        # (user__wechat_identity: the defaults rule asks whether WeChat reaches them)
        .select_related(
            "booking", "user", "user__wechat_identity", "invitation__invited_by", "notice"
        )
        .order_by("pk")
    )
    # One instance per notice: it is checked (events/notices.py) and rendered once.
    notices: dict[int, Notice] = {}
    for row in rows:
        if row.notice_id is not None:
            row.notice = notices.setdefault(row.notice_id, row.notice)
    offerings = Offering.objects.in_bulk({row.offering_id for row in rows if row.offering_id})
    for row in rows:
        if row.offering_id is not None:
            row.offering = offerings[row.offering_id]
    texted = [
        row.user for row in rows if row.channel == Delivery.Channel.SMS and row.user_id is not None
    ]
    if texted:
        prefetch_related_objects(texted, "notification_preference", "guardian")
    return rows


def _ours(token: str):
    return Delivery.objects.filter(status=Delivery.Status.CLAIMED, claim_token=token)


class _Outcome(dict):
    def add(self, key: str, count: int = 1) -> None:
        if count:
            self[key] = self.get(key, 0) + count


def _held_back(rows: list[Delivery], token: str, now, outcome: _Outcome) -> list[Delivery]:
    """Rows that should no longer go out are skipped, texts in quiet hours wait
    (a few ``UPDATE``s for the batch); returns the rows to send."""
    skipped: dict[str, list[int]] = {}
    deferred: dict[datetime.datetime, list[int]] = {}
    send = []
    account = [row for row in rows if row.purpose == Delivery.Purpose.ACCOUNT]
    if account:
        # What they say waits in the cache until the code expires (never in the row).
        contents = account_message_contents([row.message_key for row in account])
        for row in account:
            row.account_content = contents.get(row.message_key)
    for row in rows:
        reason = _skip_reason(row, now)
        if reason:
            skipped.setdefault(reason, []).append(row.pk)
            continue
        if (
            row.channel == Delivery.Channel.SMS
            and row.user_id is not None
            and row.purpose != Delivery.Purpose.ACCOUNT  # a code is asked for now
        ):
            preference = notification_preference_for(user=row.user)
            allowed = sms_allowed_from(preference=preference, when=now)
            if allowed != now:
                deferred.setdefault(allowed, []).append(row.pk)
                continue
        send.append(row)
    for reason, ids in skipped.items():
        outcome.add(
            "skipped",
            _ours(token).filter(pk__in=ids).update(status=Delivery.Status.SKIPPED, note=reason),
        )
    for allowed, ids in deferred.items():
        outcome.add(
            "deferred",
            _ours(token)
            .filter(pk__in=ids)
            .update(status=Delivery.Status.PENDING, due_at=allowed, claim_token=None),
        )
    return send


def _send_inbox(rows: list[Delivery], token: str, renderer: _Renderer, outcome: _Outcome) -> None:
    """In-site notices, the whole batch in one transaction: the rows locked in
    one query, the notices inserted in one, the rows marked sent in one."""
    try:
        with transaction.atomic():
            locked = set(
                _ours(token)
                .filter(pk__in=[row.pk for row in rows])
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)
            )
            notices, sent = [], []
            for row in rows:
                if row.pk not in locked:
                    continue
                texts = renderer.texts(row)
                notices.append(
                    {
                        "user_id": row.user_id,
                        "title": texts["subject"],
                        "body": texts["lead"],
                        "url": texts["path"],
                        "kind": texts.get("kind") or f"events.{row.purpose}",
                    }
                )
                sent.append(row.pk)
            notifications_create_many(notices=notices)
            done = Delivery.objects.filter(pk__in=sent).update(
                status=Delivery.Status.SENT, sent_at=timezone.now(), note=""
            )
    except Exception:
        # One bad row must not fail the batch: each row on its own, its failure
        # recorded on it.
        logger.warning("bulk in-site batch failed; sending row by row", exc_info=True)
        for row in rows:
            outcome.add(_send_inbox_one(row, token, renderer))
        return
    outcome.add("sent", done)
    outcome.add("not-ours", len(rows) - len(sent))


def _send_inbox_one(row: Delivery, token: str, renderer: _Renderer) -> str:
    try:
        with transaction.atomic():
            if not _ours(token).filter(pk=row.pk).select_for_update(skip_locked=True).exists():
                return "not-ours"
            texts = renderer.texts(row)
            notification_create(
                user=row.user,
                title=texts["subject"],
                body=texts["lead"],
                url=texts["path"],
                kind=texts.get("kind") or f"events.{row.purpose}",
            )
            Delivery.objects.filter(pk=row.pk).update(
                status=Delivery.Status.SENT, sent_at=timezone.now(), note=""
            )
    except Exception as error:
        logger.warning("delivery %s failed: %s", row.pk, error)
        _record_failure(row, error, token=token)
        return "failed"
    return "sent"


def _mark_sent(row: Delivery, token: str) -> bool:
    """Mark the row sent if it still holds ``token``, in one ``UPDATE`` (its own
    transaction outside ``atomic``): of two tasks holding the same token, one
    wins; the other's ``UPDATE`` waits for the row, then finds it sent."""
    return bool(
        _ours(token)
        .filter(pk=row.pk)
        .update(status=Delivery.Status.SENT, sent_at=timezone.now(), note="")
    )


def _release(rows: list[Delivery], token: str, error: Exception) -> int:
    """The connection broke: the rows not yet tried go back to pending, due in a
    minute, with no attempt counted (they were never offered to the server)."""
    if not rows:
        return 0
    logger.warning("%s deliveries put back after %s", len(rows), error)
    return (
        _ours(token)
        .filter(pk__in=[row.pk for row in rows])
        .update(
            status=Delivery.Status.PENDING,
            claim_token=None,
            due_at=timezone.now() + datetime.timedelta(minutes=1),
            note=_("连接中断，稍后重试。"),
        )
    )


def _connection_lost(error: Exception) -> bool:
    """The SMTP connection is gone (not a refusal of this one message; note that
    smtplib's errors are all ``OSError``s)."""
    if isinstance(error, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError):
        return True
    return isinstance(error, OSError) and not isinstance(error, smtplib.SMTPException)


def _send_email(rows: list[Delivery], token: str, renderer: _Renderer, outcome: _Outcome) -> None:
    """Emails over one SMTP connection for the batch, each row committed as sent
    before its message's final ``.`` (see the module docstring)."""
    stage = _SmtpStage()
    try:
        for index, row in enumerate(rows):
            try:
                message = renderer.envelope(row) if stage.is_smtp else renderer.email(row)
            except Exception as error:
                logger.warning("delivery %s could not be rendered: %s", row.pk, error)
                _record_failure(row, error, token=token)
                outcome.add("failed")
                continue
            try:
                # MAIL, RCPT, DATA and the content, not the "."
                if stage.is_smtp:
                    stage.stage_bytes(*message)
                else:
                    stage.stage(message)
            except Exception as error:
                stage.abort()
                logger.warning("delivery %s failed: %s", row.pk, error)
                _record_failure(row, error, token=token)
                outcome.add("failed")
                if _connection_lost(error):
                    outcome.add("released", _release(rows[index + 1 :], token, error))
                    return
                continue
            try:
                # One statement, committed on its own: the row is sent if it still
                # holds the token (a duplicated task finds it sent and drops its
                # unfinished message).
                taken = _mark_sent(row, token)
            except Exception:
                stage.abort()
                raise
            if not taken:
                stage.abort()
                outcome.add("not-ours")
                continue
            # Committed as sent: now (and only now) end the SMTP message.
            try:
                stage.finish()
            except smtplib.SMTPResponseException as error:
                # The server answered "no" to the message: it was not taken.
                stage.abort()
                logger.warning("SMTP refused delivery %s at the end: %s", row.pk, error)
                _record_failure(row, error, token=token)
                outcome.add("failed")
                continue
            except Exception as error:
                # No answer after the final "." : the server may have the message.
                # At most once (docs/EVENTS.md): the row stays sent; the rest wait.
                stage.abort()
                logger.warning("no SMTP answer for delivery %s: %s", row.pk, error)
                outcome.add("sent")
                outcome.add("released", _release(rows[index + 1 :], token, error))
                return
            outcome.add("sent")
    finally:
        stage.close()


def _send_sms(rows: list[Delivery], token: str, renderer: _Renderer, outcome: _Outcome) -> None:
    """Texts: the batch's rows committed as sent (one ``UPDATE``), then handed to
    the SMS backend in one call (one request with a batch gateway, else one per
    text over its pooled connection). A text refused comes back (retry, on that
    row); answers lost after the request leave the rows sent (at most once, as
    for email)."""
    ready = []
    for row in rows:
        try:
            ready.append((row, _phone(row), renderer.sms(row)))
        except Exception as error:
            _record_failure(row, error, token=token)
            outcome.add("failed")
    if not ready:
        return
    with transaction.atomic():
        taken = set(
            _ours(token)
            .filter(pk__in=[row.pk for row, _p, _t in ready])
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)
        )
        Delivery.objects.filter(pk__in=taken).update(
            status=Delivery.Status.SENT, sent_at=timezone.now(), note=""
        )
    # Committed as sent: now (and only now) the texts go.
    outcome.add("not-ours", len(ready) - len(taken))
    ready = [item for item in ready if item[0].pk in taken]
    results = send_sms_many([(phone, text) for _row, phone, text in ready])
    untried = []
    for (row, _phone_number, _text), error in zip(ready, results, strict=True):
        if error is None:
            outcome.add("sent")
        elif isinstance(error, SMSOutcomeUnknown):
            logger.warning("no SMS gateway answer for delivery %s: %s", row.pk, error)
            outcome.add("sent")
        elif isinstance(error, SMSNotTried):
            untried.append(row)
        else:
            logger.warning("delivery %s failed: %s", row.pk, error)
            _record_failure(row, error, token=token)
            outcome.add("failed")
    if untried:
        # (They were marked sent for the hand-off: back to pending, no attempt counted.)
        Delivery.objects.filter(pk__in=[row.pk for row in untried], claim_token=token).update(
            status=Delivery.Status.CLAIMED
        )
        outcome.add("released", _release(untried, token, results[-1]))


# What a WeChat subscription message says in its short fields: a note (thing,
# at most 20 characters) and a status (phrase, at most 5 Chinese characters).
def _wechat_note_and_status(delivery: Delivery) -> tuple[str, str]:
    purpose = delivery.purpose
    booking = delivery.booking
    if purpose == Delivery.Purpose.REMINDER:
        return _("即将开始，请准时参加"), _("即将开始")
    if purpose == Delivery.Purpose.TIME_CHANGED:
        return _("时间已变更，报名仍有效"), _("时间变更")
    if purpose == Delivery.Purpose.CANCELLED:
        return _("已取消，无需前往"), _("已取消")
    if purpose == Delivery.Purpose.PROMOTED:
        return _("已转为正式报名，不能参加请及时取消"), _("候补转正")
    if purpose == Delivery.Purpose.WITHDRAWN:
        return _("您的报名已取消"), _("已取消报名")
    if booking is not None and booking.status == Booking.Status.WAITING:
        return _("已进入候补，有空位会按顺序转正"), _("候补中")
    return _("报名成功"), _("报名成功")


def _wechat_values(delivery: Delivery, info: OfferingInfo | None) -> dict[str, str]:
    """The portal's texts by name, as wechat.services.subscription_deliver takes
    them (the template's field map picks and shapes them): from the same
    OfferingInfo as every other channel (a notice: from its Notice)."""
    if delivery.purpose == Delivery.Purpose.NOTICE:
        notice = delivery.notice
        return {
            "title": notice.subject,
            "starts_at": notice.created_at.isoformat(),
            "venue": "",
            "note": _short(notice.lead, 20),
            "status": notice.wechat_status or _("通知"),
            "reference": str(delivery.pk),
        }
    note, status = _wechat_note_and_status(delivery)
    venue = info.venue or (_("线上") if info.online_url else "")
    return {
        "title": info.title,
        "starts_at": delivery.offering.starts_at.isoformat(),
        "venue": venue,
        "note": note,
        "status": status,
        "reference": str(delivery.booking_id or delivery.pk),
    }


def _wechat_fallback(row: Delivery, reason: str) -> str:
    """WeChat could not carry the message: one text instead, if the guardian has
    a number and no text of this message exists yet, else one in-site notice.
    The unique keys make this happen at most once per message, however often
    it is tried. Returns the delivery log's note for the WeChat row."""
    user = row.user
    # (after a refusal the preference just changed: read it again)
    user._state.fields_cache.pop("notification_preference", None)
    preference = notification_preference_for(user=user)
    now = timezone.now()
    fields = {
        "user": user,
        "offering_id": row.offering_id,
        "booking_id": row.booking_id,
        "notice_id": row.notice_id,
        "purpose": row.purpose,
        "offset_minutes": row.offset_minutes,
        "scheduled_for": row.scheduled_for,
        "is_late": row.is_late,
    }
    starts_at = (
        None
        if row.purpose in (Delivery.Purpose.CANCELLED, Delivery.Purpose.NOTICE)
        else row.offering.starts_at
    )
    written = ""
    if notification_sms_phone(user=user):
        text = _sms_row(
            preference=preference,
            due_at=now,
            starts_at=starts_at,
            note=_("微信订阅消息未能送达，改发短信。"),
            **fields,
        )
        if _insert_once(text):
            written = "sms"
    if not written and _insert_once(
        Delivery(
            channel=Delivery.Channel.INBOX,
            due_at=now,
            note=_("微信订阅消息未能送达，改发站内通知。"),
            **fields,
        )
    ):
        written = "inbox"
    if written:
        _kick_after_commit()
    target = {
        "sms": _("已改发短信。"),
        "inbox": _("已改发站内通知。"),
        "": _("已有短信或站内通知，不再重发。"),
    }[written]
    return f"{reason}，{target}"


def _insert_once(row: Delivery) -> bool:
    """Write ``row`` unless its unique key is taken (then nothing)."""
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        return False
    return True


def _send_wechat(rows: list[Delivery], token: str, renderer: _Renderer, outcome: _Outcome) -> None:
    """WeChat subscription messages, one call each (wechat.services.subscription_deliver
    spends one acceptance from the ledger, then calls WeChat), outside any
    transaction that holds locks. Each row is committed as sent before its call
    (at most once, as for texts); then its outcome decides: sent; no acceptance
    left, refused (43101: the channel is turned off) or a message WeChat will not
    take → a text or an in-site notice instead (``_wechat_fallback``); WeChat
    busy → back to pending with the usual backoff (the acceptance is given back)."""
    from wechat.services import DeliverOutcome, subscription_deliver

    reasons = {
        DeliverOutcome.NO_GRANT: _("没有可用的微信订阅次数"),
        DeliverOutcome.REFUSED: _("用户在微信中拒收（43101），已关闭微信渠道"),
        DeliverOutcome.FAILED: _("微信未接受这条消息（模板或内容有误）"),
    }
    for row in rows:
        try:
            values = _wechat_values(row, renderer.info(row))
        except Exception as error:
            logger.warning("delivery %s could not be rendered: %s", row.pk, error)
            _record_failure(row, error, token=token)
            outcome.add("failed")
            continue
        if not _mark_sent(row, token):
            outcome.add("not-ours")
            continue
        try:
            result = subscription_deliver(
                user=row.user,
                kind=WECHAT_KINDS[row.purpose],
                values=values,
                reference=f"delivery-{row.pk}",
            )
        except Exception as error:
            # Its outcome is unknown (the acceptance may be spent, the message may
            # have gone): not tried again, told another way.
            logger.warning("WeChat delivery %s failed: %s", row.pk, error)
            result = DeliverOutcome.FAILED
        if result == DeliverOutcome.SENT:
            outcome.add("sent")
            continue
        if result == DeliverOutcome.RETRY:
            if row.attempts + 1 < settings.REMINDER_MAX_ATTEMPTS:
                fields = _failure_fields(row, RuntimeError("WeChat busy"))
                fields["note"] = _("微信暂时无法送达，稍后重试。")
                Delivery.objects.filter(pk=row.pk, claim_token=token).update(**fields)
                outcome.add("retry")
                continue
            reason = _("微信多次无法送达")
            status = Delivery.Status.FAILED
        else:
            reason = reasons[result]
            status = (
                Delivery.Status.FAILED
                if result == DeliverOutcome.FAILED
                else Delivery.Status.SKIPPED
            )
        note = _wechat_fallback(row, reason)
        Delivery.objects.filter(pk=row.pk, claim_token=token).update(
            status=status, note=note[:300], claim_token=None
        )
        outcome.add("fallback")


def delivery_send_batch(*, delivery_ids: list[int], claim_token: str) -> dict[str, int]:
    """Send claimed rows; each row at most once (see the module docstring).

    The batch is read in one query and rendered once per offering and kind of
    message; in-site notices are written in bulk, emails share one SMTP
    connection, texts one pooled HTTP connection. Each row's failure is
    recorded on that row; the rest of the batch goes on.
    """
    outcome = _Outcome()
    renderer = _Renderer()
    token = str(claim_token)
    with translation.override(settings.LANGUAGE_CODE):
        rows = _load(delivery_ids, token)
        outcome.add("not-ours", len(set(delivery_ids)) - len(rows))
        rows = _held_back(rows, token, timezone.now(), outcome)
        by_channel: dict[str, list[Delivery]] = {}
        for row in rows:
            by_channel.setdefault(row.channel, []).append(row)
        if by_channel.get(Delivery.Channel.INBOX):
            _send_inbox(by_channel[Delivery.Channel.INBOX], token, renderer, outcome)
        if by_channel.get(Delivery.Channel.SMS):
            _send_sms(by_channel[Delivery.Channel.SMS], token, renderer, outcome)
        if by_channel.get(Delivery.Channel.EMAIL):
            _send_email(by_channel[Delivery.Channel.EMAIL], token, renderer, outcome)
        if by_channel.get(Delivery.Channel.WECHAT):
            _send_wechat(by_channel[Delivery.Channel.WECHAT], token, renderer, outcome)
    return dict(outcome)


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
