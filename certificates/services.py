"""Writes for certificates: every change of a certificate, a batch, a rule, a
design or a preference goes through one of these functions (views, admin, API,
tasks and commands all call them)."""

from __future__ import annotations

import datetime
import io
import logging
import secrets
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from bookings.locking import bounded_atomic
from events.services import notice_send
from members.commit import after_commit
from members.formatting import id_or_none
from members.models import Alliance
from members.services import audit_log_record
from parent_school.models import Term

from . import eligibility
from .errors import CertificateError
from .models import (
    RULE_KINDS,
    Certificate,
    CertificateBatch,
    CertificateDesign,
    CertificatePreference,
    CertificateRule,
    Kind,
)
from .selectors import can_issue_for, certificates_manageable_by

# SECTION issuance (helper C)
#
# Issuing is once per person and reason: ``Certificate.key`` with revision 1 is
# unique, so the first insert wins and a second caller at the same instant waits
# for it and then finds its row (``INSERT … ON CONFLICT DO NOTHING``). The signed
# credential is written in the same transaction; the holder is told through the
# outbox; the PDF is rendered by a worker after the commit (or on demand).

logger = logging.getLogger(__name__)

NOTICE_TOPIC = "certificates"
REASON_MAX = 200
#: Fields of a rule that ``rule_update`` sets.
RULE_FIELDS = (
    "is_active",
    "attendance_percent",
    "lessons_required",
    "credits_min",
    "hours_min",
    "mentions_child",
)
_THRESHOLD_MAX = Decimal("99999.9")


def issuing_transaction():
    """``atomic()`` with bounded lock waits; a lock timeout becomes CertificateError("busy")."""
    return bounded_atomic(lambda: CertificateError("busy"))


def _mine_path() -> str:
    try:
        return reverse("certificates:mine")
    except NoReverseMatch:  # the holder pages are not mounted (an app left out)
        return ""


def _holder_ids(certificate: Certificate) -> dict:
    # A family's certificate is told to every guardian of the family; a volunteer's
    # to the volunteer, a transcript to the guardian it names.
    if certificate.family_id and certificate.kind != Kind.TRANSCRIPT:
        return {"family_ids": [certificate.family_id]}
    return {"user_ids": [certificate.user_id] if certificate.user_id else []}


def _title(certificate: Certificate) -> str:
    return f"{certificate.get_kind_display()} · {certificate.subject_title}"


def _current(key: str) -> Certificate | None:
    return (
        Certificate.objects.select_related("alliance", "unit", "term")
        .filter(key=key)
        .exclude(status=Certificate.Status.SUPERSEDED)
        .first()
    )


def _render_enqueue(certificate_id: int) -> None:
    from .tasks import certificate_render as render_task

    render_task.delay(certificate_id)


def _sign(certificate: Certificate) -> None:
    from .credentials import credential_for

    certificate.credential = credential_for(certificate)
    certificate.save(update_fields=["credential"])


