"""Writes of the growth handbook: claims, decisions, proposals from attendance, items.

Every write of a claim goes through a function here (pages, admin, API and
tasks call them). The rules that make a points system fair live here and in
the database, never in the session:

- **Limits** are ``ClaimTally`` counters, one row per family, item and period
  (day, ISO week from Monday, term), raised by one conditional upsert each
  (``INSERT … ON CONFLICT … DO UPDATE … WHERE used < limit RETURNING used``).
  No row back means the limit is reached: the error rolls the whole claim back.
  Withdrawing or rejecting a claim gives its place back. Two guardians of a
  family, two sessions, the pages and the API all meet at the same rows.
- **Nobody decides their own claim**: not its creator, not a guardian of the
  family (a check constraint backs the first).
- **Photos** are decoded and re-encoded from their pixels (EXIF, GPS and all
  other metadata gone), resized, stored under a random name, and fingerprinted
  (``photo_hash``) so the same picture sent again is flagged to the verifier.

Tally rows of one family and item are always locked in the same order (day,
term, week: the order of ``(period, starts_on)``), by every writer, so two
writers never deadlock on each other's counters.
"""

from __future__ import annotations

import datetime
import secrets
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from bookings.locking import bounded_atomic
from bookings.models import Booking, Offering
from members.access import alliances_visible_to, coordinated_alliance_ids, sees_every_district
from members.formatting import id_or_none
from members.models import AuditLog, Child, Family, Guardian
from members.photos import PhotoRejected, photo_clean
from members.services import audit_log_record
from parent_school.models import Term
from parent_school.selectors import term_current

from . import selectors
from .errors import HandbookError
from .models import Claim, ClaimTally, HandbookItem, ItemKind
from .signals import claims_changed

NOTE_MAX = 500
REASON_MAX = 200
PERIOD_ORDER = (ClaimTally.Period.DAY, ClaimTally.Period.TERM, ClaimTally.Period.WEEK)
LIMIT_CODES = {
    ClaimTally.Period.DAY: "limit_day",
    ClaimTally.Period.WEEK: "limit_week",
    ClaimTally.Period.TERM: "limit_term",
}


# --- transactions and locks -------------------------------------------------------


def claim_transaction():
    return bounded_atomic(lambda: HandbookError("busy"))


# --- limits: the tallies ----------------------------------------------------------


def week_start(day: datetime.date) -> datetime.date:
    """The Monday of ``day``'s ISO week."""
    return day - datetime.timedelta(days=day.weekday())


def tally_keys(
    *, item: HandbookItem, occurred_on: datetime.date, term_starts_on: datetime.date
) -> list[tuple[str, datetime.date, int | None]]:
    """(period, first day, limit) of each period a claim counts in, in lock order."""
    starts = {
        ClaimTally.Period.DAY: (occurred_on, item.limit_per_day),
        ClaimTally.Period.TERM: (term_starts_on, item.limit_per_term),
        ClaimTally.Period.WEEK: (week_start(occurred_on), item.limit_per_week),
    }
    return [(period, *starts[period]) for period in PERIOD_ORDER]


def _tally_upsert_sql(with_limit: bool) -> str:
    table = connection.ops.quote_name(ClaimTally._meta.db_table)
    condition = f" WHERE {table}.used < %s" if with_limit else ""
    return (
        f"INSERT INTO {table} (family_id, item_id, period, starts_on, used) "
        "VALUES (%s, %s, %s, %s, 1) "
        "ON CONFLICT (family_id, item_id, period, starts_on) "
        f"DO UPDATE SET used = {table}.used + 1{condition} RETURNING used"
    )


def tally_take(
    *, family_id: int, item: HandbookItem, occurred_on: datetime.date, term_starts_on: datetime.date
) -> None:
    """Count one claim in the day, term and week tallies, or refuse at a limit.

    One statement per period; a period without a limit is still counted (so a
    limit set later in the term starts from the truth). Call inside a transaction:
    the HandbookError it raises rolls the earlier periods back with the claim.
    """
    with connection.cursor() as cursor:
        for period, starts_on, limit in tally_keys(
            item=item, occurred_on=occurred_on, term_starts_on=term_starts_on
        ):
            # Keyed on the source item: an alliance's copy of a default item
            # shares the default's counters (customising never lifts a limit).
            params = [family_id, item.source_id, period, starts_on]
            if limit is not None:
                params.append(limit)
            cursor.execute(_tally_upsert_sql(limit is not None), params)
            if cursor.fetchone() is None:
                raise HandbookError(
                    LIMIT_CODES[period], field="occurred_on", item=item.name, n=limit
                )


