"""Writes for the wechat app: sign-in from the mini-program, binding an openid to
an account, the subscription ledger and the one send path (docs/WECHAT.md).

The API (api/wechat.py), the admin and the outbox call these; nothing else
writes the app's rows.
"""

from __future__ import annotations

import datetime
import enum
import hashlib
import logging
import secrets
from dataclasses import dataclass

from allauth.account import app_settings as allauth_settings
from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from members.adapters import normalise_cn_mobile
from members.models import ApiToken, ConsentRecord, User
from members.services import (
    api_token_create,
    api_token_revoke,
    audit_log_record,
    consent_record,
)
from members.sms import mask_phone
from notifications.services import notification_wechat_off

from .client import Session, get_client
from .errors import WeChatError, WeChatNoAnswer, WeChatRuleError
from .models import SubscriptionGrant, SubscriptionTemplate, WeChatIdentity
from .selectors import subscription_template_for, wechat_identity_for
from .values import template_data

logger = logging.getLogger("wechat")

TICKET_SALT = "wechat.binding"
TOKEN_NAME = "微信小程序"
TOKEN_SCOPES = [ApiToken.Scope.READ, ApiToken.Scope.WRITE]
# One wx.requestSubscribeMessage call asks for at most 5 templates (WeChat's limit).
MAX_RESULTS = 5


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- sign-in ------------------------------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    """A sign-in's outcome: the bound ``user``, or a ``ticket`` to bind a phone with."""

    user: User | None = None
    ticket: str = ""


@dataclass(frozen=True)
class Binding:
    """What a binding ticket carries (the session_key stays in the server's cache)."""

    app_id: str
    openid: str
    unionid: str


def _ticket_make(app_id: str, session: Session) -> str:
    # The session_key's hash waits in the cache for the binding (never in the ticket).
    cache.set(
        f"wechat:pending-session:{app_id}:{session.openid}",
        _hash(session.session_key),
        timeout=settings.WECHAT_BINDING_MINUTES * 60,
    )
    payload = {"a": app_id, "o": session.openid, "u": session.unionid}
    return signing.dumps(payload, salt=TICKET_SALT, compress=True)


def _ticket_read(ticket: str) -> Binding:
    try:
        payload = signing.loads(
            ticket or "", salt=TICKET_SALT, max_age=settings.WECHAT_BINDING_MINUTES * 60
        )
        return Binding(app_id=payload["a"], openid=payload["o"], unionid=payload.get("u", ""))
    except (signing.BadSignature, KeyError, TypeError):
        raise WeChatRuleError("ticket_invalid", field="ticket") from None


def wechat_sign_in(*, js_code: str, ip_address: str | None = None) -> SignIn:
    """Exchange a ``wx.login`` code (code2Session). A bound openid signs its user in;
    an unknown one gets a binding ticket (valid ``WECHAT_BINDING_MINUTES``) for
    :func:`wechat_bind_by_sms` or :func:`wechat_bind_by_phone_button`.

    WeChat's refusals (40029 bad code, 45011 too often, 40226 risky user) are
    raised as :class:`WeChatError` with their message for parents."""
    client = get_client()
    session = client.code_to_session((js_code or "").strip())
    identity = (
        WeChatIdentity.objects.select_related("user")
        .filter(app_id=client.app_id, openid=session.openid)
        .first()
    )
    if identity is None:
        return SignIn(ticket=_ticket_make(client.app_id, session))
    if not identity.user.is_active:
        raise WeChatRuleError("account_inactive")
    fields = {"last_login_at": timezone.now(), "session_key_hash": _hash(session.session_key)}
    if session.unionid and session.unionid != identity.unionid:
        fields["unionid"] = session.unionid
    WeChatIdentity.objects.filter(pk=identity.pk).update(**fields)
    return SignIn(user=identity.user)


def wechat_token_issue(*, user: User, ip_address: str | None = None) -> str:
    """A new read+write API token for the mini-program; the user's earlier
    mini-program tokens are revoked (one live token per mini-program sign-in).
    Returns the token itself (shown once)."""
    earlier = ApiToken.objects.filter(user=user, name=TOKEN_NAME, revoked_at__isnull=True)
    for token in earlier:
        api_token_revoke(token=token, actor=user, ip_address=ip_address)
    _token, raw = api_token_create(
        user=user,
        name=TOKEN_NAME,
        scopes=list(TOKEN_SCOPES),
        expires_at=timezone.now() + datetime.timedelta(days=settings.WECHAT_TOKEN_DAYS),
        ip_address=ip_address,
    )
    return raw


