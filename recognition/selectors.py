"""Reads of the learning-family rules, lists and commendations."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from members import access
from members.models import Alliance, Family, Membership
from parent_school.models import Term
from parent_school.selectors import term_current

from . import computation
from .errors import RecognitionError
from .models import Commendation, LearningFamilyEntry, LearningFamilyList, LearningFamilyRule


@dataclass(frozen=True)
class RuleLine:
    """One requirement in plain words, the family's value and whether it is met."""

    name: str
    text: str
    value: str
    met: bool


@dataclass
class AllianceProgress:
    alliance: Alliance
    rule: LearningFamilyRule
    lines: list[RuleLine] = field(default_factory=list)
    #: The alliance's list for the term, when published, and whether the family is on it.
    published: bool = False
    on_list: bool = False

    @property
    def met(self) -> bool:
        return all(line.met for line in self.lines)


def _credits_text(value: Decimal) -> str:
    text = f"{value.normalize():f}" if value == value.to_integral() else f"{value:.1f}"
    return text


def rule_lines(rule: LearningFamilyRule, figures: dict) -> list[RuleLine]:
    """The rule in plain words, with the family's figures (``figures_sql`` columns)."""
    lines: list[RuleLine] = []
    credits = Decimal(figures.get("credits") or 0)
    if rule.min_credits > 0:
        lines.append(
            RuleLine(
                "min_credits",
                _("本学期学分银行累计至少 %(n)s 学分") % {"n": _credits_text(rule.min_credits)},
                _("目前 %(n)s 学分") % {"n": _credits_text(credits)},
                credits >= rule.min_credits,
            )
        )
    numbered = (
        ("min_points", "points", _("本学期成长手册积分至少 %(n)s 分"), _("目前 %(n)s 分")),
        (
            "min_home_items",
            "home_items",
            _("在家陪伴至少完成 %(n)s 个不同项目（每项至少一次并通过审核）"),
            _("已完成 %(n)s 项"),
        ),
        (
            "min_school_items",
            "school_items",
            _("在校陪伴至少完成 %(n)s 个不同项目"),
            _("已完成 %(n)s 项"),
        ),
        (
            "min_behaviour_items",
            "behaviour_items",
            _("陪伴好行为至少完成 %(n)s 个不同项目"),
            _("已完成 %(n)s 项"),
        ),
        (
            "min_sessions",
            "sessions",
            _("本学期至少出席 %(n)s 场家长学校课程或联盟活动"),
            _("已出席 %(n)s 场"),
        ),
    )
    for name, key, text, value_text in numbered:
        needed = getattr(rule, name)
        if needed:
            have = int(figures.get(key) or 0)
            lines.append(
                RuleLine(name, text % {"n": needed}, value_text % {"n": have}, have >= needed)
            )
    if rule.no_open_rejection:
        open_items = int(figures.get("open_rejections") or 0)
        lines.append(
            RuleLine(
                "no_open_rejection",
                _("没有未解决的未通过申报（被退回的项目重新申报并通过即可）"),
                _("有 %(n)s 个项目待重新申报") % {"n": open_items} if open_items else _("没有"),
                open_items == 0,
            )
        )
    return lines


def family_figures(*, family: Family | int, term: Term) -> dict:
    """The family's figures for the term, from the same SQL as the lists."""
    family_id = family if isinstance(family, int) else family.pk
    params = computation.figures_params(rule=None, term=term, family_id=family_id)
    rows = computation.figures_rows(params, families="family")
    return rows[0] if rows else {}


def family_alliance_ids(family: Family | int) -> QuerySet:
    family_id = family if isinstance(family, int) else family.pk
    return (
        Membership.objects.filter(left_on__isnull=True, unit__pupils__family_id=family_id)
        .order_by()
        .values("alliance_id")
    )