def tally_release(*, claim: Claim) -> int:
    """Give back the places a withdrawn or rejected claim held (day, week, term)."""
    keys = tally_keys(
        item=claim.item, occurred_on=claim.occurred_on, term_starts_on=claim.term.starts_on
    )
    condition = Q(pk__in=[])
    for period, starts_on, _limit in keys:
        condition |= Q(period=period, starts_on=starts_on)
    return (
        ClaimTally.objects.filter(
            condition, family_id=claim.family_id, item_id=claim.item.source_id
        )
        .filter(used__gt=0)
        .update(used=F("used") - 1)
    )


# --- photos -----------------------------------------------------------------------


@dataclass
class ProcessedPhoto:
    content: bytes  # the re-encoded JPEG: pixels only, no metadata
    digest: str  # sha256 of the normalised RGB pixels


def photo_process(upload) -> ProcessedPhoto:
    """Check, clean and shrink an uploaded photo; HandbookError naming 照片 if it is not one.

    members.photos.photo_clean does the work (upright by EXIF, at most
    HANDBOOK_PHOTO_MAX_SIDE pixels on the long side, re-encoded from its pixels
    alone, so EXIF, GPS and every other piece of metadata is left behind).
    """
    try:
        clean = photo_clean(
            upload,
            max_bytes=settings.HANDBOOK_PHOTO_MAX_BYTES,
            max_side=settings.HANDBOOK_PHOTO_MAX_SIDE,
        )
    except PhotoRejected as error:
        if error.code == "too_large":
            raise HandbookError("photo_too_large", field="photo", mb=error.mb) from error
        raise HandbookError("photo_not_image", field="photo") from error
    return ProcessedPhoto(content=clean.content, digest=clean.digest)


def _photo_name() -> str:
    # Never the uploaded file's name: it can carry a child's name or a date.
    return f"{secrets.token_hex(16)}.jpg"


# --- who is asking ----------------------------------------------------------------


def _photo_attach(claim: Claim, processed: ProcessedPhoto) -> str:
    """Put the cleaned photo on the (unsaved) claim, flag it if another claim has
    the same picture, and store the file; returns the stored name, for clean-up
    if the transaction fails."""
    claim.photo_hash = processed.digest
    claim.flag_reused_photo = selectors.claims_reusing_photo(claim).exists()
    claim.photo.save(_photo_name(), ContentFile(processed.content), save=False)
    return claim.photo.name


def _family_of(user) -> Family:
    if not getattr(user, "is_authenticated", False):
        raise HandbookError("no_family")
    guardian = Guardian.objects.filter(user_id=user.pk).select_related("family").first()
    if guardian is None:
        raise HandbookError("no_family")
    return guardian.family


def _is_guardian_of(user, family_id: int | None) -> bool:
    if family_id is None or not getattr(user, "pk", None):
        return False
    return Guardian.objects.filter(user_id=user.pk, family_id=family_id).exists()


def _verifying_unit_id(*, family: Family, child: Child | None) -> int:
    """The child's school; else the school of the family's first child that has one."""
    if child is not None and child.school_id:
        return child.school_id
    school_id = (
        Child.objects.filter(family=family, school__isnull=False)
        .order_by("pk")
        .values_list("school_id", flat=True)
        .first()
    )
    if school_id is None:
        raise HandbookError("no_verifier", field="child")
    return school_id


# --- claims by families -----------------------------------------------------------


def claim_submit(
    *,
    user,
    item_id: int,
    occurred_on: datetime.date | None,
    child_id: int | None = None,
    note: str = "",
    photo=None,
    now: datetime.datetime | None = None,
) -> Claim:
    """A guardian claims an item of the family's handbook; pending until verified.

    Refuses with HandbookError (naming the field) and writes nothing when: the
    user has no family; there is no current term; the item is not an active item
    of the family's handbook or is proposed from attendance only; the child is
    not the family's; the date is in the future or outside the term; the item's
    evidence is missing (a note, a photo); the photo is not an image or too large;
    a limit (day, week, term) is reached; nobody can verify (no child's school).
    """
    now = now or timezone.now()
    family = _family_of(user)
    term = term_current()
    if term is None:
        raise HandbookError("no_term")
    item = _family_item(family=family, item_id=item_id)
    if item.evidence == HandbookItem.Evidence.ATTENDANCE or item.attendance_match:
        # Linked to the attendance record: proposed from it, never claimed by hand.
        raise HandbookError("attendance_only", field="item")
    occurred_on = _claim_date(occurred_on, term=term, now=now)
    child = _family_child(family=family, child_id=child_id)
    note = _clean_note(note)
    if item.evidence == HandbookItem.Evidence.NOTE and not note:
        raise HandbookError("note_required", field="note")
    if item.evidence == HandbookItem.Evidence.PHOTO and not photo:
        raise HandbookError("photo_required", field="photo")
    unit_id = _verifying_unit_id(family=family, child=child)
    processed = photo_process(photo) if photo else None

    stored_name = ""
    try:
        with claim_transaction():
            tally_take(
                family_id=family.pk,
                item=item,
                occurred_on=occurred_on,
                term_starts_on=term.starts_on,
            )
            claim = Claim(
                family=family,
                item=item,
                child=child,
                term=term,
                unit_id=unit_id,
                occurred_on=occurred_on,
                note=note,
                source=Claim.Source.PARENT,
                status=Claim.Status.PENDING,
                created_by=user,
            )
            if processed is not None:
                stored_name = _photo_attach(claim, processed)
            claim.save()
            claim.flag_burst = _burst_flag(family=family, claim=claim, now=now)
            audit_log_record(
                actor=user,
                action="handbook.claim.submit",
                target=claim,
                data={
                    "item": item.pk,
                    "occurred_on": occurred_on.isoformat(),
                    "photo": bool(processed),
                    "flags": [
                        name
                        for name, on in (
                            ("burst", claim.flag_burst),
                            ("reused_photo", claim.flag_reused_photo),
                        )
                        if on
                    ],
                },
            )
    except BaseException:
        if stored_name:
            Claim._meta.get_field("photo").storage.delete(stored_name)
        raise
    return claim