def certificate_issue(
    *, candidate, alliance, term, batch=None, issued_on=None, data=None
) -> tuple[Certificate, bool]:
    """Write the certificate of ``candidate`` (an ``eligibility.Candidate``) unless
    its key already has one: (certificate, created). A key that has one (valid,
    revoked or re-issued) gets nothing new: the current revision is returned. Two
    simultaneous first calls write one row. The row carries the signed credential;
    the holder is told once (outbox key ``certificates.issued:<id>``) and the PDF
    is rendered after the commit."""
    alliance_id = alliance if isinstance(alliance, int) else alliance.pk
    term_id = term if term is None or isinstance(term, int) else term.pk
    existing = _current(candidate.key)
    if existing is not None:
        return existing, False
    for _attempt in range(3):
        with issuing_transaction():
            # 1, unless the key's rows are all replaced (a transcript whose rows
            # came back to an earlier state): then the next revision.
            latest = (
                Certificate.objects.filter(key=candidate.key)
                .order_by("-revision")
                .values_list("revision", flat=True)
                .first()
            )
            row = Certificate(
                key=candidate.key,
                revision=(latest or 0) + 1,
                kind=candidate.kind,
                alliance_id=alliance_id,
                unit_id=candidate.unit_id,
                term_id=term_id,
                family_id=candidate.family_id,
                user_id=candidate.user_id,
                holder_name=candidate.holder_name[:60],
                child_nickname=(candidate.child_nickname or "")[:20],
                subject_title=candidate.subject_title[:200],
                course_id=candidate.course_id,
                credits=candidate.credits,
                hours=candidate.hours,
                data=data or {},
                issued_on=issued_on or timezone.localdate(),
                batch=batch,
            )
            # No conflict target: the key's revision 1, its one current row and
            # the code are all unique; whichever is taken, nothing is written.
            Certificate.objects.bulk_create([row], ignore_conflicts=True)
            current = _current(candidate.key)
            if current is None:
                continue  # only the random code collided (about 1 in 10^15): a new one
            if current.code != row.code:
                return current, False  # another caller's row, committed first
            _sign(current)
            notice_send(
                key=f"certificates.issued:{current.pk}",
                topic=NOTICE_TOPIC,
                subject=_("您获得了一份证书：%(title)s") % {"title": current.subject_title},
                lead=_(
                    "%(unit)s为您颁发了「%(title)s」。可在「我的证书」下载 PDF；"
                    "证书上的二维码可供任何人扫码验证。"
                )
                % {"unit": current.unit.name, "title": _title(current)},
                path=_mine_path(),
                unit=current.unit_id,
                **_holder_ids(current),
            )
            after_commit(_render_enqueue, current.pk)
            return current, True
    raise CertificateError("busy")


def certificate_render(*, certificate_id: int) -> Certificate:
    """Render the certificate's PDF (documents.certificate_pdf) and store it as
    ``certificates/pdf/<uuid>.pdf``; a second render replaces the file."""
    from .documents import certificate_pdf

    certificate = (
        Certificate.objects.select_related("alliance", "unit", "term", "course")
        .filter(pk=certificate_id)
        .first()
    )
    if certificate is None:
        raise CertificateError("certificate_missing")
    content = certificate_pdf(certificate)  # slow: outside any lock
    field = certificate.pdf
    name = field.field.generate_filename(certificate, f"{certificate.uuid}.pdf")
    if field.storage.exists(name):
        field.storage.delete(name)
    stored = field.storage.save(name, ContentFile(content))
    now = timezone.now()
    Certificate.objects.filter(pk=certificate.pk).update(pdf=stored, pdf_rendered_at=now)
    certificate.pdf.name, certificate.pdf_rendered_at = stored, now
    return certificate


def certificate_pdf_ensure(certificate: Certificate) -> Certificate:
    """The certificate with its PDF: rendered now if the worker has not yet (a
    holder downloading right after issue) or the file is gone."""
    if certificate.pdf and certificate.pdf.storage.exists(certificate.pdf.name):
        return certificate
    return certificate_render(certificate_id=certificate.pk)


# --- batches ----------------------------------------------------------------------


def _id(value) -> int | None:
    # A row, or an id from a form or a task: never a database error for a bad one.
    return id_or_none(getattr(value, "pk", value))


def _active_rules(alliance_id: int) -> list[CertificateRule]:
    order = {kind.value: i for i, kind in enumerate(RULE_KINDS)}
    rules = CertificateRule.objects.filter(alliance_id=alliance_id, is_active=True)
    return sorted(rules, key=lambda rule: order[rule.kind])


def _batch_enqueue(batch_id: int) -> None:
    from .tasks import batch_run

    batch_run.delay(batch_id)


def _open_batch(alliance_id: int, term_id: int, trigger: str) -> CertificateBatch | None:
    rows = CertificateBatch.objects.filter(alliance_id=alliance_id, term_id=term_id)
    found = rows.filter(
        status__in=[CertificateBatch.Status.QUEUED, CertificateBatch.Status.RUNNING]
    )
    if trigger == CertificateBatch.Trigger.TERM_END:
        found = found | rows.filter(trigger=CertificateBatch.Trigger.TERM_END)
    return found.order_by("-created_at", "-id").first()


