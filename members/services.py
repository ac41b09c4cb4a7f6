"""Writes for the members app. Views, admin, tasks and commands call these."""

from __future__ import annotations

import datetime
import logging
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _

from . import signals
from .errors import MembersError
from .models import (
    ApiToken,
    AuditLog,
    Child,
    ConsentRecord,
    Family,
    FamilyInvitation,
    Guardian,
    MemberUnit,
    Region,
    User,
)
from .privacy import mask_email
from .sms import mask_phone

logger = logging.getLogger(__name__)

MAX_OPEN_INVITATIONS = 5


def audit_log_record(
    *,
    actor,
    action: str,
    target: models.Model | None = None,
    data: dict[str, Any] | None = None,
    ip_address: str | None = None,
) -> AuditLog:
    """Append one audit entry. ``action`` is a dotted name: ``<app>.<thing>.<verb>``."""
    is_user = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditLog.objects.create(
        actor=actor if is_user else None,
        actor_label=(actor.get_username() if is_user else "system")[:150],
        action=action,
        target_type=target._meta.label if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_repr=str(target)[:200] if target is not None else "",
        data=data or {},
        ip_address=ip_address,
    )


# --- consent ----------------------------------------------------------------------


def _user_lock(user: User) -> None:
    # Serialises one person's first-time writes (family set-up, consent): the
    # second of two simultaneous requests waits here and then sees the first's
    # rows. NO KEY UPDATE, so rows that merely point at the user are not blocked.
    User.objects.select_for_update(no_key=True).filter(pk=user.pk).first()


def consent_record(
    *,
    user: User,
    document: str,
    family: Family | None = None,
    ip_address: str | None = None,
) -> ConsentRecord:
    """Record that ``user`` agreed to the current version of ``document``."""
    from .selectors import current_version

    version = current_version(document)
    with transaction.atomic():
        # A double tap on "I agree" records once: the user's row is the lock, and
        # the second request finds the first one's record and returns it.
        _user_lock(user)
        existing = (
            ConsentRecord.objects.filter(user=user, document=document, version=version)
            .order_by("agreed_at", "pk")
            .first()
        )
        if existing is not None:
            return existing
        record = ConsentRecord.objects.create(
            user=user, family=family, document=document, version=version
        )
        audit_log_record(
            actor=user,
            action="members.consent.agree",
            target=record,
            data={"document": document, "version": version},
            ip_address=ip_address,
        )
    return record


# --- families -----------------------------------------------------------------------


def _set_display_name(user: User, display_name: str | None) -> None:
    if display_name is not None and display_name != user.display_name:
        user.display_name = display_name.strip()
        user.save(update_fields=["display_name"])


def family_create_for_user(
    *,
    user: User,
    relation: str,
    phone: str = "",
    home_community: Region | None = None,
    display_name: str | None = None,
) -> Guardian:
    """Start a family with ``user`` as its first guardian.

    Two set-up forms sent at once make one family: the second waits for the
    first and is refused with ``already_in_family`` (the caller shows the family).
    """
    try:
        with transaction.atomic():
            _user_lock(user)
            if Guardian.objects.filter(user=user).exists():
                raise MembersError("already_in_family")
            _set_display_name(user, display_name)
            family = Family.objects.create(home_community=home_community)
            guardian = Guardian.objects.create(
                user=user,
                family=family,
                relation=relation,
                phone=phone or (user.phone or ""),
                home_community=home_community,
            )
            audit_log_record(actor=user, action="members.family.create", target=family)
    except IntegrityError as error:
        # Joining a family by invitation at the same moment does not take the
        # lock above; the one-guardian-per-user key refuses the second writer.
        if not Guardian.objects.filter(user=user).exists():
            raise
        raise MembersError("already_in_family") from error
    user.__dict__.pop("_guardian_cache", None)
    return guardian


def guardian_update(
    *,
    guardian: Guardian,
    relation: str,
    phone: str = "",
    home_community: Region | None = None,
    display_name: str | None = None,
) -> Guardian:
    with transaction.atomic():
        _set_display_name(guardian.user, display_name)
        guardian.relation = relation
        guardian.phone = phone
        guardian.home_community = home_community
        guardian.save(update_fields=["relation", "phone", "home_community"])
        family = guardian.family
        if home_community is not None and family.home_community_id != home_community.pk:
            family.home_community = home_community
            family.save(update_fields=["home_community"])
    return guardian