def _burst_flag(*, family: Family, claim: Claim, now: datetime.datetime) -> bool:
    """Flag ``claim`` (already inserted) when the family made HANDBOOK_BURST_CLAIMS
    or more parent claims within HANDBOOK_BURST_MINUTES, itself included.

    The family's row is locked first, so claims of one family count in turn: of
    two parallel claims the second counts the first (which has committed by
    then), and a burst is never missed by both. A flag for the verifier, not a refusal."""
    Family.objects.select_for_update().filter(pk=family.pk).values_list("pk", flat=True).first()
    since = now - datetime.timedelta(minutes=settings.HANDBOOK_BURST_MINUTES)
    recent = Claim.objects.filter(
        family=family, source=Claim.Source.PARENT, created_at__gte=since
    ).count()
    if recent < settings.HANDBOOK_BURST_CLAIMS:
        return False
    Claim.objects.filter(pk=claim.pk).update(flag_burst=True)
    return True


def _family_item(*, family: Family, item_id) -> HandbookItem:
    pk = id_or_none(item_id)
    item = (
        selectors.handbook_items(selectors.handbook_alliance_id(family)).filter(pk=pk).first()
        if pk is not None
        else None
    )
    if item is None:
        raise HandbookError("item_missing", field="item")
    return item


def _claim_date(value, *, term: Term, now: datetime.datetime) -> datetime.date:
    if isinstance(value, datetime.datetime):
        value = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    elif isinstance(value, str) and value.strip():
        try:
            value = datetime.date.fromisoformat(value.strip())
        except ValueError:
            value = None
    if not isinstance(value, datetime.date):
        raise HandbookError("date_missing", field="occurred_on")
    if value > timezone.localdate(now):
        raise HandbookError("date_future", field="occurred_on")
    if not term.starts_on <= value <= term.ends_on:
        raise HandbookError(
            "date_outside_term",
            field="occurred_on",
            starts=f"{term.starts_on:%Y-%m-%d}",
            ends=f"{term.ends_on:%Y-%m-%d}",
        )
    return value


def _family_child(*, family: Family, child_id) -> Child | None:
    if child_id in (None, ""):
        return None
    pk = id_or_none(child_id)
    child = Child.objects.filter(pk=pk, family=family).first() if pk is not None else None
    if child is None:
        raise HandbookError("child_missing", field="child")
    return child


def _clean_note(note) -> str:
    note = str(note or "").strip()
    if len(note) > NOTE_MAX:
        raise HandbookError("note_too_long", field="note", n=NOTE_MAX)
    return note


def _family_claim_locked(*, user, claim_id) -> Claim:
    family = _family_of(user)
    claim = (
        Claim.objects.select_for_update(of=("self",))
        .select_related("item", "term")
        .filter(pk=id_or_none(claim_id), family=family)
        .first()
    )
    if claim is None:
        raise HandbookError("claim_missing")
    return claim


def claim_withdraw(*, user, claim_id) -> Claim:
    """The family takes back a pending (or asked-for-more) claim; its place under
    the limits is free again."""
    with claim_transaction():
        claim = _family_claim_locked(user=user, claim_id=claim_id)
        if claim.status == Claim.Status.WITHDRAWN:
            return claim
        if claim.status not in (Claim.Status.PENDING, Claim.Status.MORE_INFO):
            raise HandbookError("not_withdrawable")
        claim.status = Claim.Status.WITHDRAWN
        claim.save(update_fields=["status"])
        tally_release(claim=claim)
        audit_log_record(actor=user, action="handbook.claim.withdraw", target=claim)
    return claim


