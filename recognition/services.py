"""Writes of the learning-family lists and commendations (one function per write;
pages, admin, API and tasks call these)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import CharField, Exists, OuterRef, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from events.models import Notice
from events.services import notice_send
from members import access
from members.commit import after_commit
from members.models import Alliance, Membership, MemberUnit
from members.services import audit_log_record
from parent_school.models import Term
from parent_school.selectors import term_window

from . import computation
from .errors import RecognitionError
from .models import Commendation, LearningFamilyEntry, LearningFamilyList, LearningFamilyRule

#: The rule's number fields, their labels (for messages) and largest values.
RULE_NUMBERS = {
    "min_points": (gettext_lazy("最低手册积分"), 10000),
    "min_home_items": (gettext_lazy("在家陪伴至少完成项数"), 100),
    "min_school_items": (gettext_lazy("在校陪伴至少完成项数"), 100),
    "min_behaviour_items": (gettext_lazy("陪伴好行为至少完成项数"), 100),
    "min_sessions": (gettext_lazy("最少出席场次"), 1000),
}
MAX_CREDITS = Decimal("9999.9")
REASON_MAX = LearningFamilyEntry._meta.get_field("override_reason").max_length
COMMENDATION_REASON_MAX = Commendation._meta.get_field("reason").max_length

TOPIC = "recognition.learning_family"
PROGRESS_PATH = "/recognition/progress/"
#: Families told per transaction by the notices task.
NOTICE_CHUNK = 500
#: The beat enqueues the notices of lists published this many days back again.
NOTICE_RETRY_DAYS = 7


def may_manage_alliance(user, alliance_id: int) -> bool:
    """Alliance coordinators of that alliance, the district administrator of its
    district (``coordinated_alliance_ids`` holds their district's alliances) and
    city administrators."""
    if user is None:
        return True  # the term-end task and management commands
    return access.sees_every_district(user) or alliance_id in access.coordinated_alliance_ids(user)


def _alliance_and_term(*, user, alliance_id, term_id) -> tuple[Alliance, Term]:
    alliance = Alliance.objects.filter(pk=alliance_id).first()
    if alliance is None or not may_manage_alliance(user, alliance.pk):
        raise RecognitionError("alliance_missing", field="alliance")
    term = Term.objects.filter(pk=term_id).first()
    if term is None:
        raise RecognitionError("term_missing", field="term")
    return alliance, term


# --- rules ------------------------------------------------------------------------


def _rule_fields_clean(fields: dict) -> dict:
    cleaned: dict = {}
    if "min_credits" in fields:
        label = _("最低学分（学分银行）")
        try:
            value = Decimal(str(fields["min_credits"]).strip() or "0")
        except InvalidOperation:
            raise RecognitionError("bad_number", field="min_credits", label=label) from None
        if not value.is_finite() or value < 0:
            raise RecognitionError("bad_number", field="min_credits", label=label)
        if value > MAX_CREDITS:
            raise RecognitionError(
                "number_too_large", field="min_credits", label=label, n=MAX_CREDITS
            )
        if value != value.quantize(Decimal("0.1")):
            raise RecognitionError("bad_credits_step", field="min_credits", label=label)
        cleaned["min_credits"] = value.quantize(Decimal("0.1"))
    for name, (label, largest) in RULE_NUMBERS.items():
        if name not in fields:
            continue
        raw = fields[name]
        try:
            value = int(str(raw).strip() or "0")
        except (TypeError, ValueError):
            raise RecognitionError("bad_number", field=name, label=label) from None
        if value < 0:
            raise RecognitionError("bad_number", field=name, label=label)
        if value > largest:
            raise RecognitionError("number_too_large", field=name, label=label, n=largest)
        cleaned[name] = value
    if "no_open_rejection" in fields:
        cleaned["no_open_rejection"] = bool(fields["no_open_rejection"])
    return cleaned


def rule_save(*, user, alliance_id: int, term_id: int, **fields) -> LearningFamilyRule:
    """Set an alliance's learning-family rule for a term (alliance coordinators of
    that alliance, district administrators). Unknown fields are ignored; a bad
    number raises RecognitionError naming the field."""
    alliance, term = _alliance_and_term(user=user, alliance_id=alliance_id, term_id=term_id)
    cleaned = _rule_fields_clean(fields)
    with transaction.atomic():
        # The alliance row serialises two first saves (no owning rule row yet).
        Alliance.objects.select_for_update(no_key=True).filter(pk=alliance.pk).first()
        rule = LearningFamilyRule.objects.filter(alliance=alliance, term=term).first()
        created = rule is None
        if created:
            rule = LearningFamilyRule(alliance=alliance, term=term)
        before = {name: str(getattr(rule, name)) for name in cleaned}
        for name, value in cleaned.items():
            setattr(rule, name, value)
        rule.updated_by = user if getattr(user, "is_authenticated", False) else None
        rule.save()
        audit_log_record(
            actor=user,
            action="recognition.rule.create" if created else "recognition.rule.change",
            target=rule,
            data={
                "alliance": alliance.pk,
                "term": term.pk,
                "before": {} if created else before,
                "after": {name: str(value) for name, value in cleaned.items()},
            },
        )
    return rule


# --- computing a list -------------------------------------------------------------


@dataclass(frozen=True)
class ComputeResult:
    family_list: LearningFamilyList
    written: int
    included: int
    removed: int


def _list_for_update(*, alliance: Alliance, term: Term) -> LearningFamilyList:
    # Get or make the list, then lock it: a second computation (the beat's task
    # and the coordinator's button) waits here and then refreshes the same rows.
    try:
        with transaction.atomic():
            LearningFamilyList.objects.get_or_create(alliance=alliance, term=term)
    except IntegrityError:
        pass  # made at the same instant by the other caller
    return LearningFamilyList.objects.select_for_update().get(alliance=alliance, term=term)


def learning_families_compute(*, alliance_id: int, term_id: int, user=None) -> ComputeResult:
    """Compute the alliance's list for the term in one SQL statement for every
    unit at once (recognition/computation.py; on SQLite its portable steps with
    the same result). Refused for a published list or
    without a rule; ``user`` None is the term-end task."""
    alliance, term = _alliance_and_term(user=user, alliance_id=alliance_id, term_id=term_id)
    rule = LearningFamilyRule.objects.filter(alliance=alliance, term=term).first()
    if rule is None:
        raise RecognitionError("no_rule")
    with transaction.atomic():
        family_list = _list_for_update(alliance=alliance, term=term)
        if family_list.status == LearningFamilyList.Status.PUBLISHED:
            raise RecognitionError("list_published")
        params = computation.figures_params(
            rule=rule, term=term, alliance_id=alliance.pk, list_id=family_list.pk
        )
        # One PostgreSQL statement; elsewhere (SQLite) the portable steps.
        written, included, removed = computation.entries_upsert(params)
        family_list.computed_at = timezone.now()
        family_list.computed_by = user if getattr(user, "is_authenticated", False) else None
        family_list.save(update_fields=["computed_at", "computed_by"])
        audit_log_record(
            actor=user,
            action="recognition.list.compute",
            target=family_list,
            data={"families": written, "included": included, "removed": removed},
        )
    return ComputeResult(family_list, written, included, removed)


def learning_families_compute_district(*, term_id: int, user=None) -> list[ComputeResult]:
    """Every alliance with a rule for the term and no published list, one
    statement each (what the bench times for a whole district; the beat enqueues
    the same computations one task per alliance instead)."""
    published = LearningFamilyList.objects.filter(
        term_id=term_id, status=LearningFamilyList.Status.PUBLISHED
    ).values("alliance_id")
    rules = LearningFamilyRule.objects.filter(term_id=term_id)
    if user is not None and not access.sees_every_district(user):
        # A district administrator computes their district's alliances (those they
        # manage), not the city's: another district's would be refused one by one.
        rules = rules.filter(alliance_id__in=access.coordinated_alliance_ids(user))
    alliance_ids = (
        rules.exclude(alliance_id__in=published)
        .order_by("alliance_id")
        .values_list("alliance_id", flat=True)
    )
    return [
        learning_families_compute(alliance_id=alliance_id, term_id=term_id, user=user)
        for alliance_id in alliance_ids
    ]


def alliances_due_for_computation(*, today=None) -> list[tuple[int, int]]:
    """(alliance_id, term_id) pairs the term-end beat enqueues: the term's last
    day has come (on and after ``ends_on``), the alliance has a rule, its list is
    not published and was not computed after the term's last day was over (once
    it has been, the coordinator's button refreshes it; the beat leaves the
    reviewed draft alone)."""
    today = today or timezone.localdate()
    rules = LearningFamilyRule.objects.filter(term__ends_on__lte=today).select_related("term")
    lists = {
        (row.alliance_id, row.term_id): row
        for row in LearningFamilyList.objects.filter(term__ends_on__lte=today).only(
            "alliance_id", "term_id", "status", "computed_at"
        )
    }
    due = []
    for rule in rules:
        found = lists.get((rule.alliance_id, rule.term_id))
        if found is not None:
            if found.status == LearningFamilyList.Status.PUBLISHED:
                continue
            _start, term_over = term_window(rule.term)
            if found.computed_at is not None and found.computed_at >= term_over:
                continue
        due.append((rule.alliance_id, rule.term_id))
    return sorted(due)


# --- review and publishing --------------------------------------------------------


def _entry_changeable(user, entry: LearningFamilyEntry) -> bool:
    if may_manage_alliance(user, entry.family_list.alliance_id):
        return True
    return entry.unit_id is not None and entry.unit_id in access.coordinated_unit_ids(user)


def entry_override(*, user, entry_id: int, included: bool, reason: str = "") -> LearningFamilyEntry:
    """Include or leave out a family with a written reason (required when it
    goes against the computation); audit-logged with the reason. Draft lists only."""
    reason = " ".join(str(reason or "").split())
    included = bool(included)
    with transaction.atomic():
        entry = (
            LearningFamilyEntry.objects.select_for_update(of=("self",))
            .select_related("family_list")
            .filter(pk=entry_id)
            .first()
        )
        if entry is None or not _entry_changeable(user, entry):
            raise RecognitionError("entry_missing")
        if entry.family_list.status == LearningFamilyList.Status.PUBLISHED:
            raise RecognitionError("list_published")
        if len(reason) > REASON_MAX:
            raise RecognitionError("reason_too_long", field="reason", n=REASON_MAX)
        if included != entry.qualifies and not reason:
            raise RecognitionError("reason_required", field="reason")
        before = {"included": entry.included, "reason": entry.override_reason}
        entry.included = included
        # Back to the computation without a reason: the computation decides again.
        entry.override_reason = reason
        entry.overridden_by = user if getattr(user, "is_authenticated", False) else None
        entry.overridden_at = timezone.now()
        entry.save(update_fields=["included", "override_reason", "overridden_by", "overridden_at"])
        audit_log_record(
            actor=user,
            action="recognition.entry.override",
            target=entry,
            data={
                "list": entry.family_list_id,
                "family": entry.family_id,
                "qualifies": entry.qualifies,
                "before": before,
                "included": included,
                "reason": reason,
            },
        )
    return entry


def _notice_texts(family_list: LearningFamilyList) -> dict:
    names = {"alliance": family_list.alliance.name, "term": str(family_list.term)}
    return {
        "subject": _("您的家庭被评为%(alliance)s%(term)s学习型家庭") % names,
        "lead": _(
            "祝贺！根据%(alliance)s本学期（%(term)s）的评选标准，您的家庭入选学习型家庭名单。"
            "感谢您一学期的陪伴与学习。"
        )
        % names,
        "sms": _("祝贺！您的家庭入选%(alliance)s%(term)s学习型家庭。") % names,
    }


def list_publish(*, user, list_id: int) -> LearningFamilyList:
    """Publish a draft list, once (the list row locked); a second publish is
    refused and writes nothing. The notices are not sent in the request: after
    the commit a worker tells each included family once
    (``tasks.learning_family_notices`` → ``learning_family_notices_send``); if the
    broker is down then, the daily beat enqueues them again."""
    with transaction.atomic():
        family_list = (
            LearningFamilyList.objects.select_for_update(of=("self",))
            .select_related("alliance", "term")
            .filter(pk=list_id)
            .first()
        )
        if family_list is None or (
            user is not None and not may_manage_alliance(user, family_list.alliance_id)
        ):
            raise RecognitionError("list_missing")
        if family_list.status == LearningFamilyList.Status.PUBLISHED:
            raise RecognitionError("already_published")
        if family_list.computed_at is None:
            raise RecognitionError("not_computed")
        family_list.status = LearningFamilyList.Status.PUBLISHED
        family_list.published_at = timezone.now()
        family_list.published_by = user if getattr(user, "is_authenticated", False) else None
        family_list.save(update_fields=["status", "published_at", "published_by"])
        audit_log_record(
            actor=user,
            action="recognition.list.publish",
            target=family_list,
            data={"included": family_list.entries.filter(included=True).count()},
        )
        # robust: a broker that is down must not undo the publishing; the beat
        # (tasks.learning_families_term_end) enqueues the notices again.
        after_commit(_notices_enqueue, family_list.pk)
    return family_list


def _notices_enqueue(list_id: int) -> None:
    from .tasks import learning_family_notices

    learning_family_notices.delay(list_id)


def notice_key(list_id: int, family_id: int) -> str:
    """The outbox key of a family's notice: one per list and family, however
    often the notices task runs."""
    return f"{TOPIC}:{list_id}:{family_id}"


def _notice_key_sql():
    # notice_key() in SQL, for an entry's row (OuterRef: the entry).
    return Concat(
        Value(f"{TOPIC}:"),
        Cast(OuterRef("family_list_id"), CharField()),
        Value(":"),
        Cast(OuterRef("family_id"), CharField()),
        output_field=CharField(),
    )


def learning_family_notices_send(*, list_id: int, chunk: int = NOTICE_CHUNK) -> int:
    """Tell each included family of a published list, once, through the outbox
    (``events.services.notice_send`` with ``notice_key``): ``chunk`` families per
    transaction, families already told skipped by one query per chunk, so a
    repeated run (the beat's, a redelivered task) costs little and tells nobody
    twice. A draft or missing list tells nobody. Returns the delivery rows written."""
    family_list = (
        LearningFamilyList.objects.select_related("alliance", "term").filter(pk=list_id).first()
    )
    if family_list is None or family_list.status != LearningFamilyList.Status.PUBLISHED:
        return 0
    texts = _notice_texts(family_list)
    told = 0
    after = 0
    while True:
        with transaction.atomic():
            if not LearningFamilyList.objects.filter(
                pk=list_id, status=LearningFamilyList.Status.PUBLISHED
            ).exists():
                break  # deleted meanwhile
            rows = list(
                LearningFamilyEntry.objects.filter(
                    family_list_id=list_id, included=True, family_id__gt=after
                )
                .order_by("family_id")
                .values_list("family_id", "unit_id")[:chunk]
            )
            if not rows:
                break
            after = rows[-1][0]
            keys = [notice_key(list_id, family_id) for family_id, _unit in rows]
            done = set(Notice.objects.filter(key__in=keys).values_list("key", flat=True))
            for (family_id, unit_id), key in zip(rows, keys, strict=True):
                if key in done:
                    continue
                told += notice_send(
                    key=key,
                    topic=TOPIC,
                    family_ids=[family_id],
                    path=PROGRESS_PATH,
                    unit=unit_id,
                    **texts,
                )
        if len(rows) < chunk:
            break
    return told


def lists_with_untold_families(*, now=None) -> list[int]:
    """Lists published in the last ``NOTICE_RETRY_DAYS`` days with an included
    family that has no notice yet (the beat enqueues their notices again: the
    broker may have been down when they were published)."""
    now = now or timezone.now()
    untold = LearningFamilyEntry.objects.filter(
        family_list_id=OuterRef("pk"), included=True
    ).exclude(Exists(Notice.objects.filter(key=_notice_key_sql())))
    return list(
        LearningFamilyList.objects.filter(
            status=LearningFamilyList.Status.PUBLISHED,
            published_at__gte=now - datetime.timedelta(days=NOTICE_RETRY_DAYS),
        )
        .filter(Exists(untold))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


# --- commendation -----------------------------------------------------------------


def commendation_add(
    *, user, alliance_id: int, term_id: int, guardian_id: int, unit_id: int, reason: str
) -> Commendation:
    """Nominate a guardian as 优秀家长 for a term: by a coordinator of the unit
    (a current member of the alliance), for a guardian of a family with a child
    at a unit the coordinator sees."""
    alliance = Alliance.objects.filter(pk=alliance_id).first()
    if alliance is None or not (
        may_manage_alliance(user, alliance.pk) or access.coordinated_unit_ids(user)
    ):
        raise RecognitionError("alliance_missing", field="alliance")
    term = Term.objects.filter(pk=term_id).first()
    if term is None:
        raise RecognitionError("term_missing", field="term")
    reason = " ".join(str(reason or "").split())
    if not reason:
        raise RecognitionError("commendation_reason_required", field="reason")
    if len(reason) > COMMENDATION_REASON_MAX:
        raise RecognitionError("reason_too_long", field="reason", n=COMMENDATION_REASON_MAX)
    unit = MemberUnit.objects.filter(pk=unit_id).first()
    if unit is None or not access.can_change_unit(user, unit):
        raise RecognitionError("unit_not_allowed", field="unit")
    if not Membership.objects.filter(alliance=alliance, unit=unit, left_on__isnull=True).exists():
        raise RecognitionError("unit_not_member", field="unit")
    guardian = (
        access.guardians_visible_to(user)
        .filter(pk=guardian_id, family__children__school=unit)
        .select_related("family")
        .first()
    )
    if guardian is None:
        raise RecognitionError("guardian_missing", field="guardian")
    try:
        with transaction.atomic():
            commendation = Commendation.objects.create(
                alliance=alliance,
                term=term,
                guardian=guardian,
                family=guardian.family,
                unit=unit,
                reason=reason,
                created_by=user,
            )
    except IntegrityError:
        raise RecognitionError("commendation_exists", field="guardian") from None
    audit_log_record(
        actor=user,
        action="recognition.commendation.add",
        target=commendation,
        data={"guardian": guardian.pk, "unit": unit.pk, "term": term.pk, "reason": reason},
    )
    return commendation


def commendation_remove(*, user, commendation_id: int) -> None:
    """Withdraw a nomination (coordinators who may change its unit)."""
    with transaction.atomic():
        commendation = Commendation.objects.select_for_update().filter(pk=commendation_id).first()
        if commendation is None or not access.can_change_unit(user, commendation.unit_id):
            raise RecognitionError("commendation_missing")
        audit_log_record(
            actor=user,
            action="recognition.commendation.remove",
            target=commendation,
            data={
                "guardian": commendation.guardian_id,
                "unit": commendation.unit_id,
                "term": commendation.term_id,
            },
        )
        commendation.delete()


# --- export -----------------------------------------------------------------------


@dataclass(frozen=True)
class CommendationExport:
    content: bytes
    filename: str
    rows: int


def commendations_export(
    *, user, term_id: int, unit_id: int | None = None, ip_address: str | None = None
) -> CommendationExport:
    """The term's commendation workbook (优秀家长 + 学习型家庭), scoped like the term
    report: the units the user sees (every unit for city admins; a district
    admin's district), or one of
    them; masked; one audit entry per export."""
    from . import exports  # the writer is only loaded by whoever exports

    if not access.is_coordinator(user):
        raise RecognitionError("not_alliance_coordinator")
    term = Term.objects.filter(pk=term_id).first()
    if term is None:
        raise RecognitionError("term_missing", field="term")
    if unit_id is not None:
        if unit_id < 0 or not access.can_view_unit(user, unit_id):
            raise RecognitionError("unit_not_allowed", field="unit")
        unit_ids: list[int] | None = [unit_id]
        scope = MemberUnit.objects.get(pk=unit_id).name
    elif access.sees_every_district(user):
        unit_ids, scope = None, _("全部单位")
    else:
        unit_ids = list(access.visible_unit_ids(user).values_list("pk", flat=True))
        scope = _("您可查看的 %(n)s 个单位") % {"n": len(unit_ids)}
    content, rows = exports.xlsx_bytes(term=term, unit_ids=unit_ids, scope=scope, actor=user)
    filename = f"commendations-{term.code}{f'-unit{unit_id}' if unit_id else ''}.xlsx"
    audit_log_record(
        actor=user,
        action="recognition.export.xlsx",
        target=term,
        data={"unit": unit_id, "rows": rows, "file": filename},
        ip_address=ip_address,
    )
    return CommendationExport(content=content, filename=filename, rows=rows)