def batch_start(*, alliance, term, trigger, user=None) -> CertificateBatch:
    """Queue an issuing run of the alliance's active rules for ``term``. A manual
    run needs ``can_issue_for``; while a run of the alliance and term is open it
    is returned instead of a second one (the button pressed twice is one run), and
    the term-end run happens once per alliance and term. Workers start after the
    commit (tasks.batch_run)."""
    if trigger not in CertificateBatch.Trigger.values:
        raise CertificateError("trigger_invalid")
    alliance_id, term_id = _id(alliance), _id(term)
    if trigger == CertificateBatch.Trigger.MANUAL:
        if user is None or alliance_id is None or not can_issue_for(user, alliance_id):
            raise CertificateError("alliance_missing", field="alliance")
    elif alliance_id is None or not Alliance.objects.filter(pk=alliance_id).exists():
        raise CertificateError("alliance_missing", field="alliance")
    if term_id is None or not Term.objects.filter(pk=term_id).exists():
        raise CertificateError("term_missing", field="term")
    if not _active_rules(alliance_id):
        raise CertificateError("no_rules")
    found = _open_batch(alliance_id, term_id, trigger)
    if found is not None:
        return found
    try:
        with issuing_transaction():
            batch = CertificateBatch.objects.create(
                alliance_id=alliance_id,
                term_id=term_id,
                trigger=trigger,
                requested_by=user if trigger == CertificateBatch.Trigger.MANUAL else None,
            )
            if trigger == CertificateBatch.Trigger.MANUAL:
                audit_log_record(
                    actor=user,
                    action="certificates.batch.start",
                    target=batch,
                    data={"alliance": alliance_id, "term": term_id},
                )
            after_commit(_batch_enqueue, batch.pk)
    except IntegrityError:
        # Another start at the same instant (or a term-end run while a manual one
        # is open): theirs is the run.
        found = _open_batch(alliance_id, term_id, trigger)
        if found is None:
            raise
        return found
    return batch


def _next_kind(rules: list[CertificateRule], kind: str) -> CertificateRule | None:
    order = [k.value for k in RULE_KINDS]
    position = order.index(kind) if kind in order else -1
    return next((r for r in rules if order.index(r.kind) > position), None)


def batch_run_chunk(*, batch_id: int, limit: int | None = None) -> bool:
    """Work one chunk of a batch in one transaction: up to ``limit``
    (CERTIFICATES_BATCH_CHUNK) candidates from where the cursor stands, each
    issued once (those already holding theirs are counted as skipped). True while
    more remains. A batch another worker is working right now is left to it."""
    limit = max(int(limit or settings.CERTIFICATES_BATCH_CHUNK), 1)
    with issuing_transaction():
        batch = (
            # of=self: the joined alliance and term rows stay unlocked (other
            # alliances' batches of the term, and every insert that references
            # them, go on meanwhile)
            CertificateBatch.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("alliance", "term")
            .filter(pk=batch_id)
            .first()
        )
        if batch is None or batch.status not in (
            CertificateBatch.Status.QUEUED,
            CertificateBatch.Status.RUNNING,
        ):
            return False
        rules = _active_rules(batch.alliance_id)
        if batch.status == CertificateBatch.Status.QUEUED:
            batch.status = CertificateBatch.Status.RUNNING
            batch.started_at = timezone.now()
            batch.total = sum(eligibility.candidate_count(rule, batch.term) for rule in rules)
            first = rules[0] if rules else None
            batch.cursor = {"kind": first.kind if first else "", "after": ""}
        kind, after = batch.cursor.get("kind", ""), batch.cursor.get("after", "")
        rule = next((r for r in rules if r.kind == kind), None) or _next_kind(rules, kind)
        if rule is not None and rule.kind != kind:
            after = ""
        remaining = limit
        while rule is not None and remaining > 0:
            found = eligibility.candidates(rule, batch.term, after=after, limit=remaining)
            held = set(
                Certificate.objects.filter(key__in=[c.key for c in found]).values_list(
                    "key", flat=True
                )
            )
            for candidate in found:
                created = False
                if candidate.key not in held:
                    _row, created = certificate_issue(
                        candidate=candidate, alliance=batch.alliance, term=batch.term, batch=batch
                    )
                batch.issued += int(created)
                batch.skipped += int(not created)
                batch.processed += 1
            remaining -= len(found)
            if remaining > 0:  # the rule's candidates are done: the next rule's
                rule, after = _next_kind(rules, rule.kind), ""
            else:
                after = found[-1].key
        batch.cursor = {"kind": rule.kind if rule else "", "after": after}
        batch.total = max(batch.total, batch.processed)
        if rule is None:
            batch.status = CertificateBatch.Status.DONE
            batch.finished_at = timezone.now()
        batch.save()
        return rule is not None


