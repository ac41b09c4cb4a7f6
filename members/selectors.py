"""Reads for the members app: families, consent, the coordinator's family list and
the "my data" export. Views, tasks and other apps call these."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from . import access
from .models import (
    AuditLog,
    Child,
    ConsentRecord,
    Family,
    FamilyInvitation,
    Guardian,
    MemberUnit,
    Region,
    RoleAssignment,
    SchoolStage,
    User,
)
from .sms import mask_phone

__all__ = [
    "SCHOOL_KINDS",
    "community_regions",
    "consent_is_current",
    "current_version",
    "family_data_export",
    "family_for_user",
    "family_invitation_open_by_token",
    "family_invitations_open",
    "family_list_for_unit",
    "guardian_for_user",
    "mask_phone",
    "school_units",
    "stage_suggest",
]

SCHOOL_KINDS = (
    MemberUnit.Kind.KINDERGARTEN,
    MemberUnit.Kind.PRIMARY_SCHOOL,
    MemberUnit.Kind.MIDDLE_SCHOOL,
    MemberUnit.Kind.NINE_YEAR_SCHOOL,
    MemberUnit.Kind.HIGH_SCHOOL,
    MemberUnit.Kind.VOCATIONAL_SCHOOL,
)


# --- audit: full phone numbers shown on rosters --------------------------------------

#: The audit action of one full phone number shown to a coordinator or instructor.
PHONE_REVEAL_ACTION = "members.guardian.phone_reveal"


def phone_reveals_in_last_hour(*, actor) -> int:
    """How many full phone numbers ``actor`` has had shown in the last hour (the
    audit log is the count, so the cap holds across workers and restarts)."""
    since = timezone.now() - datetime.timedelta(hours=1)
    return AuditLog.objects.filter(
        actor=actor, action=PHONE_REVEAL_ACTION, created_at__gte=since
    ).count()


# --- people in admin pickers (role grants, instructors' logins) ---------------------


def users_for_picker(users: QuerySet, *, viewer) -> QuerySet:
    """``users`` with the roles ``viewer`` may see prefetched, for ``user_picker_label``:
    two queries for a page of answers, whatever its length. Only roles at units or
    alliances the viewer sees are named, so a label never shows another scope."""
    roles = RoleAssignment.objects.select_related("unit", "alliance").order_by("pk")
    if not access.sees_every_district(viewer):
        roles = roles.filter(
            Q(unit__in=access.visible_unit_ids(viewer))
            | Q(alliance__in=access.alliances_visible_to(viewer).values("pk"))
        )
    return users.prefetch_related(
        Prefetch("role_assignments", queryset=roles, to_attr="picker_roles")
    )


def user_picker_label(user) -> str:
    """「王老师 · 139****0001 · 溪口中学」: enough to tell namesakes apart without
    showing a whole phone number or e-mail address (members/privacy.py)."""
    from .privacy import mask_email

    parts = [user.display_name or user.get_username()]
    contact = mask_phone(user.phone or "") or mask_email(user.email)
    if contact:
        parts.append(contact)
    places = []
    # Roles come from users_for_picker (scoped to the viewer); without it, none are named.
    for role in getattr(user, "picker_roles", []):
        place = role.unit or role.alliance
        name = str(place) if place is not None else str(_("全区"))
        if name not in places:
            places.append(name)
    if places:
        parts.append("、".join(places[:2]) + (str(_("等")) if len(places) > 2 else ""))
    return " · ".join(parts)


# --- families -------------------------------------------------------------------


def guardian_for_user(user) -> Guardian | None:
    """The user's guardian profile (with its family), or None. Cached per request."""
    if not getattr(user, "is_authenticated", False):
        return None
    if not hasattr(user, "_guardian_cache"):
        user._guardian_cache = (
            Guardian.objects.select_related("family", "home_community").filter(user=user).first()
        )
    return user._guardian_cache


def family_for_user(user) -> Family | None:
    """The family the signed-in user belongs to as a guardian, or None."""
    guardian = guardian_for_user(user)
    return guardian.family if guardian else None


def family_guardians(*, family: Family) -> QuerySet[Guardian]:
    return family.guardians.select_related("user", "home_community").order_by("pk")


def family_children(*, family: Family) -> QuerySet[Child]:
    return family.children.select_related("school").order_by("birth_year", "pk")


def family_invitations_open(*, family: Family) -> QuerySet[FamilyInvitation]:
    return family.invitations.filter(
        accepted_at__isnull=True, expires_at__gt=timezone.now()
    ).order_by("-created_at")


