"""Reads for certificates: who may see what first (the access rules every page,
admin list, export and API answer of this app asks), then each page's selectors."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone

from courses.services import family_of
from members.access import (
    alliances_changeable_by,
    coordinated_alliance_ids,
    sees_every_district,
    units_changeable_by,
)
from members.models import Alliance

from .models import Certificate, CertificateBatch, CertificatePreference, Kind


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
    """Certificates a coordinator may look at, revoke and re-issue: city
    administrators all; an alliance's coordinators its certificates (a district
    administrator: those of their district's alliances, through
    ``coordinated_alliance_ids``); a unit's coordinators those their unit issued
    (a district administrator: their district's units)."""
    if not _active(user):
        return Certificate.objects.none()
    # "All rows" for the city only; the fall-through scopes everyone else.
    if sees_every_district(user):
        return Certificate.objects.all()
    return Certificate.objects.filter(
        Q(alliance_id__in=coordinated_alliance_ids(user))
        | Q(unit__in=units_changeable_by(user).values("pk"))
    )


def alliances_issuing_for(user) -> QuerySet[Alliance]:
    """Alliances whose rules, design and batches the user runs: city
    administrators every alliance, a district administrator their district's,
    an alliance coordinator their own (``alliances_changeable_by``)."""
    if not _active(user):
        return Alliance.objects.none()
    return alliances_changeable_by(user)


def can_issue_for(user, alliance: Alliance | int) -> bool:
    alliance_id = alliance if isinstance(alliance, int) else alliance.pk
    return alliances_issuing_for(user).filter(pk=alliance_id).exists()


def batches_visible_to(user) -> QuerySet[CertificateBatch]:
    return CertificateBatch.objects.filter(alliance__in=alliances_issuing_for(user).values("pk"))


# SECTION holder (helper D): 我的证书, transcript, public verification

#: A chain of re-issues is short; the verification page follows at most this many links.
CHAIN_MAX = 20


def my_certificates(user) -> QuerySet[Certificate]:
    """我的证书: the holder's certificates that are not replaced (valid and revoked),
    newest first, with what each card shows in the same query."""
    return (
        certificates_held_by(user)
        .exclude(status=Certificate.Status.SUPERSEDED)
        # a transcript names the guardian who asked for it: the other guardian's
        # is theirs (it can still be opened by the family, not listed)
        .exclude(Q(kind=Kind.TRANSCRIPT) & ~Q(user=user))
        .select_related("alliance", "unit", "term")
        .order_by("-issued_on", "-id")
    )


def certificate_for_holder(user, certificate_id) -> Certificate | None:
    """One of the holder's certificates (a replaced one too: its PDF stays theirs)."""
    from members.formatting import id_or_none

    certificate_id = id_or_none(certificate_id)
    if certificate_id is None:
        return None
    return (
        certificates_held_by(user)
        .select_related("alliance", "unit", "term", "course")
        .filter(pk=certificate_id)
        .first()
    )


def transcript_current(user) -> Certificate | None:
    """The user's newest transcript that is not replaced (None before the first)."""
    return (
        certificates_held_by(user)
        .filter(kind=Kind.TRANSCRIPT, user=user)
        .exclude(status=Certificate.Status.SUPERSEDED)
        .select_related("alliance", "unit")
        .order_by("-id")
        .first()
    )


def child_nickname_shown(family) -> bool:
    if family is None:
        return False
    return CertificatePreference.objects.filter(family=family, child_nickname_shown=True).exists()


def current_of(certificate: Certificate) -> Certificate:
    """The certificate in force now: ``certificate`` itself, or the end of its chain
    of re-issues (one query per link; a chain is short)."""
    for _step in range(CHAIN_MAX):
        if not certificate.superseded_by_id:
            break
        certificate = Certificate.objects.select_related("alliance", "unit", "term").get(
            pk=certificate.superseded_by_id
        )
    return certificate


@dataclass(frozen=True)
class Verification:
    """What the public verification page shows of a certificate: no phone, no
    child, the holder masked (张*华), the revocation date but not its reason."""

    certificate: Certificate
    holder: str
    title: str
    # The certificate that replaces this one, at the end of the re-issue chain.
    current: Certificate | None

    @property
    def status(self) -> str:
        return self.certificate.status

    @property
    def is_valid(self) -> bool:
        return self.certificate.status == Certificate.Status.VALID

    @property
    def revoked_on(self) -> datetime.date | None:
        revoked_at = self.certificate.revoked_at
        return timezone.localdate(revoked_at) if revoked_at else None


def verification(code) -> Verification | None:
    """The verification of the certificate with this code (as typed from paper:
    any case, dashes and spaces ignored), or None."""
    from .credentials import public_name
    from .documents import document_title

    code = code_normalise(code)
    if not code:
        return None
    certificate = (
        Certificate.objects.select_related("alliance", "unit", "term")
        .defer("credential", "data")  # large, and not on the page
        .filter(code=code)
        .first()
    )
    if certificate is None:
        return None
    return Verification(
        certificate=certificate,
        holder=public_name(certificate),
        title=document_title(certificate),
        current=current_of(certificate) if certificate.superseded_by_id else None,
    )


def verification_page_key(code: str, language: str) -> str:
    """Where the verification page shared by anonymous visitors is kept."""
    return f"certificates:verify-page:v1:{language}:{code}"


# END SECTION holder
# SECTION staff (helper C): coordinators' lists and batch progress


def code_normalise(code) -> str:
    """「k7q2m-9xd4p」, 「K7Q2M 9XD4P」 → 「K7Q2M9XD4P」 (typed from paper)."""
    return "".join(ch for ch in str(code or "").upper() if ch.isalnum())[:20]


def manage_list(
    user,
    *,
    alliance_id: int | None = None,
    term_id: int | None = None,
    kind: str = "",
    status: str = "",
    code: str = "",
) -> QuerySet[Certificate]:
    """The coordinator's list: certificates they manage, newest first, filtered;
    each row's alliance, unit and term in the same query (a page is constant)."""
    rows = certificates_manageable_by(user).select_related("alliance", "unit", "term")
    if alliance_id:
        rows = rows.filter(alliance_id=alliance_id)
    if term_id:
        rows = rows.filter(term_id=term_id)
    if kind:
        rows = rows.filter(kind=kind)
    if status:
        rows = rows.filter(status=status)
    code = code_normalise(code)
    if code:
        rows = rows.filter(code__startswith=code)
    return rows.order_by("-id")


def manage_filter_choices(user) -> dict:
    """The alliances and terms the coordinator's certificates have (the filters)."""
    from parent_school.models import Term

    mine = certificates_manageable_by(user).order_by()
    return {
        "alliances": list(
            Alliance.objects.filter(pk__in=mine.values("alliance_id")).order_by("name")
        ),
        "terms": list(Term.objects.filter(pk__in=mine.values("term_id")).order_by("-starts_on")),
    }


def certificate_managed(user, certificate_id) -> Certificate | None:
    from members.formatting import id_or_none

    certificate_id = id_or_none(certificate_id)
    if certificate_id is None:
        return None
    return (
        certificates_manageable_by(user)
        .select_related("alliance", "unit", "term", "superseded_by")
        .filter(pk=certificate_id)
        .first()
    )


def batch_visible(user, batch_id) -> CertificateBatch | None:
    from members.formatting import id_or_none

    batch_id = id_or_none(batch_id)
    if batch_id is None:
        return None
    return (
        batches_visible_to(user)
        .select_related("alliance", "term", "requested_by")
        .filter(pk=batch_id)
        .first()
    )


def recent_batches(user, *, limit: int = 10) -> list[CertificateBatch]:
    return list(
        batches_visible_to(user)
        .select_related("alliance", "term")
        .order_by("-created_at", "-id")[:limit]
    )


def batch_progress(batch: CertificateBatch) -> dict:
    """What the progress page and its JSON show."""
    percent = 100 if batch.status == CertificateBatch.Status.DONE else 0
    if batch.total and batch.status != CertificateBatch.Status.DONE:
        percent = min(99, batch.processed * 100 // batch.total)
    return {
        "status": batch.status,
        "total": batch.total,
        "processed": batch.processed,
        "issued": batch.issued,
        "skipped": batch.skipped,
        "percent": percent,
    }


# END SECTION staff