def batch_fail(*, batch_id: int, error: str) -> None:
    """Mark an open batch failed (a chunk raised); a coordinator may start another,
    which skips what was issued."""
    CertificateBatch.objects.filter(
        pk=batch_id,
        status__in=[CertificateBatch.Status.QUEUED, CertificateBatch.Status.RUNNING],
    ).update(
        status=CertificateBatch.Status.FAILED, error=str(error)[:200], finished_at=timezone.now()
    )


def term_end_batches(*, today: datetime.date | None = None) -> list[int]:
    """The beat's run: one term-end batch per alliance with active rules and per
    term that ended in the last CERTIFICATES_TERM_END_DAYS days (its last day is
    before ``today``), once. Returns the batches started (or found open)."""
    today = today or timezone.localdate()
    since = today - datetime.timedelta(days=settings.CERTIFICATES_TERM_END_DAYS)
    terms = list(
        Term.objects.filter(ends_on__lt=today, ends_on__gte=since).values_list("pk", flat=True)
    )
    alliance_ids = list(
        CertificateRule.objects.filter(is_active=True)
        .order_by("alliance_id")
        .values_list("alliance_id", flat=True)
        .distinct()
    )
    done = set(
        CertificateBatch.objects.filter(
            trigger=CertificateBatch.Trigger.TERM_END, term_id__in=terms
        ).values_list("alliance_id", "term_id")
    )
    started = []
    for term_id in terms:
        for alliance_id in alliance_ids:
            if (alliance_id, term_id) in done:
                continue
            try:
                batch = batch_start(
                    alliance=alliance_id, term=term_id, trigger=CertificateBatch.Trigger.TERM_END
                )
            except CertificateError as error:  # its rules were switched off meanwhile
                logger.info("no term-end batch for %s/%s: %s", alliance_id, term_id, error.code)
                continue
            started.append(batch.pk)
    return started


# --- revocation and re-issue ------------------------------------------------------


def _reason(reason, *, required: bool) -> str:
    reason = " ".join(str(reason or "").split())
    if required and not reason:
        raise CertificateError("reason_required", field="reason")
    if len(reason) > REASON_MAX:
        raise CertificateError("reason_too_long", field="reason", max=REASON_MAX)
    return reason


def _managed_valid(user, certificate) -> Certificate:
    """The certificate locked, if the user manages it (else a 404) and it is valid."""
    certificate_id = _id(certificate)
    if certificate_id is None:
        raise CertificateError("certificate_missing")
    locked = (
        certificates_manageable_by(user)
        .select_for_update(of=("self",))
        .select_related("alliance", "unit", "term")
        .filter(pk=certificate_id)
        .first()
    )
    if locked is None:
        raise CertificateError("certificate_missing")
    if not locked.can_be_changed:
        raise CertificateError("not_valid")
    return locked


def _status_list_changed(list_number: int) -> None:
    from .credentials import status_list_changed

    status_list_changed(list_number)


def verification_page_forget(code: str) -> None:
    """Drop the shared copies of a certificate's verification page (its status
    changed); the next visitor sees the new status at once."""
    from django.core.cache import cache

    from .selectors import verification_page_key

    cache.delete_many([verification_page_key(code, lang) for lang, _name in settings.LANGUAGES])