def claim_respond(*, user, claim_id, note: str = "", photo=None) -> Claim:
    """The family answers an ask-for-more (a note, a photo, or both): pending again."""
    note = _clean_note(note)
    if not note and not photo:
        raise HandbookError("respond_empty", field="note")
    processed = photo_process(photo) if photo else None
    stored_name = ""
    try:
        with claim_transaction():
            claim = _family_claim_locked(user=user, claim_id=claim_id)
            if claim.status != Claim.Status.MORE_INFO:
                raise HandbookError("not_awaiting_more")
            old_photo = claim.photo.name
            if note:
                claim.note = note
            if processed is not None:
                stored_name = _photo_attach(claim, processed)
            claim.status = Claim.Status.PENDING
            claim.save()
            audit_log_record(
                actor=user,
                action="handbook.claim.respond",
                target=claim,
                data={"note": bool(note), "photo": bool(processed)},
            )
            if stored_name and old_photo:
                storage = Claim._meta.get_field("photo").storage
                transaction.on_commit(lambda: storage.delete(old_photo))
    except BaseException:
        if stored_name:
            Claim._meta.get_field("photo").storage.delete(stored_name)
        raise
    return claim


# --- decisions by verifiers -------------------------------------------------------

DECISIONS = {
    "approve": Claim.Status.APPROVED,
    "reject": Claim.Status.REJECTED,
    "more": Claim.Status.MORE_INFO,
}


def claim_decide(
    *,
    user,
    claim_id: int,
    decision: str,
    reason: str = "",
    now: datetime.datetime | None = None,
) -> Claim:
    """A verifier approves, rejects (with a reason) or asks for more (with what).

    The verifier must be staff who sees the claim's unit (else claim_missing),
    and neither the claim's creator nor a guardian of its family. Approving
    awards the item's points; rejecting frees the claim's place under the
    limits. Deciding what is already decided the same way changes nothing (a
    double click, a retried API call); a claim approved or rejected is final.
    Rejection and ask-for-more tell the family once through the outbox.
    """
    with claim_transaction():
        claim = _decide(user=user, claim_id=claim_id, decision=decision, reason=reason, now=now)
    return claim


def _decide(*, user, claim_id, decision, reason, now, attendance_only: bool = False) -> Claim:
    now = now or timezone.now()
    target = DECISIONS.get(decision)
    if target is None:
        raise HandbookError("bad_decision", field="decision")
    reason = " ".join(str(reason or "").split())
    if decision in ("reject", "more") and not reason:
        raise HandbookError("reason_required", field="reason")
    if len(reason) > REASON_MAX:
        raise HandbookError("reason_too_long", field="reason", n=REASON_MAX)
    claim = (
        selectors.claims_verifiable_by(user)
        .select_for_update(of=("self",))
        .select_related("item", "term")
        .filter(pk=id_or_none(claim_id))
        .first()
    )
    if claim is None:
        raise HandbookError("claim_missing")
    if claim.created_by_id == user.pk or _is_guardian_of(user, claim.family_id):
        raise HandbookError("self_decision")
    if attendance_only and claim.source != Claim.Source.ATTENDANCE:
        raise HandbookError("not_attendance")
    if claim.status == target:
        return claim
    if claim.status not in (Claim.Status.PENDING, Claim.Status.MORE_INFO):
        raise HandbookError("already_decided", field="decision", status=claim.get_status_display())
    if (
        target == Claim.Status.APPROVED
        and claim.source == Claim.Source.ATTENDANCE
        and not _booking_backs_claim(claim)
    ):
        # The attendance mark was undone (or the booking cancelled) since the proposal.
        raise HandbookError("attendance_undone", field="decision")
    claim.status = target
    claim.points = claim.item.points if target == Claim.Status.APPROVED else 0
    claim.decided_by = user
    claim.decided_at = now
    claim.decision_reason = reason
    claim.save(update_fields=["status", "points", "decided_by", "decided_at", "decision_reason"])
    if target == Claim.Status.REJECTED:
        tally_release(claim=claim)
    action = f"handbook.claim.{decision}"
    audit_log_record(
        actor=user,
        action=action,
        target=claim,
        data={"reason": reason, "points": claim.points, "source": claim.source},
    )
    if decision in ("reject", "more"):
        _decision_notice(claim=claim, decision=decision, action=action, now=now)
    return claim