def user_phone_changed(*, user: User, old_phone: str) -> None:
    """A verified new sign-in number: keep the guardian's contact number in step."""
    Guardian.objects.filter(user=user, phone=old_phone).update(phone=user.phone)
    audit_log_record(
        actor=user,
        action="members.user.phone_change",
        target=user,
        data={"old": mask_phone(old_phone), "new": mask_phone(user.phone)},
    )


def _check_child_fields(*, birth_year: int, school: MemberUnit | None) -> None:
    this_year = timezone.localdate().year
    if not (this_year - 20 <= birth_year <= this_year):
        raise MembersError("birth_year_out_of_range")
    if school is not None:
        from .selectors import SCHOOL_KINDS

        if school.kind not in SCHOOL_KINDS:
            raise MembersError("not_a_school")


def child_add(
    *,
    family: Family,
    actor: User,
    nickname: str,
    birth_year: int,
    stage: str = "",
    school: MemberUnit | None = None,
    ip_address: str | None = None,
) -> Child:
    """Add a child; the acting guardian must have agreed to the current children's rules."""
    from .selectors import consent_is_current, stage_suggest

    if not consent_is_current(user=actor, document=ConsentRecord.Document.CHILDREN_INFO):
        raise MembersError("consent_required")
    _check_child_fields(birth_year=birth_year, school=school)
    with transaction.atomic():
        child = Child.objects.create(
            family=family,
            nickname=nickname.strip(),
            birth_year=birth_year,
            stage=stage or stage_suggest(birth_year),
            school=school,
        )
        audit_log_record(
            actor=actor, action="members.child.create", target=child, ip_address=ip_address
        )
    return child


def child_update(
    *,
    child: Child,
    actor: User,
    nickname: str,
    birth_year: int,
    stage: str = "",
    school: MemberUnit | None = None,
) -> Child:
    from .selectors import stage_suggest

    _check_child_fields(birth_year=birth_year, school=school)
    child.nickname = nickname.strip()
    child.birth_year = birth_year
    child.stage = stage or stage_suggest(birth_year)
    child.school = school
    child.save(update_fields=["nickname", "birth_year", "stage", "school"])
    return child


def child_delete(*, child: Child, actor: User, ip_address: str | None = None) -> None:
    """Remove a child's data. Bookings and credits keep anonymous counts (SET_NULL)."""
    with transaction.atomic():
        audit_log_record(
            actor=actor,
            action="members.child.delete",
            target=child,
            data={"family_id": child.family_id},
            ip_address=ip_address,
        )
        child.delete()


# --- co-guardian invitations -------------------------------------------------------


def family_invitation_create(
    *,
    family: Family,
    invited_by: User,
    relation: str,
    phone: str = "",
    email: str = "",
    base_url: str,
    ip_address: str | None = None,
) -> FamilyInvitation:
    """Invite a co-guardian by phone (SMS) or email; the message goes out after commit.

    The message is a row of the portal's one outbox, written by the receiver of
    ``family_invitation_created`` (events/receivers.py) in this transaction and
    sent once by a worker after the commit (docs/EVENTS.md, "The outbox").
    ``base_url`` is the portal's address as the inviter sees it
    (``request.build_absolute_uri("/")``), so the link works behind any host name.
    """
    phone = (phone or "").strip()
    email = (email or "").strip().lower()
    if bool(phone) == bool(email):
        raise MembersError("invite_needs_one_contact")
    with transaction.atomic():
        # Lock the family row: two quick clicks cannot pass the limit together.
        Family.objects.select_for_update().filter(pk=family.pk).first()
        guardians = Guardian.objects.filter(family=family).select_related("user")
        for guardian in guardians:
            if phone and phone in (guardian.phone, guardian.user.phone):
                raise MembersError("invite_already_guardian")
            if email and guardian.user.email and email == guardian.user.email.lower():
                raise MembersError("invite_already_guardian")
        open_count = FamilyInvitation.objects.filter(
            family=family, accepted_at__isnull=True, expires_at__gt=timezone.now()
        ).count()
        if open_count >= MAX_OPEN_INVITATIONS:
            raise MembersError("too_many_invitations")
        invitation = FamilyInvitation.objects.create(
            family=family,
            invited_by=invited_by,
            phone=phone,
            email=email,
            relation=relation,
            expires_at=timezone.now() + datetime.timedelta(days=settings.FAMILY_INVITATION_DAYS),
        )
        audit_log_record(
            actor=invited_by,
            action="members.invitation.create",
            target=invitation,
            data={"family_id": family.pk, "channel": "sms" if phone else "email"},
            ip_address=ip_address,
        )
        signals.family_invitation_created.send(
            sender=FamilyInvitation, invitation=invitation, base_url=base_url
        )
    return invitation