def certificate_revoke(*, user, certificate, reason: str) -> Certificate:
    """Revoke a valid certificate the user manages, with a reason (audit-logged;
    the public page shows the date only). The holder is told once (outbox key
    ``certificates.revoked:<id>``); the published status list changes after the
    commit."""
    reason = _reason(reason, required=True)
    with issuing_transaction():
        locked = _managed_valid(user, certificate)
        locked.status = Certificate.Status.REVOKED
        locked.revoked_at = timezone.now()
        locked.revoke_reason = reason
        locked.revoked_by = user
        locked.save(update_fields=["status", "revoked_at", "revoke_reason", "revoked_by"])
        audit_log_record(
            actor=user,
            action="certificates.certificate.revoke",
            target=locked,
            data={"code": locked.code, "key": locked.key, "reason": reason},
        )
        notice_send(
            key=f"certificates.revoked:{locked.pk}",
            topic=NOTICE_TOPIC,
            subject=_("您的一份证书已被撤销：%(title)s") % {"title": locked.subject_title},
            lead=_("%(unit)s撤销了您的「%(title)s」（验证码 %(code)s）。如有疑问，请联系%(unit)s。")
            % {"unit": locked.unit.name, "title": _title(locked), "code": locked.code_display},
            path=_mine_path(),
            unit=locked.unit_id,
            **_holder_ids(locked),
        )
        after_commit(_status_list_changed, locked.status_list_number)
        after_commit(verification_page_forget, locked.code)
    return locked


def _holder_name_now(old: Certificate) -> str:
    """The holder's name as the accounts say now (a re-issue often corrects it)."""
    user = old.user
    if user is None or old.kind == Kind.TRANSCRIPT:
        return old.holder_name
    fallback = _("志愿者") if old.kind == Kind.VOLUNTEER else ""
    if old.kind == Kind.VOLUNTEER:
        instructor = getattr(user, "instructor_profile", None)
        display = (instructor.name if instructor else "") or user.display_name
    else:
        display = user.display_name
    name = eligibility.real_name(user.last_name, user.first_name, display, fallback)
    if old.kind == Kind.LEARNING_FAMILY:
        return _("%(name)s家庭") % {"name": name}
    return name


def _nickname_now(old: Certificate) -> str:
    # Kept only while the family still agrees to it.
    if not old.child_nickname or not old.family_id:
        return ""
    shown = CertificatePreference.objects.filter(
        family_id=old.family_id, child_nickname_shown=True
    ).exists()
    return old.child_nickname if shown else ""


def certificate_reissue(*, user, certificate, reason: str = "") -> Certificate:
    """A new revision of a valid certificate the user manages: a new code and URL,
    the holder's name as the account says now, the same reason, credits and term.
    The old one shows 「已被新证书替换」 with a link to it and keeps its URL. The
    holder is told once (outbox key ``certificates.reissued:<new id>``)."""
    reason = _reason(reason, required=False)
    with issuing_transaction():
        old = _managed_valid(user, certificate)
        revision = (
            Certificate.objects.filter(key=old.key)
            .order_by("-revision")
            .values_list("revision", flat=True)[0]
            + 1
        )
        # The key has one current row at a time: the old one steps aside first.
        Certificate.objects.filter(pk=old.pk).update(status=Certificate.Status.SUPERSEDED)
        new = Certificate.objects.create(
            key=old.key,
            revision=revision,
            kind=old.kind,
            alliance_id=old.alliance_id,
            unit_id=old.unit_id,
            term_id=old.term_id,
            family_id=old.family_id,
            user_id=old.user_id,
            holder_name=_holder_name_now(old)[:60],
            child_nickname=_nickname_now(old),
            subject_title=old.subject_title,
            course_id=old.course_id,
            credits=old.credits,
            hours=old.hours,
            data=old.data,
            issued_on=timezone.localdate(),
        )
        Certificate.objects.filter(pk=old.pk).update(superseded_by=new)
        new = _current(old.key)
        _sign(new)
        audit_log_record(
            actor=user,
            action="certificates.certificate.reissue",
            target=new,
            data={"old": old.pk, "old_code": old.code, "code": new.code, "reason": reason},
        )
        notice_send(
            key=f"certificates.reissued:{new.pk}",
            topic=NOTICE_TOPIC,
            subject=_("您的证书已重新发放：%(title)s") % {"title": new.subject_title},
            lead=_(
                "%(unit)s重新发放了您的「%(title)s」，新验证码 %(code)s。"
                "原证书（%(old)s）显示为已被新证书替换，请下载新的 PDF。"
            )
            % {
                "unit": new.unit.name,
                "title": _title(new),
                "code": new.code_display,
                "old": old.code_display,
            },
            path=_mine_path(),
            unit=new.unit_id,
            **_holder_ids(new),
        )
        after_commit(_render_enqueue, new.pk)
        after_commit(verification_page_forget, old.code)
    return new


