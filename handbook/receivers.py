"""Attendance → proposals: when bookings announce a participation change (an
attendance mark, a check-in), the handbook queues a proposal of the matching
at-school claims for those offerings, after the change commits (the task reads
committed rows; a rolled-back mark queues nothing). Connected in HandbookConfig.ready.

bookings cannot import handbook (dependencies flow one way): it sends the
signal declared in bookings/signals.py.
"""

from __future__ import annotations

from django.db import transaction
from django.dispatch import receiver

from bookings.signals import participation_changed


@receiver(participation_changed, dispatch_uid="handbook.proposals.participation_changed")
def participation_changed_propose(sender, offering_ids=(), **kwargs) -> None:
    ids = sorted({int(pk) for pk in offering_ids or ()})
    if not ids:
        return

    def enqueue() -> None:
        from .tasks import claims_propose

        claims_propose.delay(ids)

    # robust: a broker that is down loses this task, not the check-in; the nightly
    # sweep (handbook.tasks.claims_propose_sweep) proposes what it missed.
    transaction.on_commit(enqueue, robust=True)


def _claim_photo_delete(sender, instance, **kwargs) -> None:
    """A deleted claim (an account or a family deleted, a cascade) takes its photo
    file with it, once the deletion commits (a rolled-back deletion keeps it)."""
    name = instance.photo.name if instance.photo else ""
    if not name:
        return
    storage = instance.photo.storage
    transaction.on_commit(lambda: storage.delete(name), robust=True)


def claim_photo_receivers_connect() -> None:
    from django.db.models.signals import post_delete

    from .models import Claim

    post_delete.connect(
        _claim_photo_delete, sender=Claim, dispatch_uid="handbook.claim.photo_delete"
    )