def family_invitation_open_by_token(token: str) -> FamilyInvitation | None:
    return (
        FamilyInvitation.objects.select_related("family", "invited_by")
        .filter(token=token, accepted_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )


def school_units() -> QuerySet[MemberUnit]:
    return MemberUnit.objects.filter(kind__in=SCHOOL_KINDS, is_active=True).order_by("name")


def community_regions() -> QuerySet[Region]:
    return Region.objects.filter(
        kind__in=[Region.Kind.COMMUNITY, Region.Kind.STREET, Region.Kind.TOWN]
    ).order_by("name")


def stage_suggest(birth_year: int, *, today: datetime.date | None = None) -> str:
    """The usual school stage for a child born in ``birth_year``.

    Children start primary school in the September after they turn six, so we
    count the age reached in the current school year (which starts on 1 Sept):
    under 6 → 学前, 6–11 → 小学, 12–14 → 初中, 15 and over → 高中. Guardians can
    change the suggestion (a child may start early or repeat a year).
    """
    today = today or timezone.localdate()
    school_year = today.year if today.month >= 9 else today.year - 1
    age = school_year - birth_year
    if age < 6:
        return SchoolStage.PRESCHOOL
    if age < 12:
        return SchoolStage.PRIMARY
    if age < 15:
        return SchoolStage.JUNIOR
    return SchoolStage.SENIOR


# --- consent --------------------------------------------------------------------


def current_version(document: str) -> str:
    if document == ConsentRecord.Document.CHILDREN_INFO:
        return settings.CHILDREN_INFO_RULES_VERSION
    return settings.PRIVACY_POLICY_VERSION


def consent_is_current(*, user, document: str) -> bool:
    """Has this user agreed to the current version of ``document``?"""
    if not getattr(user, "is_authenticated", False):
        return False
    return ConsentRecord.objects.filter(
        user=user, document=document, version=current_version(document)
    ).exists()


# --- coordinators ---------------------------------------------------------------


def family_list_for_unit(*, user, unit: MemberUnit) -> QuerySet[Family]:
    """Families with a child at ``unit`` (a school), for a coordinator who may see it.

    Scoped through members/access.py: an empty queryset when the user may not
    view the unit. Guardians and the children at this school are prefetched, so
    a page costs a fixed number of queries.
    """
    if not access.can_view_unit(user, unit):
        return Family.objects.none()
    at_school = Q(children__school=unit)
    return (
        Family.objects.filter(at_school)
        .annotate(children_at_unit=Count("children", filter=at_school, distinct=True))
        .select_related("home_community")
        .prefetch_related(
            Prefetch(
                "guardians",
                queryset=Guardian.objects.select_related("user").order_by("pk"),
            ),
            Prefetch(
                "children",
                queryset=Child.objects.filter(school=unit).order_by("birth_year", "pk"),
                to_attr="children_here",
            ),
        )
        .order_by("pk")
    )


# --- my data --------------------------------------------------------------------

# Fields never exported: secrets, not data about the person.
_SECRET_FIELD_MARKERS = ("password", "token", "secret", "session_key", "key_hash")


def _is_secret(field_name: str) -> bool:
    return any(marker in field_name for marker in _SECRET_FIELD_MARKERS)


def _value(obj: models.Model, field: models.Field) -> Any:
    if field.is_relation:
        related_id = getattr(obj, field.attname)
        if related_id is None:
            return None
        related = getattr(obj, field.name)
        return {"id": related_id, "label": str(related)}
    value = getattr(obj, field.attname)
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).isoformat() if timezone.is_aware(value) else value
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if hasattr(value, "__float__") and not isinstance(value, bool | int | float):
        return str(value)  # Decimal
    if isinstance(value, bool | int | float | str | list | dict) or value is None:
        if field.choices and value not in (None, ""):
            return {"value": value, "label": str(getattr(obj, f"get_{field.name}_display")())}
        return value
    return str(value)


def _row(obj: models.Model) -> dict[str, Any]:
    return {
        field.name: _value(obj, field)
        for field in obj._meta.concrete_fields
        if not _is_secret(field.name)
    }


def _section(model: type[models.Model], rows) -> dict[str, Any]:
    fields = [f for f in model._meta.concrete_fields if not _is_secret(f.name)]
    return {
        "model": model._meta.label,
        "title": str(model._meta.verbose_name_plural),
        "labels": {f.name: str(f.verbose_name) for f in fields},
        "rows": [_row(obj) for obj in rows],
    }