def _decision_notice(*, claim: Claim, decision: str, action: str, now) -> None:
    """Tell the family, once per decision: the item and the day, never the child's
    name or the family's note (the reason is on the claim's page, behind sign-in)."""
    from events.services import notice_send

    n = AuditLog.objects.filter(
        action=action, target_type=Claim._meta.label, target_id=str(claim.pk)
    ).count()
    values = {"item": claim.item.name, "date": f"{claim.occurred_on:%m月%d日}"}
    if decision == "reject":
        subject = _("成长手册申报未通过：%(item)s") % values
        lead = (
            _("您在成长手册中申报的“%(item)s”（%(date)s）未通过审核。请登录门户查看审核意见。")
            % values
        )
        sms = _("您申报的成长手册项目“%(item)s”未通过审核，请登录门户查看原因。") % values
        status = _("未通过")
    else:
        subject = _("成长手册申报需要补充：%(item)s") % values
        lead = (
            _(
                "您在成长手册中申报的“%(item)s”（%(date)s）需要补充说明或照片。"
                "请登录门户查看审核意见并补充。"
            )
            % values
        )
        sms = _("您申报的成长手册项目“%(item)s”需要补充材料，请登录门户查看。") % values
        status = _("需补充")
    notice_send(
        key=f"handbook.claim:{claim.pk}:{decision}:{n}",
        topic="handbook.claim",
        subject=subject,
        lead=lead,
        sms=sms,
        path=f"/handbook/claims/{claim.pk}/",
        wechat_status=status,
        family_ids=[claim.family_id],
        unit=claim.unit_id,
        now=now,
    )


def _booking_backs_claim(claim: Claim) -> bool:
    """An attendance claim is still backed by its booking: confirmed, marked present,
    on an offering that took place (locks the booking, so an un-marking waits)."""
    if claim.booking_id is None:
        return False
    return (
        Booking.objects.select_for_update(of=("self",))
        .filter(pk=claim.booking_id)
        .filter(BACKED_BOOKING)
        .values_list("pk", flat=True)
        .first()
        is not None
    )


