"""Families' phone numbers on a roster: masked, and shown in full to the session's
own staff only after a tap that is audit-logged.

Phones are masked everywhere outside the family (members/privacy.py). On the day,
though, a coordinator or instructor must be able to call a family who is late, so
the roster of their own session (course session or event; never an export or the
printout) has a 「显示号码」 button per family. The view checks the scope
(members/access.py through the roster's own lookup), then
``members.services.guardian_phones_reveal`` writes one audit entry per number and
enforces the hourly cap; the numbers are then remembered in that person's session
for ``ROSTER_PHONE_SHOWN_SECONDS``, so the roster keeps showing them (with a
``tel:`` link) after the redirect, without a second audit entry for a reload.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.db.models import Model, prefetch_related_objects
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from .errors import MembersError
from .models import Guardian
from .privacy import mask_phone

SESSION_KEY = "roster_revealed_phones"


@dataclass(frozen=True)
class Contact:
    """One guardian's number as a roster row shows it."""

    guardian_id: int
    relation: str  # 妈妈, 爸爸 …: the attendee names are in the row already
    masked: str
    phone: str  # the full number, only once revealed to this viewer; else ""

    @property
    def tel(self) -> str:
        return f"tel:{self.phone}" if self.phone else ""


def _about_key(about: Model) -> str:
    return f"{about._meta.label_lower}:{about.pk}"


def revealed_guardian_ids(request, *, about: Model) -> set[int]:
    """Guardians whose numbers this viewer revealed on ``about``'s roster lately."""
    stored = request.session.get(SESSION_KEY) or {}
    now = time.time()
    shown = stored.get(_about_key(about)) or {}
    return {int(pk) for pk, until in shown.items() if until > now}


def remember_revealed(request, *, about: Model, guardian_ids: list[int]) -> None:
    """Keep the numbers shown on ``about``'s roster for a while (this viewer only)."""
    now = time.time()
    until = now + settings.ROSTER_PHONE_SHOWN_SECONDS
    stored = request.session.get(SESSION_KEY) or {}
    # Drop what has expired, so the session does not grow over a term.
    kept = {key: {pk: t for pk, t in shown.items() if t > now} for key, shown in stored.items()}
    kept = {key: shown for key, shown in kept.items() if shown}
    shown = kept.setdefault(_about_key(about), {})
    for pk in guardian_ids:
        shown[str(pk)] = until
    request.session[SESSION_KEY] = kept


def family_guardians(booking) -> list[Guardian]:
    """The guardians of a booking's family (prefetched by ``attach_contacts``)."""
    family = booking.family
    return list(family.guardians.all()) if family is not None else []


def contact_for(guardian: Guardian, *, revealed: bool) -> Contact:
    return Contact(
        guardian_id=guardian.pk,
        relation=guardian.get_relation_display(),
        masked=mask_phone(guardian.phone),
        phone=guardian.phone if revealed else "",
    )


def attach_contacts(bookings, *, revealed_ids: set[int]) -> None:
    """Give each booking ``contacts``: its family's guardians, masked unless revealed.
    Two queries for the whole roster, however long."""
    bookings = list(bookings)
    # A plain lookup: a roster that prefetched the guardians already costs nothing more.
    prefetch_related_objects(bookings, "family__guardians")
    for booking in bookings:
        booking.contacts = [
            contact_for(guardian, revealed=guardian.pk in revealed_ids)
            for guardian in sorted(family_guardians(booking), key=lambda g: g.pk)
            if guardian.phone
        ]
        # Whether the row still offers 「显示号码」.
        booking.contacts_hidden = any(not contact.phone for contact in booking.contacts)


# -- the reveal request (the same for course sessions and events) ----------------


def booking_in(roster, booking_id) -> object:
    """The booking ``booking_id`` of this roster's confirmed families, or 404: a
    booking of another session (or a made-up id) reveals nothing."""
    try:
        wanted = int(booking_id)
    except (TypeError, ValueError):
        raise Http404 from None
    for booking in roster:
        if booking.pk == wanted:
            return booking
    raise Http404


def _wants_json(request) -> bool:
    # The small script asks for JSON; a plain form post (no script) gets the page back.
    return "application/json" in request.headers.get("Accept", "")


def reveal_response(request, *, about: Model, booking, back_url: str) -> HttpResponse:
    """Reveal the full numbers of ``booking``'s family to the requesting staff member:
    audit-logged and capped by the service, remembered for this viewer, then either
    JSON for the script or a redirect back to the row on the roster."""
    from .services import guardian_phones_reveal

    prefetch_related_objects([booking], "family__guardians")
    back = f"{back_url}#booking-{booking.pk}"
    try:
        shown = guardian_phones_reveal(
            actor=request.user,
            guardians=family_guardians(booking),
            about=about,
            ip_address=request.META.get("REMOTE_ADDR"),
        )
    except MembersError as error:
        if _wants_json(request):
            return JsonResponse({"error": error.message}, status=429)
        messages.error(request, error.message)
        return redirect(back)
    remember_revealed(request, about=about, guardian_ids=[g.pk for g in shown])
    if _wants_json(request):
        return JsonResponse(
            {
                "contacts": [
                    {
                        "guardian_id": g.pk,
                        "relation": g.get_relation_display(),
                        "masked": mask_phone(g.phone),
                        "phone": g.phone,
                        "tel": f"tel:{g.phone}",
                    }
                    for g in shown
                ]
            }
        )
    if not shown:
        messages.info(request, _("这个家庭没有留下手机号。"))
    return redirect(back)