def _user_matches_invitation(user: User, invitation: FamilyInvitation) -> bool:
    if invitation.phone:
        return bool(user.phone) and user.phone == invitation.phone and user.phone_verified
    emails = {e.lower() for e in user.emailaddress_set.values_list("email", flat=True)}
    if user.email:
        emails.add(user.email.lower())
    return invitation.email.lower() in emails


def family_invitation_accept(*, token: str, user: User, ip_address: str | None = None) -> Guardian:
    """Join the inviting family as a guardian.

    The link is a secret sent to one phone or email; it works only for an
    account with that (verified) phone number or that email address, so a
    forwarded link cannot be used by somebody else.
    """
    with transaction.atomic():
        # The person first, as family set-up does: a set-up sent from another
        # phone at the same moment waits, and one of the two is told
        # already_in_family instead of meeting the one-guardian key as a 500.
        _user_lock(user)
        invitation = FamilyInvitation.objects.select_for_update().filter(token=token).first()
        if invitation is None or not invitation.is_open:
            raise MembersError("invitation_invalid")
        existing = Guardian.objects.filter(user=user).first()
        if existing is not None:
            if existing.family_id == invitation.family_id:
                raise MembersError("invitation_own_family")
            raise MembersError("already_in_family")
        if not _user_matches_invitation(user, invitation):
            contact = (
                mask_phone(invitation.phone)
                if invitation.phone
                else (mask_email(invitation.email) or "***")
            )
            raise MembersError("invitation_not_for_you", contact=contact)
        guardian = Guardian.objects.create(
            user=user,
            family=invitation.family,
            relation=invitation.relation,
            phone=user.phone or "",
            home_community=invitation.family.home_community,
        )
        invitation.accepted_at = timezone.now()
        invitation.save(update_fields=["accepted_at"])
        audit_log_record(
            actor=user,
            action="members.invitation.accept",
            target=invitation,
            data={"family_id": invitation.family_id},
            ip_address=ip_address,
        )
    user.__dict__.pop("_guardian_cache", None)
    return guardian


def family_invitation_withdraw(*, invitation: FamilyInvitation, actor: User) -> None:
    """Withdraw an open invitation: it expires now, the row stays for the record."""
    with transaction.atomic():
        invitation.expires_at = timezone.now()
        invitation.save(update_fields=["expires_at"])
        audit_log_record(actor=actor, action="members.invitation.withdraw", target=invitation)


# --- rosters: a family's full phone number, shown to the session's own staff --------


def guardian_phones_reveal(
    *,
    actor: User,
    guardians: list[Guardian],
    about: models.Model,
    ip_address: str | None = None,
) -> list[Guardian]:
    """Record that ``actor`` is shown the full phone numbers of ``guardians`` on the
    roster of ``about`` (a course session or an event): one audit entry per number,
    naming whose phone and which session. Returns the guardians that have one.

    The caller has checked that ``actor`` is the staff of ``about`` and that the
    guardians belong to a booking on it (members/access.py scopes the roster).
    Each person may be shown ``ROSTER_PHONE_REVEALS_PER_HOUR`` numbers an hour;
    past that, ``MembersError("phone_reveal_limit")`` and nothing is written.
    """
    from .selectors import PHONE_REVEAL_ACTION, phone_reveals_in_last_hour

    with_phone = [guardian for guardian in guardians if guardian.phone]
    if not with_phone:
        return []
    limit = settings.ROSTER_PHONE_REVEALS_PER_HOUR
    with transaction.atomic():
        # One person's reveals are counted one at a time, so two taps at once
        # cannot both slip under the cap.
        _user_lock(actor)
        if phone_reveals_in_last_hour(actor=actor) + len(with_phone) > limit:
            raise MembersError("phone_reveal_limit", limit=limit)
        for guardian in with_phone:
            audit_log_record(
                actor=actor,
                action=PHONE_REVEAL_ACTION,
                target=guardian,
                data={
                    "phone": mask_phone(guardian.phone),
                    "about_type": about._meta.label,
                    "about_id": about.pk,
                    "about": str(about)[:200],
                },
                ip_address=ip_address,
            )
    return with_phone


# --- accounts: sessions, disabling, deletion -------------------------------------