# --- rules ------------------------------------------------------------------------


def _threshold(value, code: str) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise CertificateError(f"{code}_invalid", field=code) from None
    if not number.is_finite() or number <= 0 or number > _THRESHOLD_MAX:
        raise CertificateError(f"{code}_invalid", field=code)
    if number != number.quantize(Decimal("0.1")):
        raise CertificateError(f"{code}_invalid", field=code)
    return number.quantize(Decimal("0.1"))


def _percent(value) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise CertificateError("attendance_percent_invalid", field="attendance_percent") from None
    if not 1 <= number <= 100:
        raise CertificateError("attendance_percent_invalid", field="attendance_percent")
    return number


def rule_update(*, user, alliance, kind, **fields) -> CertificateRule:
    """Set an alliance's rule of one kind (made on first use): what is certified
    and at what threshold. Alliance coordinators and district administrators
    (``can_issue_for``); audit-logged ``certificates.rule.update``."""
    unknown = set(fields) - set(RULE_FIELDS)
    if unknown:
        raise TypeError(f"rule_update() got unexpected fields {sorted(unknown)}")
    alliance_id = _id(alliance)
    if alliance_id is None or not can_issue_for(user, alliance_id):
        raise CertificateError("not_allowed")
    if kind not in [k.value for k in RULE_KINDS]:
        raise CertificateError("kind_invalid", field="kind")
    clean = {}
    for name, value in fields.items():
        if name in ("is_active", "lessons_required", "mentions_child"):
            clean[name] = bool(value)
        elif name == "attendance_percent":
            clean[name] = _percent(value)
        else:
            clean[name] = _threshold(value, name)
    with issuing_transaction():
        CertificateRule.objects.bulk_create(
            [CertificateRule(alliance_id=alliance_id, kind=kind)], ignore_conflicts=True
        )
        rule = CertificateRule.objects.select_for_update().get(alliance_id=alliance_id, kind=kind)
        for name, value in clean.items():
            setattr(rule, name, value)
        if rule.is_active and rule.kind == Kind.CREDITS and rule.credits_min is None:
            raise CertificateError("credits_min_required", field="credits_min")
        if rule.is_active and rule.kind == Kind.VOLUNTEER and rule.hours_min is None:
            raise CertificateError("hours_min_required", field="hours_min")
        rule.save()
        audit_log_record(
            actor=user,
            action="certificates.rule.update",
            target=rule,
            data={name: str(value) for name, value in clean.items()},
        )
    return rule


# END SECTION issuance

# SECTION design (helper B)
#
# The seal is printed over the issuer line of every certificate, so it is taken
# only as pixels: decoded, shrunk, and re-encoded as a new PNG that keeps its
# transparency (metadata and anything else in the upload stay behind), under a
# random name. The file is written after the commit (the admin tries this service
# once in a rolled-back savepoint before saving; that try leaves no file behind).

SEAL_MAX_BYTES = 2 * 1024 * 1024
SEAL_MAX_SIDE = 800
DESIGN_FIELD_MAX = {"issuer_name": 120, "signatory": 60, "footer": 200}