def learning_family_progress(*, family: Family | int, term: Term) -> list[AllianceProgress]:
    """For each alliance the family belongs to that has a rule for the term: the
    rule in plain words with the family's value and whether it is met. Four
    queries (rules, figures, published lists, the family's entries), whatever
    the number of alliances."""
    rules = list(
        LearningFamilyRule.objects.filter(term=term, alliance_id__in=family_alliance_ids(family))
        .select_related("alliance")
        .order_by("alliance__name")
    )
    if not rules:
        return []
    figures = family_figures(family=family, term=term)
    family_id = family if isinstance(family, int) else family.pk
    published = _published_for(family_id, term, [r.alliance_id for r in rules])
    return [
        AllianceProgress(
            alliance=rule.alliance,
            rule=rule,
            lines=rule_lines(rule, figures),
            published=rule.alliance_id in published,
            on_list=published.get(rule.alliance_id, False),
        )
        for rule in rules
    ]


def _published_for(family_id: int, term: Term, alliance_ids: list[int]) -> dict[int, bool]:
    lists = LearningFamilyList.objects.filter(
        term=term, alliance_id__in=alliance_ids, status=LearningFamilyList.Status.PUBLISHED
    )
    on = set(
        LearningFamilyEntry.objects.filter(
            family_list__in=lists, family_id=family_id, included=True
        ).values_list("family_list__alliance_id", flat=True)
    )
    return {
        alliance_id: alliance_id in on
        for alliance_id in lists.values_list("alliance_id", flat=True)
    }


# --- coordinators -----------------------------------------------------------------


def manageable_alliances(user) -> QuerySet[Alliance]:
    """Alliances whose rules and lists the user manages."""
    return access.alliances_changeable_by(user).order_by("name")


def entry_unit_ids(user) -> QuerySet:
    """The units a unit coordinator coordinates and the units below them (not the
    units an alliance coordinator sees through their alliance: another alliance's
    list is not theirs, even where a unit is in both)."""
    from members.models import MemberUnit

    ids = access.coordinated_unit_ids(user)
    return MemberUnit.objects.filter(Q(pk__in=ids) | Q(parent_id__in=ids)).values("pk")


def lists_visible_to(user) -> QuerySet[LearningFamilyList]:
    """City admins: every list; alliance coordinators (and a district admin, for
    their district's alliances): their alliances'; unit coordinators: the lists
    holding a family of a unit they coordinate."""
    lists = LearningFamilyList.objects.select_related("alliance", "term")
    if not access.is_coordinator(user):
        return lists.none()
    if access.sees_every_district(user):
        return lists
    with_units = LearningFamilyEntry.objects.filter(unit__in=entry_unit_ids(user))
    return lists.filter(
        Q(alliance_id__in=access.coordinated_alliance_ids(user))
        | Q(pk__in=with_units.values("family_list_id"))
    )


def entries_visible_to(user, family_list: LearningFamilyList) -> QuerySet[LearningFamilyEntry]:
    """The list's entries the user may see: all for city admins and the
    alliance's coordinators (its district's administrator among them), else those of the families of the units they
    coordinate."""
    entries = LearningFamilyEntry.objects.filter(family_list=family_list)
    if access.sees_every_district(
        user
    ) or family_list.alliance_id in access.coordinated_alliance_ids(user):
        return entries
    return entries.filter(unit__in=entry_unit_ids(user))


def list_for_user(*, user, list_id: int) -> LearningFamilyList:
    found = lists_visible_to(user).filter(pk=list_id).first()
    if found is None:
        raise RecognitionError("list_missing")
    return found


def published_list(list_id: int) -> LearningFamilyList:
    """A published list (what may be printed); RecognitionError otherwise."""
    found = (
        LearningFamilyList.objects.select_related("alliance", "term")
        .filter(pk=list_id, status=LearningFamilyList.Status.PUBLISHED)
        .first()
    )
    if found is None:
        raise RecognitionError("list_missing")
    return found


def commendations_visible_to(user, *, term: Term | None = None) -> QuerySet[Commendation]:
    qs = Commendation.objects.select_related("alliance", "term", "unit", "guardian__user")
    if not access.is_staff_member(user):
        return qs.none()
    if term is not None:
        qs = qs.filter(term=term)
    if access.sees_every_district(user):
        return qs
    return qs.filter(unit__in=access.visible_unit_ids(user))