def user_sessions_end(*, user: User) -> int:
    """End every tracked server-side session of ``user``. Returns how many ended."""
    from allauth.usersessions.models import UserSession

    ended = 0
    for session in UserSession.objects.filter(user_id=user.pk):
        session.end()
        ended += 1
    return ended


def user_deactivate(
    *, user: User, actor=None, reason: str = "", ip_address: str | None = None
) -> int:
    """Disable an account: it can no longer sign in and all its sessions end.

    The admin (a change of ``is_active``) reaches the same session ending
    through the receiver in members/receivers.py. Returns the sessions ended.
    """
    with transaction.atomic():
        ended = user_sessions_end(user=user)
        if user.is_active:
            user.is_active = False
            user.save(update_fields=["is_active"])
        audit_log_record(
            actor=actor,
            action="members.user.deactivate",
            target=user,
            data={"reason": reason, "sessions_ended": ended},
            ip_address=ip_address,
        )
    return ended


def data_export_record(*, user: User, fmt: str, ip_address: str | None = None) -> None:
    """Audit a "my data" download."""
    from .selectors import family_for_user

    family = family_for_user(user)
    audit_log_record(
        actor=user,
        action="members.family_data.export",
        target=family or user,
        data={"format": fmt},
        ip_address=ip_address,
    )


def account_delete(*, user: User, ip_address: str | None = None) -> dict[str, Any]:
    """Delete a guardian's account and personal data.

    - The user row goes, and with it the guardian profile, email addresses,
      sessions and inbox (each app's ``on_delete`` decides; see docs/ACCOUNTS.md).
    - If no other guardian remains, the family goes too: children, invitations.
      Bookings, attendance and credits point at the family with SET_NULL, so
      they stay as anonymous rows and term statistics do not change.
    - If a co-guardian remains, the family and children stay with them.
    """
    family_deleted = False
    with transaction.atomic():
        guardian = Guardian.objects.select_related("family").filter(user=user).first()
        family = guardian.family if guardian else None
        other_guardians = (
            Guardian.objects.filter(family=family).exclude(user=user).count() if family else 0
        )
        summary = {
            "family_id": family.pk if family else None,
            "family_deleted": bool(family and other_guardians == 0),
            "children_deleted": (
                Child.objects.filter(family=family).count()
                if family and other_guardians == 0
                else 0
            ),
            "remaining_guardians": other_guardians,
        }
        # Written first: the entry keeps the (random, non-personal) username as its label.
        audit_log_record(
            actor=user,
            action="members.account.delete",
            target=family or user,
            data=summary,
            ip_address=ip_address,
        )
        user_sessions_end(user=user)
        try:
            if family is not None and other_guardians == 0:
                family.delete()
                family_deleted = True
            user.delete()
        except ProtectedError as exc:
            raise MembersError("account_has_duties") from exc
    logger.info("account deleted: family_deleted=%s", family_deleted)
    return summary


# --- API tokens (docs/API.md) -------------------------------------------------------

MAX_LIVE_TOKENS = 20


def api_token_hash(raw: str) -> str:
    import hashlib

    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def api_token_create(
    *,
    user: User,
    name: str,
    scopes: list[str],
    unit: MemberUnit | None = None,
    expires_at: datetime.datetime | None = None,
    ip_address: str | None = None,
) -> tuple[ApiToken, str]:
    """A new token for ``user`` (or, with ``unit``, a check-in device token that
    ``user`` hands to a kiosk of that unit). Returns the row and the token
    itself, which is shown once and never stored."""
    import secrets

    from .access import can_change_unit

    name = (name or "").strip()[:60]
    if not name:
        raise MembersError("token_name_required")
    wanted = sorted(set(scopes or []))
    if not wanted or not set(wanted) <= set(ApiToken.Scope.values):
        raise MembersError("token_bad_scopes")
    if unit is not None:
        if wanted != [ApiToken.Scope.CHECKIN]:
            raise MembersError("token_device_scopes")
        if not can_change_unit(user, unit):
            raise MembersError("token_device_unit")
    with transaction.atomic():
        _user_lock(user)
        live = ApiToken.objects.filter(user=user, revoked_at__isnull=True).count()
        if live >= MAX_LIVE_TOKENS:
            raise MembersError("token_too_many", limit=MAX_LIVE_TOKENS)
        prefix = secrets.token_hex(4)
        raw = f"alp_{prefix}_{secrets.token_urlsafe(32)}"
        token = ApiToken.objects.create(
            user=user,
            kind=ApiToken.Kind.DEVICE if unit is not None else ApiToken.Kind.USER,
            unit=unit,
            name=name,
            prefix=prefix,
            key_hash=api_token_hash(raw),
            scopes=" ".join(wanted),
            expires_at=expires_at,
        )
        audit_log_record(
            actor=user,
            action="members.api_token.create",
            target=token,
            data={"scopes": wanted, "unit": unit.pk if unit is not None else None},
            ip_address=ip_address,
        )
    return token, raw