def seal_clean(upload) -> bytes:
    """The uploaded seal as a new RGBA PNG of at most SEAL_MAX_SIDE px.
    A seal scanned on white paper (no alpha of its own) gets its white made
    transparent, so the issuer line shows through it as under a real stamp."""
    from PIL import Image, ImageChops, ImageOps, UnidentifiedImageError  # noqa: PLC0415

    from members.photos import MAX_PIXELS  # noqa: PLC0415

    mb = SEAL_MAX_BYTES // (1024 * 1024)
    size = getattr(upload, "size", None)
    if size is not None and size > SEAL_MAX_BYTES:
        raise CertificateError("seal_too_large", field="seal", mb=mb)
    try:
        upload.seek(0)
    except (AttributeError, OSError):
        pass
    raw = upload.read(SEAL_MAX_BYTES + 1)
    if len(raw) > SEAL_MAX_BYTES:
        raise CertificateError("seal_too_large", field="seal", mb=mb)
    try:
        with Image.open(io.BytesIO(raw)) as probe:
            probe.verify()
        image = Image.open(io.BytesIO(raw))
        if image.width * image.height > MAX_PIXELS:
            raise CertificateError("seal_too_large", field="seal", mb=mb)
        image = ImageOps.exif_transpose(image)
        has_alpha = image.mode in ("RGBA", "LA", "PA") or (
            image.mode == "P" and "transparency" in image.info
        )
        image = image.convert("RGBA")
        image.thumbnail((SEAL_MAX_SIDE, SEAL_MAX_SIDE), Image.Resampling.LANCZOS)
    except CertificateError:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
    ) as error:
        raise CertificateError("seal_invalid", field="seal") from error
    if not has_alpha:
        # Near-white becomes transparent, with a soft edge so the ink keeps its shape.
        red, green, blue, _alpha = image.split()
        darkest = ImageChops.darker(ImageChops.darker(red, green), blue)
        image.putalpha(darkest.point(lambda v: 0 if v >= 245 else min(255, (245 - v) * 8)))
    clean = Image.frombytes("RGBA", image.size, image.tobytes())
    out = io.BytesIO()
    clean.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _design_text(name: str, value) -> str:
    text = " ".join(str(value or "").split())
    if len(text) > DESIGN_FIELD_MAX[name]:
        raise CertificateError(f"{name}_too_long", field=name, max=DESIGN_FIELD_MAX[name])
    return text


def design_update(
    *,
    user,
    alliance,
    issuer_name: str = "",
    signatory: str = "",
    footer: str = "",
    seal=None,
    seal_remove: bool = False,
) -> CertificateDesign:
    """Set how an alliance's certificates look (the issuer line, signatory, footer
    and seal). Only who may issue for the alliance; audit-logged. ``seal`` is an
    uploaded file (cleaned by seal_clean); ``seal_remove`` takes the seal off.
    Certificates rendered afterwards use the new design; stored PDFs keep theirs."""
    alliance_id = alliance if isinstance(alliance, int) else getattr(alliance, "pk", None)
    if alliance_id is None or not can_issue_for(user, alliance_id):
        raise CertificateError("not_allowed")
    texts = {
        "issuer_name": _design_text("issuer_name", issuer_name),
        "signatory": _design_text("signatory", signatory),
        "footer": _design_text("footer", footer),
    }
    content = seal_clean(seal) if seal is not None else None
    with issuing_transaction():
        CertificateDesign.objects.bulk_create(
            [CertificateDesign(alliance_id=alliance_id)], ignore_conflicts=True
        )
        design = CertificateDesign.objects.select_for_update().get(alliance_id=alliance_id)
        changed = [name for name, value in texts.items() if getattr(design, name) != value]
        for name, value in texts.items():
            setattr(design, name, value)
        storage = design.seal.storage
        old_seal = design.seal.name or ""
        if content is not None:
            new_name = design.seal.field.generate_filename(design, f"{secrets.token_hex(16)}.png")
            design.seal.name = new_name
            transaction.on_commit(_seal_store(storage, new_name, content), robust=True)
            changed.append("seal")
        elif seal_remove and old_seal:
            design.seal.name = ""
            changed.append("seal")
        design.save()
        if old_seal and design.seal.name != old_seal:
            transaction.on_commit(_seal_delete(storage, old_seal), robust=True)
        audit_log_record(
            actor=user,
            action="certificates.design.update",
            target=design,
            data={"changed": changed, "seal": bool(design.seal)},
        )
    return design