# --- phone verification by SMS ---------------------------------------------------------


def _rates(spec: str) -> list[tuple[int, int, str]]:
    """allauth's rate syntax ("1/30s/key,3/m/ip") → [(amount, seconds, scope)]."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    rates = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        amount, duration, scope = (part.split("/") + ["key"])[:3]
        number = duration[:-1] if duration[-1] in units else duration
        unit = duration[-1] if duration[-1] in units else "s"
        rates.append((int(amount), int(number or 1) * units[unit], scope))
    return rates


def _resend_limit(*, phone: str, ip_address: str | None) -> None:
    # The same limits as allauth's phone codes (ACCOUNT_RATE_LIMITS["verify_phone"]).
    spec = settings.ACCOUNT_RATE_LIMITS.get("verify_phone", "1/30s/key")
    for amount, seconds, scope in _rates(spec):
        ident = phone if scope in ("key", "user") else ip_address
        if not ident:
            continue
        key = f"wechat:sms-rate:{scope}:{seconds}:{ident}"
        cache.add(key, 0, timeout=seconds)
        try:
            used = cache.incr(key)
        except ValueError:  # expired between add and incr: a new window
            cache.set(key, 1, timeout=seconds)
            used = 1
        if used > amount:
            raise WeChatRuleError("sms_code_wait", field="phone", seconds=seconds)


def _code_key(binding: Binding, phone: str) -> str:
    return f"wechat:sms-code:{binding.app_id}:{binding.openid}:{phone}"


def _code_digest(binding: Binding, phone: str, code: str) -> str:
    return salted_hmac("wechat.sms-code", f"{binding.openid}:{phone}:{code}").hexdigest()


def _phone(phone: str) -> str:
    normalised = normalise_cn_mobile(phone or "")
    if normalised is None:
        raise WeChatRuleError("phone_invalid", field="phone")
    return normalised


def wechat_phone_code_send(*, ticket: str, phone: str, ip_address: str | None = None) -> int:
    """Text a 6-digit code to ``phone`` for binding the ticket's openid. Only the
    code's keyed hash is kept (in the cache, for ACCOUNT_PHONE_VERIFICATION_TIMEOUT
    seconds, with allauth's attempt limit); the text goes through the outbox.
    Returns the seconds the code stays valid."""
    binding = _ticket_read(ticket)
    phone = _phone(phone)
    _resend_limit(phone=phone, ip_address=ip_address)
    code = f"{secrets.randbelow(10**6):06d}"
    timeout = allauth_settings.PHONE_VERIFICATION_TIMEOUT
    cache.set(_code_key(binding, phone), {"digest": _code_digest(binding, phone, code)}, timeout)
    cache.delete(_code_key(binding, phone) + ":attempts")
    # members.services.account_message_send: account texts through the outbox.
    from members.services import account_message_send

    account_message_send(kind="verification_code", phone=phone, code=code)
    return timeout


def _code_check(binding: Binding, phone: str, code: str) -> None:
    key = _code_key(binding, phone)
    entry = cache.get(key)
    if entry is None:
        raise WeChatRuleError("sms_code_expired", field="sms_code")
    attempts_key = key + ":attempts"
    cache.add(attempts_key, 0, timeout=allauth_settings.PHONE_VERIFICATION_TIMEOUT)
    if cache.incr(attempts_key) > allauth_settings.PHONE_VERIFICATION_MAX_ATTEMPTS:
        cache.delete(key)
        raise WeChatRuleError("sms_code_attempts", field="sms_code")
    if not constant_time_compare(entry["digest"], _code_digest(binding, phone, code.strip())):
        raise WeChatRuleError("sms_code_wrong", field="sms_code")
    # One use: of two requests with the right code, only the one that deletes it goes on.
    if not cache.delete(key):
        raise WeChatRuleError("sms_code_expired", field="sms_code")


# --- binding ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Bound:
    user: User
    created: bool  # a new parent account was made


def _bind_once(
    binding: Binding, phone: str, session_key_hash: str, ip_address: str | None
) -> Bound:
    with transaction.atomic():
        identity = (
            WeChatIdentity.objects.select_related("user")
            .filter(app_id=binding.app_id, openid=binding.openid)
            .first()
        )
        if identity is not None:
            # Already bound (a double tap, or a retried request): the same account.
            return Bound(user=identity.user, created=False)
        user = User.objects.filter(phone=phone).first()
        created = user is None
        if created:
            user = User(username=f"u{secrets.token_hex(6)}", phone=phone, phone_verified=True)
            user.set_unusable_password()
            user.save()
            audit_log_record(
                actor=user,
                action="wechat.account.create",
                target=user,
                data={"via": "wechat"},
                ip_address=ip_address,
            )
        else:
            if not user.is_active:
                raise WeChatRuleError("account_inactive")
            if not user.phone_verified:
                # The number's owner just proved it: the account's number is verified.
                User.objects.filter(pk=user.pk).update(phone_verified=True)
                user.phone_verified = True
            old = WeChatIdentity.objects.filter(user=user).first()
            if old is not None:
                # The account's owner (by phone) moves to another WeChat user.
                old.delete()
                audit_log_record(
                    actor=user,
                    action="wechat.identity.replace",
                    target=user,
                    data={"old_openid": old.openid[:6]},
                    ip_address=ip_address,
                )
        identity = WeChatIdentity.objects.create(
            user=user,
            app_id=binding.app_id,
            openid=binding.openid,
            unionid=binding.unionid,
            session_key_hash=session_key_hash,
            last_login_at=timezone.now(),
        )
        audit_log_record(
            actor=user,
            action="wechat.identity.bind",
            target=identity,
            data={"phone": mask_phone(phone), "new_account": created},
            ip_address=ip_address,
        )
    return Bound(user=user, created=created)


def _bind(binding: Binding, phone: str, *, agree_privacy: bool, ip_address: str | None) -> Bound:
    """Bind the openid to the account with ``phone`` (made if there is none).

    Two simultaneous first calls meet at the unique keys (openid per app, one
    identity per user, one account per phone): the loser's savepoint takes its
    half-made rows back and the next round finds the winner's. ``agree_privacy``:
    the parent agreed to the privacy policy in the mini-program (recorded as the
    website's sign-up records it)."""
    session_key_hash = cache.get(f"wechat:pending-session:{binding.app_id}:{binding.openid}", "")
    for _round in range(3):
        try:
            bound = _bind_once(binding, phone, session_key_hash, ip_address)
            break
        except IntegrityError:
            continue
    else:
        bound = _bind_once(binding, phone, session_key_hash, ip_address)
    if agree_privacy:
        consent_record(
            user=bound.user, document=ConsentRecord.Document.PRIVACY, ip_address=ip_address
        )
    return bound


def wechat_bind_by_sms(
    *,
    ticket: str,
    phone: str,
    code: str,
    agree_privacy: bool = False,
    ip_address: str | None = None,
) -> Bound:
    """Bind with the code texted by :func:`wechat_phone_code_send`."""
    binding = _ticket_read(ticket)
    phone = _phone(phone)
    _code_check(binding, phone, code or "")
    return _bind(binding, phone, agree_privacy=agree_privacy, ip_address=ip_address)


def wechat_bind_by_phone_button(
    *,
    ticket: str,
    phone_code: str,
    agree_privacy: bool = False,
    ip_address: str | None = None,
) -> Bound:
    """Bind with the number WeChat's phone button verified (getPhoneNumber)."""
    binding = _ticket_read(ticket)
    number = get_client().phone_number((phone_code or "").strip())
    phone = normalise_cn_mobile(number)
    if phone is None:
        raise WeChatRuleError("phone_not_mainland", field="phone_code")
    return _bind(binding, phone, agree_privacy=agree_privacy, ip_address=ip_address)


def wechat_identity_unbind(*, identity: WeChatIdentity, actor, ip_address: str | None = None):
    """Forget a binding (the admin's action): the next sign-in asks for the phone again."""
    user = identity.user
    identity.delete()
    audit_log_record(
        actor=actor, action="wechat.identity.unbind", target=user, ip_address=ip_address
    )


# --- the subscription ledger ---------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    accepted: int
    refused: int
    ignored: list[str]


def subscription_results_record(*, user: User, results: dict[str, str]) -> Recorded:
    """What ``wx.requestSubscribeMessage`` answered, as the mini-program reports it:
    one grant per "accept"; "reject" and "ban" are recorded as refusals and turn
    the person's WeChat channel off (``notification_wechat_off``); "filter" (WeChat dropped a template with a
    duplicate title) and unknown template ids are ignored."""
    if len(results) > MAX_RESULTS:
        raise WeChatRuleError("results_too_many", field="results", limit=MAX_RESULTS)
    # Only ids that can be ours are looked up (PostgreSQL text refuses NUL characters).
    candidates = [t for t in results if len(t) <= 64 and "\x00" not in t]
    known = set(
        SubscriptionTemplate.objects.filter(template_id__in=candidates).values_list(
            "template_id", flat=True
        )
    )
    rows, ignored = [], []
    for template_id, answer in results.items():
        if template_id not in known or answer not in SubscriptionGrant.Answer.values:
            ignored.append(template_id)
            continue
        rows.append(
            SubscriptionGrant(
                user=user,
                template_id=template_id,
                answer=answer,
                refused=answer != SubscriptionGrant.Answer.ACCEPT,
            )
        )
    SubscriptionGrant.objects.bulk_create(rows)
    refused = sum(1 for row in rows if row.refused)
    if refused:
        # A refusal in WeChat: the outbox stops planning WeChat rows for this person.
        notification_wechat_off(user=user)
    return Recorded(accepted=len(rows) - refused, refused=refused, ignored=ignored)


class DeliverOutcome(enum.StrEnum):
    SENT = "sent"  # WeChat took it (or its answer was lost after sending: at most once)
    NO_GRANT = "no_grant"  # no template, identity or acceptance left: use SMS or the inbox
    REFUSED = "refused"  # 43101: the user refused; their WeChat channel is turned off
    RETRY = "retry"  # WeChat busy or unreachable: the grant is back, try again later
    FAILED = "failed"  # WeChat refused the message itself (template, data, page)


def _spend(user: User, template_id: str, reference: str) -> SubscriptionGrant | None:
    with transaction.atomic():
        grant = (
            SubscriptionGrant.objects.filter(
                user=user, template_id=template_id, spent_at__isnull=True, refused=False
            )
            .order_by("accepted_at", "pk")
            .select_for_update(skip_locked=True)
            .first()
        )
        if grant is None:
            return None
        grant.spent_at = timezone.now()
        grant.spent_for = reference[:64]
        grant.save(update_fields=["spent_at", "spent_for"])
    return grant


def _give_back(grant: SubscriptionGrant, note: str) -> None:
    SubscriptionGrant.objects.filter(pk=grant.pk).update(spent_at=None, spent_for="", note=note)


def subscription_deliver(
    *, user: User, kind: str, values: dict[str, str], reference: str
) -> DeliverOutcome:
    """Send one subscription message of ``kind`` to ``user``, spending one grant.

    Called by the outbox's send task, outside any transaction that holds locks.
    The grant is committed as spent before WeChat is called (like the texts of
    events/reminders.py): a crash after that loses the message rather than
    sending it twice. ``values`` are the portal's texts by name (title,
    starts_at as ISO 8601, venue, note …), shaped to WeChat's limits through the
    template's field mapping."""
    template = subscription_template_for(kind)
    identity = wechat_identity_for(user)
    if template is None or identity is None:
        return DeliverOutcome.NO_GRANT
    try:
        data = template_data(template.field_map, values)
    except ValueError as error:
        logger.warning("subscription template %s cannot carry %s: %s", kind, reference, error)
        return DeliverOutcome.FAILED
    grant = _spend(user, template.template_id, reference)
    if grant is None:
        return DeliverOutcome.NO_GRANT
    # Committed as spent: now (and only now) the message goes.
    try:
        get_client().send_subscribe_message(
            openid=identity.openid,
            template_id=template.template_id,
            page=template.page,
            data=data,
            state=settings.WECHAT_MINIPROGRAM_STATE,
        )
    except WeChatNoAnswer as error:
        # It may have gone: keep the grant spent (at most once).
        logger.warning("no WeChat answer for %s: %s", reference, error)
        SubscriptionGrant.objects.filter(pk=grant.pk).update(note=str(error)[:200])
        return DeliverOutcome.SENT
    except WeChatError as error:
        if error.errcode == 43101:
            # WeChat has nothing left for this user and template: the rest of our
            # count is void too, and the guardian's WeChat channel is turned off.
            with transaction.atomic():
                SubscriptionGrant.objects.filter(pk=grant.pk).update(refused=True, note="43101")
                SubscriptionGrant.objects.filter(
                    user=user,
                    template_id=template.template_id,
                    spent_at__isnull=True,
                    refused=False,
                ).update(refused=True, note="43101")
                notification_wechat_off(user=user)
            return DeliverOutcome.REFUSED
        # WeChat answered an error: nothing was delivered, so the grant is still good.
        _give_back(grant, note=f"{error.errcode} {error.errmsg}"[:200])
        if error.transient:
            return DeliverOutcome.RETRY
        logger.warning("WeChat refused %s: %s", reference, error)
        return DeliverOutcome.FAILED
    return DeliverOutcome.SENT
