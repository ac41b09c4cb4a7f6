"""Reads for certificates: who may see what first (the access rules every page,
admin list, export and API answer of this app asks), then each page's selectors."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from courses.services import family_of
from members.access import (
    alliances_changeable_by,
    coordinated_alliance_ids,
    is_district_admin,
    units_changeable_by,
)
from members.models import Alliance

from .models import Certificate, CertificateBatch


def _active(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active)


def certificates_held_by(user) -> QuerySet[Certificate]:
    """A person's own certificates: those naming them (a volunteer's) and those of
    their family (every guardian of the family sees the family's)."""
    if not _active(user):
        return Certificate.objects.none()
    family = family_of(user)
    condition = Q(user=user)
    if family is not None:
        condition |= Q(family=family)
    return Certificate.objects.filter(condition)


def certificates_manageable_by(user) -> QuerySet[Certificate]:
    """Certificates a coordinator may look at, revoke and re-issue: district
    administrators all; an alliance's coordinators its certificates; a unit's
    coordinators those their unit issued."""
    if not _active(user):
        return Certificate.objects.none()
    if is_district_admin(user):
        return Certificate.objects.all()
    return Certificate.objects.filter(
        Q(alliance_id__in=coordinated_alliance_ids(user))
        | Q(unit__in=units_changeable_by(user).values("pk"))
    )


def alliances_issuing_for(user) -> QuerySet[Alliance]:
    """Alliances whose rules, design and batches the user runs: district
    administrators every alliance, an alliance coordinator their own."""
    if not _active(user):
        return Alliance.objects.none()
    return alliances_changeable_by(user)


def can_issue_for(user, alliance: Alliance | int) -> bool:
    alliance_id = alliance if isinstance(alliance, int) else alliance.pk
    return alliances_issuing_for(user).filter(pk=alliance_id).exists()


def batches_visible_to(user) -> QuerySet[CertificateBatch]:
    return CertificateBatch.objects.filter(alliance__in=alliances_issuing_for(user).values("pk"))


# SECTION holder (helper D): 我的证书, transcript, public verification
# END SECTION holder
# SECTION staff (helper C): coordinators' lists and batch progress
# END SECTION staff