# After-commit work as named closures (a robust on_commit logs a failure by the
# callback's __qualname__). A seal that could not be written leaves the design
# without a printed seal (documents skip an unreadable one), never a 500.


def _seal_store(storage, name: str, content: bytes):
    def store_seal():
        stored = storage.save(name, ContentFile(content))
        if stored != name:  # the random name was taken: point the row at the file written
            CertificateDesign.objects.filter(seal=name).update(seal=stored)

    return store_seal


def _seal_delete(storage, name: str):
    def delete_old_seal():
        storage.delete(name)

    return delete_old_seal


# END SECTION design

# SECTION holder (helper D)
#
# A transcript is asked for by a guardian, names them, and freezes the family's
# credit-bank rows. Its key carries the guardian and a digest of the rows, so
# asking twice with nothing new is the same transcript (the unique key), and a
# transcript with new rows replaces the guardian's previous one (shown
# 「已被新证书替换」 with a link). The family's row is locked meanwhile: two
# taps at the same instant get one transcript.


def transcript_issue(*, user) -> tuple[Certificate, bool]:
    """The family's transcript of every credit now: (certificate, created)."""
    from courses.services import family_of
    from members.models import Family

    from .transcripts import transcript_source

    family = family_of(user)
    if family is None:
        raise CertificateError("family_missing")
    with issuing_transaction():
        # FOR NO KEY UPDATE: serialises two taps, without blocking the family's
        # bookings and credit entries (their foreign-key checks share the row).
        Family.objects.select_for_update(no_key=True).filter(pk=family.pk).first()
        source = transcript_source(family)
        if not source.rows:
            raise CertificateError("no_credits")
        if source.alliance_id is None:
            raise CertificateError("no_issuer")
        holder = eligibility.real_name(user.last_name, user.first_name, user.display_name)
        key = f"transcript:family:{family.pk}:user:{user.pk}:{source.digest}"
        existing = _current(key)
        if existing is not None and existing.status == Certificate.Status.REVOKED:
            raise CertificateError("transcript_revoked", unit=existing.unit.name)
        today = timezone.localdate()
        candidate = eligibility.Candidate(
            key=key,
            kind=Kind.TRANSCRIPT,
            unit_id=source.unit_id,
            holder_name=holder,
            subject_title=_("学分银行成绩单（截至 %(date)s）") % {"date": today.isoformat()},
            family_id=family.pk,
            user_id=user.pk,
            credits=source.total,
        )
        certificate, created = certificate_issue(
            candidate=candidate,
            alliance=source.alliance_id,
            term=None,
            issued_on=today,
            data={"rows": source.rows, "total": source.total_text},
        )
        if created:
            # This guardian's earlier transcript, if still valid, steps aside.
            earlier = Certificate.objects.filter(
                family_id=family.pk,
                user_id=user.pk,
                kind=Kind.TRANSCRIPT,
                status=Certificate.Status.VALID,
            ).exclude(pk=certificate.pk)
            for code in earlier.values_list("code", flat=True):
                after_commit(verification_page_forget, code)
            earlier.update(status=Certificate.Status.SUPERSEDED, superseded_by=certificate)
    return certificate, created


def preference_update(*, user, child_nickname_shown: bool) -> CertificatePreference:
    """Whether the family's certificates about a child may carry the child's
    nickname (never the name); any guardian of the family sets it."""
    from courses.services import family_of

    family = family_of(user)
    if family is None:
        raise CertificateError("family_missing")
    preference, _created = CertificatePreference.objects.update_or_create(
        family=family, defaults={"child_nickname_shown": bool(child_nickname_shown)}
    )
    return preference


def transcript_export_record(*, user, certificate: Certificate, fmt: str) -> None:
    """Audit a transcript's CSV or JSON download (the holder's own data leaving)."""
    audit_log_record(
        actor=user,
        action="certificates.transcript.export",
        target=certificate,
        data={"code": certificate.code, "format": fmt},
    )


# END SECTION holder