def claims_bulk_approve(*, user, claim_ids: Iterable[int]) -> int:
    """Approve attendance-backed pending claims at once, each as ``claim_decide``
    would (its own audit entry); others in the list are left alone. Returns how
    many were approved now.

    The candidates are read again under their row locks: a claim someone else
    decided (or the attendance withdrew) meanwhile is skipped, never the whole
    batch rolled back; so is one whose booking is no longer confirmed and present.
    """
    ids = sorted({pk for pk in (id_or_none(v) for v in claim_ids) if pk is not None})
    candidates = list(
        selectors.claims_verifiable_by(user)
        .filter(pk__in=ids, source=Claim.Source.ATTENDANCE, status=Claim.Status.PENDING)
        .exclude(created_by_id=user.pk)
        .exclude(family_id__in=Guardian.objects.filter(user_id=user.pk).values("family_id"))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not candidates:
        return 0
    approved = 0
    now = timezone.now()
    with claim_transaction():
        locked = list(
            Claim.objects.select_for_update(of=("self",))
            .filter(pk__in=candidates, source=Claim.Source.ATTENDANCE, status=Claim.Status.PENDING)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        for pk in locked:
            try:
                claim = _decide(
                    user=user,
                    claim_id=pk,
                    decision="approve",
                    reason="",
                    now=now,
                    attendance_only=True,
                )
            except HandbookError as error:
                # _decide refuses before it writes anything: skip this one.
                if error.code != "attendance_undone":
                    raise
                continue
            approved += claim.decided_at == now
    return approved


# --- proposals from the attendance record -----------------------------------------

PROPOSE_CHUNK = 1000
# Offerings per task of the nightly sweep (the beat enqueues, the workers work).
SWEEP_CHUNK = 200

# A booking that backs an attendance claim: confirmed, present, its offering held.
BACKED_BOOKING = Q(
    status=Booking.Status.CONFIRMED,
    attendance=Booking.Attendance.PRESENT,
    offering__status__in=[Offering.Status.OPEN, Offering.Status.FINISHED],
)


@dataclass(frozen=True)
class _Candidate:
    booking_id: int
    family_id: int
    item: HandbookItem
    unit_id: int
    occurred_on: datetime.date
    term: Term


def _attendance_candidates(offering_ids: list[int] | None, term: Term | None) -> list[_Candidate]:
    """Present bookings × matching at-school items, without a claim yet (4 queries)."""
    bookings = Booking.objects.filter(BACKED_BOOKING, family__isnull=False)
    if offering_ids is not None:
        bookings = bookings.filter(offering_id__in=offering_ids)
    if term is not None:
        # Offerings that started within the term (in the portal's time zone).
        bookings = bookings.filter(
            offering__starts_at__date__gte=term.starts_on,
            offering__starts_at__date__lte=term.ends_on,
        )
    rows = list(
        bookings.values_list(
            "pk",
            "family_id",
            "offering__kind",
            "offering__unit_id",
            "offering__starts_at",
            "offering__event__kind",
            "offering__course_session__id",
        )
    )
    if not rows:
        return []
    items = list(
        HandbookItem.objects.filter(is_active=True).exclude(attendance_match="").order_by("pk")
    )
    if not items:
        return []
    items_by_alliance: dict[int | None, list[HandbookItem]] = defaultdict(list)
    for item in items:
        items_by_alliance[item.alliance_id].append(item)
    alliances = selectors.family_alliance_ids({row[1] for row in rows})
    days = {timezone.localdate(row[4]) for row in rows}
    terms = list(
        Term.objects.filter(starts_on__lte=max(days), ends_on__gte=min(days)).order_by("starts_on")
    )
    # An item and its copy are one: a booking proposed under the district's
    # item is not proposed again under the alliance's copy.
    existing = set(
        Claim.objects.filter(booking_id__in=[row[0] for row in rows]).values_list(
            "booking_id", Coalesce("item__copied_from_id", "item_id")
        )
    )
    candidates = []
    for booking_id, family_id, kind, unit_id, starts_at, event_kind, session_id in rows:
        day = timezone.localdate(starts_at)
        claim_term = term or next((t for t in terms if t.starts_on <= day <= t.ends_on), None)
        if claim_term is None:
            continue
        for item in items_by_alliance.get(alliances.get(family_id), []):
            if (booking_id, item.source_id) in existing:
                continue
            if item.attendance_match == HandbookItem.AttendanceMatch.COURSE_SESSION:
                matches = kind == Offering.Kind.COURSE_SESSION and session_id is not None
            else:
                matches = kind == Offering.Kind.EVENT and event_kind is not None
                matches = matches and (not item.event_kinds or event_kind in item.event_kinds)
            if matches:
                candidates.append(_Candidate(booking_id, family_id, item, unit_id, day, claim_term))
    return candidates


def claims_propose_from_attendance(*, offering_ids: Iterable[int] | None = None) -> int:
    """Propose pending at-school claims from the attendance record; returns how many.

    For every present booking (of ``offering_ids``; None: the current term's
    offerings that need it, ``selectors.offerings_to_propose``) and every item of
    the family's handbook that matches it (a course session for "course_session",
    an event, of the item's kinds if it names any, for "event"), one pending
    claim with source=attendance, unit = the offering's unit and the session's
    day. Idempotent: the (booking, item) unique key holds one proposal however
    often it runs, and the tallies count each proposal, so limits hold here too
    (a proposal over a limit is not made).

    First, in the same transaction, proposals of these offerings whose booking no
    longer backs them (attendance un-marked, booking cancelled) are withdrawn and
    their places under the limits given back.

    Set-based, in chunks: for each chunk, the tally rows are created (ON CONFLICT
    DO NOTHING) and locked in key order in two statements, candidates without a
    claim are re-read under those locks, claims are bulk-inserted and the tallies
    bulk-updated; a constant number of statements per chunk, however many rows.
    """
    if offering_ids is None:
        term = term_current()
        if term is None:
            return 0
        offering_ids = selectors.offerings_to_propose(term=term)
    offering_ids = sorted({int(pk) for pk in offering_ids})
    made = 0
    for start in range(0, len(offering_ids), SWEEP_CHUNK):
        chunk = offering_ids[start : start + SWEEP_CHUNK]
        with claim_transaction():
            _proposals_withdraw_stale(chunk)
            candidates = _attendance_candidates(chunk, None)
            for at in range(0, len(candidates), PROPOSE_CHUNK):
                made += _propose_chunk(candidates[at : at + PROPOSE_CHUNK])
    return made


def _proposals_withdraw_stale(offering_ids: list[int]) -> int:
    """Withdraw the open proposals of these offerings whose booking no longer backs
    them (not confirmed, not present, the offering cancelled); one audit entry each."""
    stale = list(
        Claim.objects.select_for_update(of=("self",))
        .select_related("item", "term")
        .filter(
            source=Claim.Source.ATTENDANCE,
            status__in=[Claim.Status.PENDING, Claim.Status.MORE_INFO],
            booking__offering_id__in=offering_ids,
        )
        .exclude(
            booking__status=Booking.Status.CONFIRMED,
            booking__attendance=Booking.Attendance.PRESENT,
            booking__offering__status__in=[Offering.Status.OPEN, Offering.Status.FINISHED],
        )
        .order_by("pk")
    )
    for claim in stale:
        claim.status = Claim.Status.WITHDRAWN
        claim.save(update_fields=["status"])
        tally_release(claim=claim)
        audit_log_record(
            actor=None,
            action="handbook.claim.unpropose",
            target=claim,
            data={"booking": claim.booking_id},
        )
    return len(stale)


def _propose_chunk(candidates: list[_Candidate]) -> int:
    with claim_transaction():
        # Tallies are keyed on the source item (an item and its copy share them).
        keys = sorted(
            {
                (c.family_id, c.item.source_id, period, starts_on)
                for c in candidates
                for period, starts_on, _limit in tally_keys(
                    item=c.item, occurred_on=c.occurred_on, term_starts_on=c.term.starts_on
                )
            }
        )
        ClaimTally.objects.bulk_create(
            [
                ClaimTally(family_id=f, item_id=i, period=p, starts_on=s, used=0)
                for f, i, p, s in keys
            ],
            ignore_conflicts=True,
        )
        condition = Q(pk__in=[])
        for family_id, item_id, period, starts_on in keys:
            condition |= Q(family_id=family_id, item_id=item_id, period=period, starts_on=starts_on)
        tallies = {
            (t.family_id, t.item_id, t.period, t.starts_on): t
            for t in ClaimTally.objects.select_for_update()
            .filter(condition)
            .order_by("family_id", "item_id", "period", "starts_on")
        }
        # Under the locks nobody else proposes or claims these items for these
        # families: what has a claim now stays as it is.
        existing = set(
            Claim.objects.filter(booking_id__in={c.booking_id for c in candidates}).values_list(
                "booking_id", Coalesce("item__copied_from_id", "item_id")
            )
        )
        claims = []
        changed: dict[tuple, ClaimTally] = {}
        for c in sorted(candidates, key=lambda c: (c.occurred_on, c.booking_id, c.item.pk)):
            if (c.booking_id, c.item.source_id) in existing:
                continue
            periods = [
                (tallies[(c.family_id, c.item.source_id, period, starts_on)], limit)
                for period, starts_on, limit in tally_keys(
                    item=c.item, occurred_on=c.occurred_on, term_starts_on=c.term.starts_on
                )
            ]
            if any(limit is not None and tally.used >= limit for tally, limit in periods):
                continue
            for tally, _limit in periods:
                tally.used += 1
                changed[(tally.family_id, tally.item_id, tally.period, tally.starts_on)] = tally
            existing.add((c.booking_id, c.item.source_id))
            claims.append(
                Claim(
                    family_id=c.family_id,
                    item=c.item,
                    term=c.term,
                    unit_id=c.unit_id,
                    occurred_on=c.occurred_on,
                    source=Claim.Source.ATTENDANCE,
                    booking_id=c.booking_id,
                    status=Claim.Status.PENDING,
                )
            )
        if not claims:
            return 0
        try:
            with transaction.atomic():
                Claim.objects.bulk_create(claims)
        except IntegrityError:
            # A booking deleted under us (SET NULL races are harmless): retry next sweep.
            return 0
        ClaimTally.objects.bulk_update(list(changed.values()), ["used"])
        # bulk_create sends no post_save: tell the figures (reports) which keys moved.
        claims_changed.send(
            sender=Claim, keys=sorted({(claim.term_id, claim.unit_id) for claim in claims})
        )
        audit_log_record(
            actor=None,
            action="handbook.claim.propose",
            data={"claims": len(claims), "bookings": len({c.booking_id for c in claims})},
        )
        return len(claims)


# --- the items of a handbook (coordinators) ---------------------------------------

ITEM_FIELDS = (
    "kind",
    "name",
    "description",
    "points",
    "evidence",
    "attendance_match",
    "event_kinds",
    "limit_per_day",
    "limit_per_week",
    "limit_per_term",
    "position",
    "is_active",
    "is_sample",
)


def _coordinator_alliance(*, user, alliance_id, district_default_ok: bool = False):
    """The alliance whose items ``user`` may change; with ``district_default_ok``
    an empty ``alliance_id`` means the default set (city administrators only). A
    district administrator changes the items of their district's alliances
    (``coordinated_alliance_ids`` holds them)."""
    if alliance_id in (None, "") and district_default_ok:
        # City-wide reference data: the city's to edit. The default set has no
        # district link, and every alliance without its own set uses it.
        if not sees_every_district(user):
            raise HandbookError("not_coordinator")
        return None
    pk = id_or_none(alliance_id)
    alliance = alliances_visible_to(user).filter(pk=pk).first() if pk is not None else None
    if alliance is None:
        raise HandbookError("alliance_missing", field="alliance")
    if not (sees_every_district(user) or alliance.pk in coordinated_alliance_ids(user)):
        raise HandbookError("not_coordinator")
    return alliance


def handbook_items_customise(*, user, alliance_id) -> int:
    """Copy the district's default set to the alliance (its coordinator only), so
    the alliance can change its own; items it already has are kept. Returns the
    number of items copied."""
    with transaction.atomic():
        alliance = _coordinator_alliance(user=user, alliance_id=alliance_id)
        have = set(HandbookItem.objects.filter(alliance=alliance).values_list("kind", "name"))
        copies = [
            HandbookItem(
                alliance=alliance,
                copied_from=item,
                **{name: getattr(item, name) for name in ITEM_FIELDS},
            )
            for item in HandbookItem.objects.filter(alliance__isnull=True).order_by(
                "kind", "position", "pk"
            )
            if (item.kind, item.name) not in have
        ]
        HandbookItem.objects.bulk_create(copies, ignore_conflicts=True)
        audit_log_record(
            actor=user,
            action="handbook.items.customise",
            target=alliance,
            data={"copied": len(copies)},
        )
    return len(copies)


def handbook_item_save(*, user, alliance_id, item_id=None, **fields) -> HandbookItem:
    """Create or change one item of the alliance's own set (its coordinator only).

    ``fields`` are HandbookItem fields (ITEM_FIELDS); bad values raise
    HandbookError naming the field, and nothing is written.
    """

    unknown = set(fields) - set(ITEM_FIELDS)
    if unknown:
        raise TypeError(f"unknown item fields: {sorted(unknown)}")
    with transaction.atomic():
        alliance = _coordinator_alliance(
            user=user, alliance_id=alliance_id, district_default_ok=True
        )
        if item_id is None:
            item = HandbookItem(alliance=alliance)
        else:
            item = (
                HandbookItem.objects.select_for_update()
                .filter(pk=id_or_none(item_id), alliance=alliance)
                .first()
            )
            if item is None:
                raise HandbookError("item_missing", field="item")
        for name, value in fields.items():
            setattr(item, name, value)
        item_validate(item)
        created = item.pk is None
        try:
            # A name taken by a parallel save between the check and the write.
            with transaction.atomic():
                item.save()
        except IntegrityError as error:
            raise HandbookError("name_taken", field="name") from error
        audit_log_record(
            actor=user,
            action="handbook.item.create" if created else "handbook.item.change",
            target=item,
            data={name: getattr(item, name) for name in fields if name != "description"},
        )
    return item


# The item's numbers (the columns are smallints); the item page's inputs show the same bounds.
DESCRIPTION_MAX = 500
POINTS_MIN, POINTS_MAX = 1, 100
LIMIT_MAX = 32767
POSITION_MAX = 32767


def item_validate(item: HandbookItem) -> None:
    """Normalise and check an item's fields in place; HandbookError naming the
    field at the first bad one. handbook_item_save and the admin's form use it."""
    from events.models import Event

    item.name = " ".join(str(item.name or "").split())
    item.description = str(item.description or "").strip()
    if not item.name:
        raise HandbookError("name_required", field="name")
    if len(item.name) > HandbookItem._meta.get_field("name").max_length:
        raise HandbookError("name_required", field="name")
    if len(item.description) > DESCRIPTION_MAX:
        raise HandbookError("description_too_long", field="description", n=DESCRIPTION_MAX)
    if item.kind not in ItemKind.values:
        raise HandbookError("bad_kind", field="kind")
    if item.evidence not in HandbookItem.Evidence.values:
        raise HandbookError("bad_evidence", field="evidence")
    points = _whole_number(item.points)
    if points is None or not POINTS_MIN <= points <= POINTS_MAX:
        raise HandbookError("bad_points", field="points")
    item.points = points
    position = 0 if item.position in (None, "") else _whole_number(item.position)
    if position is None or not 0 <= position <= POSITION_MAX:
        raise HandbookError("bad_position", field="position")
    item.position = position
    for name in ("limit_per_day", "limit_per_week", "limit_per_term"):
        value = getattr(item, name)
        if value in (None, ""):
            setattr(item, name, None)
            continue
        number = _whole_number(value)
        if number is None or not 1 <= number <= LIMIT_MAX:
            raise HandbookError("bad_limit", field=name)
        setattr(item, name, number)
    if item.attendance_match not in HandbookItem.AttendanceMatch.values:
        raise HandbookError("bad_match", field="attendance_match")
    if item.attendance_match and item.kind != ItemKind.SCHOOL:
        raise HandbookError("match_needs_school", field="attendance_match")
    kinds = item.event_kinds or []
    if not isinstance(kinds, list) or any(k not in Event.Kind.values for k in kinds):
        raise HandbookError("bad_event_kinds", field="event_kinds")
    item.event_kinds = list(dict.fromkeys(kinds))
    # Proposed from attendance exactly when linked to it: a linked item is never
    # claimed by hand, and an "attendance" item always has something to match.
    if item.attendance_match and item.evidence != HandbookItem.Evidence.ATTENDANCE:
        raise HandbookError("match_needs_attendance", field="evidence")
    if item.evidence == HandbookItem.Evidence.ATTENDANCE and not item.attendance_match:
        raise HandbookError("evidence_needs_match", field="evidence")
    taken = (
        HandbookItem.objects.filter(alliance_id=item.alliance_id, kind=item.kind, name=item.name)
        .exclude(pk=item.pk)
        .exists()
    )
    if taken:
        raise HandbookError("name_taken", field="name")


def _whole_number(value) -> int | None:
    """An int from an int or a string of digits; None for anything else (1.5, True, "")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None
