"""Marks for the incremental roll-up: lower apps announce a change that the
participation figures count, reports marks the snapshot keys it touches in the
same transaction (reports.services.snapshot_marks_write), so a mark exists
exactly when its change committed. Connected in ReportsConfig.ready.

bookings and courses cannot import reports (dependencies flow one way): they send
the signals declared in bookings/signals.py.

The growth handbook's figures (reports.HandbookSnapshot, per unit and term) are
marked from the models' own signals: a claim saved or deleted marks its term and
verifying unit; a learning-family list saved (computed, reviewed, published) or
deleted marks the units of its entries.

The questionnaires' figures (reports.SurveySnapshot, per unit and term) and the
attainment (reports.UnitAttainment) are marked with ``figures="surveys"``: an
invitation or a participation saved or deleted, a survey saved, and the bulk
writes of surveys.services (invitations sent, answers submitted, anonymous
batches released), which send ``surveys.signals.responses_changed(survey_ids)``.
A unit target set or removed (evaluation) marks its unit and term: post_save
and post_delete in the change's transaction, and ``targets_changed`` for the
default fill, whose one upsert sends no post_save.
"""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save, pre_delete
from django.dispatch import receiver

from bookings.models import Booking
from bookings.signals import (
    booking_cancelled,
    booking_created,
    bookings_promoted,
    participation_changed,
)
from evaluation.models import UnitTarget
from evaluation.signals import targets_changed
from handbook.models import Claim
from handbook.signals import claims_changed
from recognition.models import LearningFamilyList
from surveys.models import Invitation, Participation, Survey
from surveys.signals import responses_changed

from . import services


@receiver(booking_created, dispatch_uid="reports.marks.booking_created")
def booking_created_mark(sender, booking, **kwargs) -> None:
    # A waiting booking counts in no figure until it is promoted.
    if booking.status == Booking.Status.CONFIRMED:
        services.snapshot_marks_write(offering_ids=[booking.offering_id])


@receiver(booking_cancelled, dispatch_uid="reports.marks.booking_cancelled")
def booking_cancelled_mark(sender, booking, **kwargs) -> None:
    # A waiting booking was counted nowhere, but marking it too costs one
    # re-roll and never depends on how the booking came to be.
    services.snapshot_marks_write(offering_ids=[booking.offering_id])


@receiver(bookings_promoted, dispatch_uid="reports.marks.bookings_promoted")
def bookings_promoted_mark(sender, offering, bookings, **kwargs) -> None:
    services.snapshot_marks_write(offering_ids=[offering.pk])


@receiver(participation_changed, dispatch_uid="reports.marks.participation_changed")
def participation_changed_mark(
    sender, offering_ids=(), credit_keys=(), lesson_progress_ids=(), **kwargs
) -> None:
    services.snapshot_marks_write(
        offering_ids=offering_ids,
        credit_keys=credit_keys,
        lesson_progress_ids=lesson_progress_ids,
    )


@receiver(post_save, sender=Claim, dispatch_uid="reports.marks.claim_saved")
@receiver(post_delete, sender=Claim, dispatch_uid="reports.marks.claim_deleted")
def claim_mark(sender, instance, raw=False, **kwargs) -> None:
    if raw:  # loaddata: no figures change that a roll-up would not redo
        return
    services.handbook_marks_write(keys=[(instance.term_id, instance.unit_id)])


@receiver(claims_changed, dispatch_uid="reports.marks.claims_changed")
def claims_bulk_mark(sender, keys=(), **kwargs) -> None:
    # Proposals from attendance are bulk-inserted: no post_save, this signal instead.
    services.handbook_marks_write(keys=keys)


@receiver(post_save, sender=LearningFamilyList, dispatch_uid="reports.marks.list_saved")
# Before the delete: the list's entries (and so its units) are still there.
@receiver(pre_delete, sender=LearningFamilyList, dispatch_uid="reports.marks.list_deleted")
def learning_family_list_mark(sender, instance, raw=False, **kwargs) -> None:
    # Only published lists count (reports.rollup.handbook_queries): saving a draft
    # (each computation does) changes no figure.
    if raw or instance.status != LearningFamilyList.Status.PUBLISHED:
        return
    services.handbook_marks_write(family_list_ids=[instance.pk])


@receiver(post_save, sender=Invitation, dispatch_uid="reports.marks.invitation_saved")
@receiver(post_delete, sender=Invitation, dispatch_uid="reports.marks.invitation_deleted")
@receiver(post_save, sender=Participation, dispatch_uid="reports.marks.participation_saved")
@receiver(post_delete, sender=Participation, dispatch_uid="reports.marks.participation_deleted")
def survey_row_mark(sender, instance, raw=False, **kwargs) -> None:
    if raw:
        return
    services.survey_marks_write(survey_ids=[instance.survey_id])


@receiver(responses_changed, dispatch_uid="reports.marks.responses_changed")
def responses_mark(sender, survey_ids=(), **kwargs) -> None:
    # Bulk writes of surveys.services: invitations sent, answers written,
    # anonymous batches released (no post_save per row).
    services.survey_marks_write(survey_ids=survey_ids)


@receiver(post_save, sender=Survey, dispatch_uid="reports.marks.survey_saved")
def survey_mark(sender, instance, raw=False, **kwargs) -> None:
    # Published, unpublished or moved: its unit's counts of surveys change. (A
    # deleted survey's rows go with it; the nightly roll-up drops its figures.)
    if raw:
        return
    services.survey_marks_write(keys=[(instance.term_id, instance.unit_id)])


@receiver(post_save, sender=UnitTarget, dispatch_uid="reports.marks.unit_target_saved")
@receiver(post_delete, sender=UnitTarget, dispatch_uid="reports.marks.unit_target_deleted")
def unit_target_mark(sender, instance, raw=False, **kwargs) -> None:
    if raw:
        return
    services.survey_marks_write(keys=[(instance.term_id, instance.unit_id)])


@receiver(targets_changed, dispatch_uid="reports.marks.targets_changed")
def targets_bulk_mark(sender, term_id=None, unit_ids=(), **kwargs) -> None:
    services.survey_marks_write(keys=[(term_id, unit_id) for unit_id in unit_ids or ()])
