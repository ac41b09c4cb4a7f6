"""Writes of the guidance station: every change of state is a function here that
pages, admin, API, tasks and commands call (docs/GUIDANCE.md). Refusals are
``GuidanceError`` with a Chinese message naming the field."""

from __future__ import annotations

from bookings.locking import bounded_atomic

from .errors import GuidanceError


def guidance_transaction():
    """``atomic()`` with bounded lock waits; a lock timeout becomes GuidanceError("busy")."""
    return bounded_atomic(lambda: GuidanceError("busy"))


# --- SECTION stations, mentors, slots, booking, referrals, limits (helper 1) --------


# --- SECTION notes, needs, follow-ups, satisfaction (helper 2) ----------------------
# Contracts helper 1 calls (helper 2 replaces these bodies):


def notes_panel(*, user, consultation) -> dict:
    """The context of templates/guidance/_notes.html for this person on this
    consultation (sealed texts read here are audit-logged)."""
    raise NotImplementedError("helper 2")


def need_read(*, user, consultation) -> str | None:
    """The booking's need in clear for the case's mentors and the chief mentor
    (audit-logged); None for anyone else."""
    raise NotImplementedError("helper 2")


def satisfaction_invite(*, consultation, now=None) -> None:
    """After a consultation is marked held: its satisfaction questionnaire."""
    raise NotImplementedError("helper 2")
