"""Reads for the growth handbook: a family's handbook and progress, the verifier's queue.

Every read here takes a constant number of queries, whatever the number of
claims (tests assert it). Children's names never reach a list: the queue
carries the claim's child only for the claim's own page (``claim_for_verifier``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from members.access import is_staff_member, visible_unit_ids
from members.formatting import id_or_none
from members.models import Alliance, Family, Guardian, Membership
from parent_school.models import Term

from .errors import HandbookError
from .models import Claim, HandbookItem, ItemKind

KIND_ORDER = (ItemKind.HOME, ItemKind.SCHOOL, ItemKind.BEHAVIOUR)


# --- which handbook a family uses -------------------------------------------------


def family_alliance_ids(family_ids) -> dict[int, int | None]:
    """Family id → the alliance whose own handbook the family uses (None: the
    district's default set), for many families in one query.

    A family uses the handbook of the alliance its children's schools belong to
    (a current membership), if that alliance has made its own set: the first
    child (by id) whose school is in such an alliance decides; an alliance with
    a lower id wins when a school is in several.
    """
    family_ids = list(family_ids)
    result: dict[int, int | None] = dict.fromkeys(family_ids)
    if not family_ids:
        return result
    rows = (
        Membership.objects.filter(
            unit__pupils__family_id__in=family_ids,
            left_on__isnull=True,
            alliance_id__in=HandbookItem.objects.filter(alliance__isnull=False)
            .order_by()
            .values("alliance_id"),
        )
        .order_by("unit__pupils__family_id", "unit__pupils__id", "alliance_id")
        .values_list("unit__pupils__family_id", "alliance_id")
    )
    for family_id, alliance_id in rows:
        if result.get(family_id) is None:
            result[family_id] = alliance_id
    return result


def handbook_alliance_id(family: Family | int) -> int | None:
    family_id = family if isinstance(family, int) else family.pk
    return family_alliance_ids([family_id])[family_id]


def handbook_items(alliance_id: int | None) -> QuerySet[HandbookItem]:
    """The active items of an alliance's own set, or of the district default set."""
    items = HandbookItem.objects.filter(is_active=True)
    if alliance_id is None:
        return items.filter(alliance__isnull=True)
    return items.filter(alliance_id=alliance_id)


def items_of_alliance(alliance_id: int | None) -> QuerySet[HandbookItem]:
    """Every item (active or not) of an alliance's set (None: the district defaults)."""
    if alliance_id is None:
        return HandbookItem.objects.filter(alliance__isnull=True)
    return HandbookItem.objects.filter(alliance_id=alliance_id)


@dataclass
class Handbook:
    alliance: Alliance | None  # None: the district's default set
    items: dict[str, list[HandbookItem]]  # kind → active items, in order
    targets: dict[str, int | None]  # home: 10, school: 4, behaviour: None ("N")

    @property
    def all_items(self) -> list[HandbookItem]:
        return [item for kind in KIND_ORDER for item in self.items.get(kind, [])]


def _targets(items_by_kind: dict[str, list[HandbookItem]]) -> dict[str, int | None]:
    return {
        ItemKind.HOME: len(items_by_kind.get(ItemKind.HOME, [])),
        ItemKind.SCHOOL: len(items_by_kind.get(ItemKind.SCHOOL, [])),
        ItemKind.BEHAVIOUR: None,
    }


def handbook_for_family(*, family: Family) -> Handbook:
    """The family's handbook: its alliance's own set or the district defaults (3 queries)."""
    alliance_id = handbook_alliance_id(family)
    alliance = Alliance.objects.filter(pk=alliance_id).first() if alliance_id else None
    items_by_kind: dict[str, list[HandbookItem]] = {kind: [] for kind in KIND_ORDER}
    for item in handbook_items(alliance_id):
        items_by_kind.setdefault(item.kind, []).append(item)
    return Handbook(alliance=alliance, items=items_by_kind, targets=_targets(items_by_kind))


# --- a family's progress ----------------------------------------------------------


@dataclass
class KindProgress:
    kind: str
    label: str
    points: int = 0
    items_done: int = 0  # distinct items with an approved claim
    items_total: int = 0  # the kind's active items (the 10, the 4, the N)
    target: int | None = None  # None for good behaviours ("N")


@dataclass
class Progress:
    term: Term | None
    handbook: Handbook
    kinds: list[KindProgress]
    points_total: int = 0
    pending: list[Claim] = field(default_factory=list)
    more_info: list[Claim] = field(default_factory=list)
    rejected: list[Claim] = field(default_factory=list)
    approved: list[Claim] = field(default_factory=list)

    def kind(self, kind: str) -> KindProgress:
        return next(k for k in self.kinds if k.kind == kind)


def family_claims(*, family: Family | int, term: Term | int | None) -> QuerySet[Claim]:
    family_id = family if isinstance(family, int) else family.pk
    claims = Claim.objects.filter(family_id=family_id).select_related("item", "child")
    if term is not None:
        claims = claims.filter(term_id=term if isinstance(term, int) else term.pk)
    return claims.order_by("-occurred_on", "-pk")


def family_progress(*, family: Family, term: Term | None) -> Progress:
    """This term's points by kind against the handbook's 10+4+N, and the claims by
    status (withdrawn ones left out). Four queries, however many claims."""
    handbook = handbook_for_family(family=family)
    kinds = {
        kind: KindProgress(
            kind=kind,
            label=str(ItemKind(kind).label),
            items_total=len(handbook.items.get(kind, [])),
            target=handbook.targets.get(kind),
        )
        for kind in KIND_ORDER
    }
    progress = Progress(term=term, handbook=handbook, kinds=list(kinds.values()))
    if term is None:
        return progress
    done: dict[str, set[int]] = defaultdict(set)
    buckets = {
        Claim.Status.PENDING: progress.pending,
        Claim.Status.MORE_INFO: progress.more_info,
        Claim.Status.REJECTED: progress.rejected,
        Claim.Status.APPROVED: progress.approved,
    }
    for claim in family_claims(family=family, term=term):
        bucket = buckets.get(claim.status)
        if bucket is None:
            continue
        bucket.append(claim)
        if claim.status == Claim.Status.APPROVED:
            kind = kinds.get(claim.item.kind)
            if kind is not None:
                kind.points += claim.points
                # An item and its alliance copy are one item (copied_from).
                done[claim.item.kind].add(claim.item.source_id)
            progress.points_total += claim.points
    active_ids = {item.source_id for item in handbook.all_items}
    for kind, item_ids in done.items():
        # Only items still in the handbook count toward "6 of the 10".
        kinds[kind].items_done = len(item_ids & active_ids)
    return progress


def offerings_to_propose(*, term: Term) -> list[int]:
    """The term's offerings the attendance proposals must look at, chosen in SQL:
    those with a confirmed, present booking that has no claim yet for an active
    item matching it (an item and its copy are one), and those with an open
    proposal whose booking no longer backs it (to withdraw). Two queries and one
    for the (few) attendance items; the bookings never reach Python."""
    from bookings.models import Booking, Offering

    held = [Offering.Status.OPEN, Offering.Status.FINISHED]
    items = list(
        HandbookItem.objects.filter(is_active=True)
        .exclude(attendance_match="")
        .values_list("alliance_id", "attendance_match", "event_kinds", "copied_from_id", "pk")
    )
    # One condition per distinct (set, match, kinds, source item), each only for
    # the families that use that set (as family_alliance_ids decides, in SQL).
    specs = {
        (alliance_id or 0, match, tuple(sorted(kinds or [])), source or pk)
        for alliance_id, match, kinds, source, pk in items
    }
    wanted = Q(pk__in=[])
    for alliance_id, match, kinds, source_id in sorted(specs):
        fits = Q(handbook_alliance=alliance_id)
        if match == HandbookItem.AttendanceMatch.COURSE_SESSION:
            fits &= Q(
                offering__kind=Offering.Kind.COURSE_SESSION,
                offering__course_session__isnull=False,
            )
        else:
            fits &= Q(offering__kind=Offering.Kind.EVENT, offering__event__isnull=False)
            if kinds:
                fits &= Q(offering__event__kind__in=kinds)
        claimed = Exists(
            Claim.objects.filter(booking_id=OuterRef("pk"))
            .annotate(item_source=Coalesce("item__copied_from_id", "item_id"))
            .filter(item_source=source_id)
        )
        wanted |= fits & ~claimed
    # The alliance whose own set the booking's family uses (0: the district's).
    own_set = (
        Membership.objects.filter(
            unit__pupils__family_id=OuterRef("family_id"),
            left_on__isnull=True,
            alliance_id__in=HandbookItem.objects.filter(alliance__isnull=False)
            .order_by()
            .values("alliance_id"),
        )
        .order_by("unit__pupils__id", "alliance_id")
        .values("alliance_id")[:1]
    )
    missing = (
        Booking.objects.filter(
            status=Booking.Status.CONFIRMED,
            attendance=Booking.Attendance.PRESENT,
            family__isnull=False,
            offering__status__in=held,
            offering__starts_at__date__gte=term.starts_on,
            offering__starts_at__date__lte=term.ends_on,
        )
        .annotate(
            handbook_alliance=Coalesce(Subquery(own_set, output_field=IntegerField()), Value(0))
        )
        .filter(wanted)
        .order_by()
        .values_list("offering_id", flat=True)
        .distinct()
        if specs
        else []
    )
    stale = (
        Claim.objects.filter(
            term=term,
            source=Claim.Source.ATTENDANCE,
            status__in=[Claim.Status.PENDING, Claim.Status.MORE_INFO],
            booking__isnull=False,
        )
        .exclude(
            booking__status=Booking.Status.CONFIRMED,
            booking__attendance=Booking.Attendance.PRESENT,
            booking__offering__status__in=held,
        )
        .order_by()
        .values_list("booking__offering_id", flat=True)
        .distinct()
    )
    return sorted(set(missing) | set(stale))


def claim_for_family(*, user, claim_id) -> Claim:
    """A claim of the user's own family, or HandbookError("claim_missing")."""
    family_ids = Guardian.objects.filter(user_id=getattr(user, "pk", None)).values("family_id")
    claim = (
        Claim.objects.filter(pk=id_or_none(claim_id), family_id__in=family_ids)
        .select_related("item", "child", "term", "unit")
        .first()
    )
    if claim is None:
        raise HandbookError("claim_missing")
    return claim


# --- verification -----------------------------------------------------------------


# Apps to the right of handbook widen who may verify which claims without handbook
# importing them (groups: a facilitator co-signs their members' claims). Each
# function takes the user and returns a Q over Claim, or None for nothing.
_verifier_scopes: list[Callable[[object], Q | None]] = []


def claim_verifier_scope_register(fn: Callable[[object], Q | None]) -> None:
    """Add ``fn(user) -> Q | None`` to ``claims_verifiable_by`` (once; ready() may rerun)."""
    if fn not in _verifier_scopes:
        _verifier_scopes.append(fn)


def claims_verifiable_by(user) -> QuerySet[Claim]:
    """Claims whose verifying unit the staff user sees, and those a registered scope
    grants (a group facilitator's co-signs); none for anyone else."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Claim.objects.none()
    conditions = [Q(unit_id__in=visible_unit_ids(user))] if is_staff_member(user) else []
    for scope in _verifier_scopes:
        extra = scope(user)
        if extra is not None:
            conditions.append(extra)
    if not conditions:
        return Claim.objects.none()
    condition = conditions[0]
    for extra in conditions[1:]:
        condition |= extra
    return Claim.objects.filter(condition)


def claims_queue(
    *, user, status: str | None = "pending", unit_id=None, kind=None, source=None
) -> QuerySet[Claim]:
    """The verifier's queue, oldest first, ready for one page in constant queries.

    The verifier's own family's claims are left out (nobody decides their own).
    Filters with an unknown value are ignored, never an error.
    """
    claims = claims_verifiable_by(user).exclude(
        family_id__in=Guardian.objects.filter(user_id=user.pk).values("family_id")
    )
    if status in Claim.Status.values:
        claims = claims.filter(status=status)
    unit_pk = id_or_none(unit_id)
    if unit_pk is not None:
        claims = claims.filter(unit_id=unit_pk)
    if kind in ItemKind.values:
        claims = claims.filter(item__kind=kind)
    if source in Claim.Source.values:
        claims = claims.filter(source=source)
    return claims.select_related("item", "unit", "term", "child").order_by("created_at", "pk")


def claim_for_verifier(*, user, claim_id) -> Claim:
    """A claim the user may verify (with its child's nickname), or claim_missing."""
    claim = (
        claims_verifiable_by(user)
        .filter(pk=id_or_none(claim_id))
        .select_related("item", "child", "term", "unit", "booking__offering")
        .first()
    )
    if claim is None:
        raise HandbookError("claim_missing")
    return claim


def claims_reusing_photo(claim: Claim) -> QuerySet[Claim]:
    """Other claims with the same picture (for the verifier's flag)."""
    if not claim.photo_hash:
        return Claim.objects.none()
    return Claim.objects.filter(photo_hash=claim.photo_hash).exclude(pk=claim.pk)


def family_label(family: Family | int | None) -> str:
    """How lists name a family: its number, never a child's or a parent's name."""
    family_id = family if isinstance(family, int) or family is None else family.pk
    if family_id is None:
        return str(_("已注销的家庭"))
    return str(_("家庭 #%(id)s") % {"id": family_id})


def claim_notice_check(notice) -> str:
    """The outbox's skip hook for "handbook.claim" notices (events/notices.py): a
    rejection or an ask-for-more still goes out only while the claim is in that
    state ("" = send), so a family that already answered, or a claim withdrawn
    meanwhile, is not told something that no longer holds. A read only."""
    parts = str(notice.key).split(":")
    wanted = {"reject": Claim.Status.REJECTED, "more": Claim.Status.MORE_INFO}
    if len(parts) < 3 or parts[2] not in wanted:
        return ""
    status = Claim.objects.filter(pk=id_or_none(parts[1])).values_list("status", flat=True).first()
    if status is None:
        return str(_("申报已删除"))
    if status != wanted[parts[2]]:
        return str(_("申报状态已变化"))
    return ""