def api_token_revoke(*, token: ApiToken, actor: User, ip_address: str | None = None) -> bool:
    """Revoke at once: the next request with the token is refused. The owner,
    a district administrator, or (for a device) whoever may change its unit may
    revoke. Returns False if it was already revoked."""
    from .access import can_change_unit, sees_every_district

    allowed = (
        token.user_id == actor.pk
        or actor.is_superuser
        or sees_every_district(actor)
        or (token.unit_id is not None and can_change_unit(actor, token.unit_id))
    )
    if not allowed:
        raise MembersError("token_not_yours")
    revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if revoked:
        audit_log_record(
            actor=actor, action="members.api_token.revoke", target=token, ip_address=ip_address
        )
    return bool(revoked)


# A token's "last used" moment is written at most this often, not on every request.
TOKEN_TOUCH_EVERY = datetime.timedelta(minutes=5)


def api_token_touch(*, token: ApiToken) -> None:
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= TOKEN_TOUCH_EVERY:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


# --- messages about a person's own account ------------------------------------------

ACCOUNT_MESSAGE_KINDS = ("verification_code", "unknown_account", "account_exists", "mail")


def _account_text(kind: str, code: str) -> str:
    if kind == "verification_code":
        minutes = max(1, settings.ACCOUNT_PHONE_VERIFICATION_TIMEOUT // 60)
        return _("【协同育人门户】您的验证码是 %(code)s，%(minutes)s分钟内有效。请勿告诉他人。") % {
            "code": code,
            "minutes": minutes,
        }
    if kind == "unknown_account":
        return _("【协同育人门户】该手机号尚未注册，请先注册账号。")
    return _("【协同育人门户】该手机号已注册，请直接登录。")


def account_message_send(
    *,
    kind: str,
    phone: str = "",
    email: str = "",
    code: str = "",
    user=None,
    mail: dict | None = None,
) -> None:
    """Send a message about the person's own account through the outbox.

    ``kind``: ``verification_code`` (needs ``code``), ``unknown_account``,
    ``account_exists`` (texts to ``phone``) or ``mail`` (to ``email``; ``mail``
    holds what allauth rendered: ``template``, ``subject``, ``body``, ``html``,
    ``from_email``). The words are rendered now, in the request's language; the
    secret part (the code, a link with a key: the whole rendered content) goes
    to a short-lived cache entry (``ACCOUNT_PHONE_VERIFICATION_TIMEOUT``), never
    to the outbox row, which names only the kind and the masked address. The
    ``account_message_requested`` signal makes events write the row (one per
    message, unique by its random key) in the caller's transaction; a worker
    sends it once that commits, without quiet hours (a code is asked for now).
    A message whose entry expired before a worker got to it is skipped.
    """
    import secrets

    from django.core.cache import cache

    from .selectors import ACCOUNT_MESSAGE_CACHE_PREFIX

    if kind not in ACCOUNT_MESSAGE_KINDS:
        raise ValueError(f"unknown account message kind {kind!r}")
    if kind == "mail":
        if not email or not mail:
            raise ValueError("an account mail needs an address and its rendered content")
        content = {
            "subject": mail.get("subject", ""),
            "body": mail.get("body", ""),
            "html": mail.get("html", ""),
            "from_email": mail.get("from_email", ""),
        }
        phone = ""
    else:
        if not phone:
            raise ValueError("an account text needs a phone number")
        if kind == "verification_code" and not code:
            raise ValueError("a verification code text needs the code")
        content = {"sms": _account_text(kind, code)}
        email = ""
    if user is not None and (not isinstance(user, User) or user.pk is None):
        user = None
    message_key = secrets.token_hex(16)
    cache.set(
        ACCOUNT_MESSAGE_CACHE_PREFIX + message_key,
        content,
        timeout=settings.ACCOUNT_PHONE_VERIFICATION_TIMEOUT,
    )
    signals.account_message_requested.send(
        sender=User,
        message_key=message_key,
        kind=kind,
        template=(mail or {}).get("template", ""),
        phone=phone,
        email=email,
        user=user,
    )
