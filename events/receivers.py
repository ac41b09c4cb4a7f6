"""The outbox's receivers: lower apps announce what happened, events writes
the delivery rows (events/reminders.py) in the same transaction.

bookings and members cannot import events (dependencies flow one way), so they
send the signals declared in bookings/signals.py and members/signals.py, inside
the transaction of the change. Writing the rows here, rather than after the
commit, means a family is told exactly about what committed: a rolled-back
booking leaves no receipt, and a committed one always has its rows, even if the
broker is down (the beat pass sends them). Connected in EventsConfig.ready.
"""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist
from django.dispatch import receiver

from bookings.signals import booking_cancelled, booking_created, bookings_promoted
from members.signals import account_message_requested, family_invitation_created
from notifications.selectors import wechat_reach_register

from . import reminders
from .models import Delivery


@receiver(booking_created, dispatch_uid="events.outbox.booking_receipt")
def booking_receipt(sender, booking, **kwargs) -> None:
    """Course sessions and events alike: a receipt (confirmed, or on the waiting list)."""
    reminders.booking_notices_create(
        offering=booking.offering,
        bookings=[booking],
        purpose=Delivery.Purpose.CONFIRMATION,
        moment=booking.created_at,
    )


@receiver(booking_cancelled, dispatch_uid="events.outbox.withdrawal_receipt")
def withdrawal_receipt(sender, booking, **kwargs) -> None:
    """The family is told its booking is cancelled, whoever cancelled it."""
    reminders.booking_notices_create(
        offering=booking.offering,
        bookings=[booking],
        purpose=Delivery.Purpose.WITHDRAWN,
        moment=booking.cancelled_at,
    )


@receiver(bookings_promoted, dispatch_uid="events.outbox.promotion_notices")
def promotion_notices(sender, offering, bookings, **kwargs) -> None:
    """Each promoted family is told once, and gets a reminder whose moment has
    already passed at once, marked late."""
    reminders.booking_notices_create(
        offering=offering, bookings=bookings, purpose=Delivery.Purpose.PROMOTED
    )
    reminders.reminders_for_promoted(offering=offering, bookings=bookings)


@receiver(family_invitation_created, dispatch_uid="events.outbox.invitation")
def invitation_message(sender, invitation, base_url="", **kwargs) -> None:
    reminders.invitation_notice_create(invitation=invitation, base_url=base_url)


@receiver(account_message_requested, dispatch_uid="events.outbox.account_message")
def account_message(
    sender, message_key, kind, phone="", email="", user=None, template="", **kwargs
) -> None:
    """A code, a texted answer or an allauth mail: one row, sent once committed."""
    reminders.account_message_create(
        message_key=message_key,
        kind=kind,
        template=template,
        phone=phone,
        email=email,
        user=user,
    )


def _has_wechat_identity(user) -> bool:
    """Has ``user`` signed in through the mini-program (wechat.WeChatIdentity)?
    Read through the one-to-one accessor, so a planning query that selected
    ``user__wechat_identity`` answers without another query."""
    try:
        user.wechat_identity  # noqa: B018 - the lookup is the question
    except ObjectDoesNotExist:
        return False
    return True


# notifications (below wechat) asks through this hook whether WeChat can reach a
# person: its defaults rule and the preferences page.
wechat_reach_register(_has_wechat_identity)