def _collect_reverse(
    owner_model,
    owners: list[models.Model],
    skip: set[str],
    found: dict[str, tuple[type[models.Model], dict[int, models.Model]]],
) -> None:
    """Every row in any app that points at one of ``owners``, added to ``found``.

    Found by introspection, so data that later apps add (bookings, credits,
    lesson progress, notifications, calendar feeds …) is exported without
    members having to import them. A row reached twice (a credit points at the
    family and at a child) is listed once.
    """
    if not owners:
        return
    for relation in owner_model._meta.related_objects:
        if relation.many_to_many or not relation.field.concrete:
            continue
        model = relation.related_model
        if model._meta.label in skip or model is AuditLog:
            continue
        related_fields = [
            f.name for f in model._meta.concrete_fields if f.is_relation and not _is_secret(f.name)
        ]
        rows = (
            model._base_manager.filter(**{f"{relation.field.name}__in": owners})
            .select_related(*related_fields)
            .order_by("pk")
        )
        bucket = found.setdefault(model._meta.label, (model, {}))[1]
        for row in rows:
            bucket.setdefault(row.pk, row)


def family_data_export(*, user: User) -> dict[str, Any]:
    """Everything the portal holds about this user and their family, as plain data."""
    guardian = guardian_for_user(user)
    family = guardian.family if guardian else None
    guardians = list(family_guardians(family=family)) if family else []
    children = list(family_children(family=family)) if family else []
    # The co-guardians' accounts are theirs: only their profile inside the family
    # is exported, not their sign-in data.
    sections = [_section(User, [user])]
    if family:
        sections.append(_section(Family, [family]))
        sections.append(_section(Guardian, guardians))
        if children:
            sections.append(_section(Child, children))
    core = {User._meta.label, Family._meta.label, Guardian._meta.label, Child._meta.label}
    found: dict[str, tuple[type[models.Model], dict[int, models.Model]]] = {}
    _collect_reverse(User, [user], core | {"admin.LogEntry"}, found)
    if family:
        _collect_reverse(Family, [family], core, found)
        _collect_reverse(Guardian, guardians, core, found)
        _collect_reverse(Child, children, core, found)
    for model, rows in found.values():
        if rows:
            sections.append(_section(model, [rows[pk] for pk in sorted(rows)]))
    actions = AuditLog.objects.filter(actor=user).order_by("created_at", "pk")
    sections.append(
        {
            "model": AuditLog._meta.label,
            "title": str(AuditLog._meta.verbose_name_plural),
            "labels": {"created_at": "时间", "action": "操作", "target_repr": "对象"},
            "rows": [
                {
                    "created_at": timezone.localtime(a.created_at).isoformat(),
                    "action": a.action,
                    "target_repr": a.target_repr,
                }
                for a in actions
            ],
        }
    )
    return {
        "portal": str(settings.PORTAL_NAME),
        "generated_at": timezone.localtime().isoformat(),
        "user_id": user.pk,
        "family_id": family.pk if family else None,
        "sections": sections,
    }


# --- API tokens ---------------------------------------------------------------------


def api_token_for_key(raw: str):
    """The live token with this key, with its user and unit, or None (one query)."""
    from .models import ApiToken
    from .services import api_token_hash

    if not raw or len(raw) > 200:
        return None
    token = (
        ApiToken.objects.select_related("user", "unit")
        .filter(key_hash=api_token_hash(raw), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.is_live or not token.user.is_active:
        return None
    return token


def api_tokens_of(*, user) -> QuerySet:
    """The tokens a user made (their own and the devices they handed out), newest first."""
    from .models import ApiToken

    return ApiToken.objects.filter(user=user).select_related("unit").order_by("-created_at", "-pk")


# --- messages about a person's own account ------------------------------------------

#: Where an account message's content (a code, a link with a key) waits for the
#: worker that sends it: never in the outbox row (members.services.account_message_send).
ACCOUNT_MESSAGE_CACHE_PREFIX = "members:account-message:"


def account_message_content(message_key: str) -> dict | None:
    """What an account message says (``{"sms": …}`` or the mail's ``subject``,
    ``body``, ``html``, ``from_email``), kept only until its code expires
    (members.services.account_message_send); None once expired."""
    from django.core.cache import cache

    if not message_key:
        return None
    return cache.get(ACCOUNT_MESSAGE_CACHE_PREFIX + message_key)


def account_message_contents(message_keys: list[str]) -> dict[str, dict]:
    """The contents of several account messages in one cache round trip (a send batch)."""
    from django.core.cache import cache

    keys = [key for key in message_keys if key]
    if not keys:
        return {}
    found = cache.get_many([ACCOUNT_MESSAGE_CACHE_PREFIX + key for key in keys])
    return {key[len(ACCOUNT_MESSAGE_CACHE_PREFIX) :]: value for key, value in found.items()}