def term_choose(code: str | None) -> Term | None:
    """The term by code, else the current one, else the latest."""
    terms = Term.objects.all()
    if code:
        found = terms.filter(code=code).first()
        if found:
            return found
    return term_current() or terms.order_by("-starts_on").first()


def list_counts(user, family_list: LearningFamilyList) -> dict:
    """How many entries the user sees, qualify, are included and were overridden (one query)."""
    return entries_visible_to(user, family_list).aggregate(
        total=Count("pk"),
        qualifies=Count("pk", filter=Q(qualifies=True)),
        included=Count("pk", filter=Q(included=True)),
        overridden=Count("pk", filter=~Q(override_reason="")),
    )


def guardian_label(guardian) -> str:
    """A guardian on a coordinator's commendation list: masked name and relation."""
    from members.privacy import person_name

    return (
        f"{computation.mask_name(person_name(guardian.user))}（{guardian.get_relation_display()}）"
    )


#: The most guardians the commendation form offers at once (a search narrows them).
GUARDIAN_CHOICES_MAX = 200


def commendation_guardians(user, *, unit_id: int, search: str = "") -> QuerySet:
    """The guardians a coordinator may nominate for a unit: those they see
    (members.access.guardians_visible_to) of families with a child at the unit,
    active accounts only; ``search`` is the last digits of the phone (digits
    only) or part of the guardian's name. Ordered by name; subqueries, no
    duplicates."""
    from members.models import Guardian

    qs = access.guardians_visible_to(user).filter(
        family__in=Family.objects.filter(children__school_id=unit_id).values("pk"),
        user__is_active=True,
    )
    search = " ".join(str(search or "").split())[:50]
    if search.isdigit():
        qs = qs.filter(Q(phone__endswith=search) | Q(user__phone__endswith=search))
    elif search:
        qs = qs.filter(
            Q(user__display_name__icontains=search)
            | Q(user__last_name__startswith=search)
            | Q(user__first_name__icontains=search)
        )
    return (
        Guardian.objects.filter(pk__in=qs.values("pk"))
        .select_related("user")
        .order_by("user__display_name", "user__last_name", "pk")
    )


def guardian_choice_label(guardian) -> str:
    """A guardian in the commendation form: masked name, relation and masked
    phone (「张*（妈妈）· 139****5678」); never a child's name."""
    from members.privacy import mask_phone

    phone = mask_phone(guardian.phone or guardian.user.phone)
    label = guardian_label(guardian)
    return f"{label} · {phone}" if phone else label


def commendation_guardian_choices(user, *, unit_id: int, search: str = "") -> tuple[list, bool]:
    """(pk, label) pairs for the form, at most GUARDIAN_CHOICES_MAX, and whether
    there were more (the page asks for a search then). One query."""
    found = list(
        commendation_guardians(user, unit_id=unit_id, search=search)[: GUARDIAN_CHOICES_MAX + 1]
    )
    return [(g.pk, guardian_choice_label(g)) for g in found[:GUARDIAN_CHOICES_MAX]], len(
        found
    ) > GUARDIAN_CHOICES_MAX


def learning_family_notice_check(notice) -> str:
    """The outbox's skip hook for "recognition.learning_family" notices
    (events/notices.py): a family's notice goes out only while its list is
    published and the family included ("" = send). A read only."""
    parts = str(notice.key).split(":")
    try:
        list_id, family_id = int(parts[1]), int(parts[2])
    except (IndexError, ValueError):
        return ""
    row = (
        LearningFamilyEntry.objects.filter(family_list_id=list_id, family_id=family_id)
        .values_list("included", "family_list__status")
        .first()
    )
    if row is None:
        return str(_("家庭已不在学习型家庭名单中"))
    included, status = row
    if status != LearningFamilyList.Status.PUBLISHED:
        return str(_("学习型家庭名单未发布"))
    if not included:
        return str(_("家庭已不在学习型家庭名单中"))
    return ""
