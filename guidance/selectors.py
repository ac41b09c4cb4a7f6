"""Reads of the guidance station. The first section is the access rules: every
page, API answer, admin list and export of this app asks them (docs/GUIDANCE.md,
"Who sees what")."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from members.access import can_change_unit, is_district_admin, units_changeable_by
from members.selectors import family_for_user

from .models import Consultation, Mentor, Note, Referral, Station

# --- SECTION access (lead) ---------------------------------------------------------


def _active(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active)


def mentors_of_user(user) -> QuerySet[Mentor]:
    """The active mentor records this login is (one per station at most)."""
    if not _active(user):
        return Mentor.objects.none()
    return Mentor.objects.filter(user_id=user.pk, is_active=True)


def is_chief_of(user, station: Station | int) -> bool:
    station_id = getattr(station, "pk", station)
    return mentors_of_user(user).filter(station_id=station_id, is_chief=True).exists()


def stations_managed_by(user) -> QuerySet[Station]:
    """Stations whose settings, mentors and anonymised dashboard the user runs: the
    coordinators of the station's unit (district administrators: every station)
    and its chief mentor. Managing a station never opens a consultation's need or
    notes (those follow ``consultations_visible_to`` and ``note_readable``)."""
    if not _active(user):
        return Station.objects.none()
    if is_district_admin(user):
        return Station.objects.all()
    chief = Q(pk__in=mentors_of_user(user).filter(is_chief=True).values("station_id"))
    return Station.objects.filter(chief | Q(unit__in=units_changeable_by(user).values("pk")))


def can_manage_station(user, station: Station) -> bool:
    if not _active(user):
        return False
    return is_chief_of(user, station) or can_change_unit(user, station.unit_id)


def consultations_visible_to(user) -> QuerySet[Consultation]:
    """The consultations a person may open (the record, the family-visible parts):

    - a family: its own;
    - a mentor: those booked with them, and the cases referred to them;
    - the chief mentor: every consultation of their station.

    Coordinators see none one by one (their dashboard is anonymised)."""
    if not _active(user):
        return Consultation.objects.none()
    condition = Q(pk__in=[])
    family = family_for_user(user)
    if family is not None:
        condition |= Q(family_id=family.pk)
    mentors = mentors_of_user(user)
    mentor_ids = list(mentors.values_list("pk", flat=True))
    if mentor_ids:
        condition |= Q(mentor_id__in=mentor_ids)
        condition |= Q(referrals__to_mentor_id__in=mentor_ids)
        chief_stations = list(mentors.filter(is_chief=True).values_list("station_id", flat=True))
        if chief_stations:
            condition |= Q(station_id__in=chief_stations)
    return Consultation.objects.filter(condition).distinct()


def is_family_of(user, consultation: Consultation) -> bool:
    family = family_for_user(user)
    return family is not None and consultation.family_id == family.pk


def _case_mentor_user_ids(consultation: Consultation) -> set[int]:
    """The logins of the mentors handling the case: its own mentor and the mentors
    it was referred to (or that referred it here)."""
    users = {consultation.mentor.user_id}
    referred = Referral.objects.filter(consultation=consultation, to_mentor__isnull=False)
    users |= set(referred.values_list("to_mentor__user_id", flat=True))
    if consultation.referral_id:
        users.add(consultation.referral.consultation.mentor.user_id)
    return {pk for pk in users if pk}


def note_readable(user, note: Note) -> bool:
    """Who reads a note, by its level:

    - summary: the family, the case's mentors, the chief mentor, the author;
    - private: the author, the case's mentors and the chief mentor;
    - restricted: the author and the chief mentor only.
    """
    if not _active(user):
        return False
    consultation = note.consultation
    if note.author_id == user.pk:
        return True
    if is_chief_of(user, consultation.station_id):
        return True
    if note.level == Note.Level.RESTRICTED:
        return False
    if user.pk in _case_mentor_user_ids(consultation):
        return True
    return note.level == Note.Level.SUMMARY and is_family_of(user, consultation)


def note_levels_writable(user, consultation: Consultation) -> list[str]:
    """The levels a person may write on a consultation: the case's mentors and the
    chief mentor write all three; nobody else writes any."""
    if not _active(user):
        return []
    if user.pk in _case_mentor_user_ids(consultation) or is_chief_of(user, consultation.station_id):
        return list(Note.Level.values)
    return []


# --- SECTION pages and booking reads (helper 1) -------------------------------------


# --- SECTION notes, follow-ups and the station's dashboard (helper 2) ---------------
