"""The holder's pages (我的证书: downloads, the transcript, the child-nickname
choice) and the public verification pages, which anyone opens on a phone from
the QR code without signing in. Thin: selectors decide what shows, services
write, templates show.

A certificate that is not the signed-in person's is a 404 (never a 403 that
would say it exists). The public pages show what ``selectors.verification``
decided: the masked name, the reason, term and issuer, and the status; never a
phone number, a child, or a revocation's reason."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.http import content_disposition_header
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from courses.services import family_of
from courses.streaming import file_response
from members.page_cache import shareable_request, shareable_response

from . import selectors, services
from .errors import MESSAGES, CertificateError
from .models import Certificate, Kind
from .transcripts import transcript_csv_lines, transcript_document

PAGE_SIZE = 20
#: The public page may be cached briefly; a revocation shows within a minute.
VERIFY_CACHE_SECONDS = 60


def _held_or_404(request, certificate_id: int) -> Certificate:
    certificate = selectors.certificate_for_holder(request.user, certificate_id)
    if certificate is None:
        raise Http404
    return certificate


def _download_name(certificate: Certificate, extension: str) -> str:
    return f"{certificate.get_kind_display()}-{certificate.code}.{extension}"


def _attachment(response, certificate: Certificate, extension: str):
    response["Content-Disposition"] = content_disposition_header(
        True, _download_name(certificate, extension)
    )
    return response


# --- 我的证书 -------------------------------------------------------------------------


@never_cache
@login_required
@require_safe
def mine(request):
    family = family_of(request.user)
    page_obj = Paginator(selectors.my_certificates(request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {
        "family": family,
        "page_obj": page_obj,
        "transcript": selectors.transcript_current(request.user),
        "nickname_shown": selectors.child_nickname_shown(family),
        "Status": Certificate.Status,
        "Kind": Kind,
    }
    return render(request, "certificates/mine.html", context)


@never_cache
@login_required
@require_safe
def pdf(request, certificate_id: int):
    certificate = services.certificate_pdf_ensure(_held_or_404(request, certificate_id))
    # The download name goes in with the file: on S3 the answer is a redirect, and
    # the bucket names the download from what the signed URL asks for.
    response = file_response(
        request,
        certificate.pdf,
        cache_control="private, no-store",
        disposition=content_disposition_header(True, _download_name(certificate, "pdf")),
    )
    if response.status_code in (200, 206):
        response["Content-Type"] = "application/pdf"
    return response


@never_cache
@login_required
@require_safe
def credential(request, certificate_id: int):
    certificate = _held_or_404(request, certificate_id)
    response = JsonResponse(certificate.credential, json_dumps_params={"ensure_ascii": False})
    return _attachment(response, certificate, "json")


@login_required
@require_POST
def preference(request):
    shown = request.POST.get("child_nickname_shown") in ("1", "on", "true")
    try:
        services.preference_update(user=request.user, child_nickname_shown=shown)
    except CertificateError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("已保存：与孩子有关的证书上会写孩子的昵称。")
            if shown
            else _("已保存：证书上不写孩子的昵称。"),
        )
    return redirect(reverse("certificates:mine") + "#preference")


@login_required
@require_POST
def transcript(request):
    try:
        certificate, created = services.transcript_issue(user=request.user)
    except CertificateError as error:
        messages.error(request, error.message)
    else:
        text = (
            _("成绩单已生成，验证码 %(code)s。")
            if created
            else _("您的学分没有新的变化，这是您现有的成绩单（验证码 %(code)s）。")
        )
        messages.success(request, text % {"code": certificate.code_display})
    return redirect(reverse("certificates:mine") + "#transcript")


def _transcript_or_404(request, certificate_id: int) -> Certificate:
    certificate = _held_or_404(request, certificate_id)
    if certificate.kind != Kind.TRANSCRIPT:
        raise Http404
    return certificate


@never_cache
@login_required
@require_safe
def transcript_csv(request, certificate_id: int):
    certificate = _transcript_or_404(request, certificate_id)
    services.transcript_export_record(user=request.user, certificate=certificate, fmt="csv")
    response = StreamingHttpResponse(
        transcript_csv_lines(certificate), content_type="text/csv; charset=utf-8"
    )
    return _attachment(response, certificate, "csv")


@never_cache
@login_required
@require_safe
def transcript_json(request, certificate_id: int):
    certificate = _transcript_or_404(request, certificate_id)
    services.transcript_export_record(user=request.user, certificate=certificate, fmt="json")
    response = HttpResponse(
        json.dumps(transcript_document(certificate), ensure_ascii=False, indent=2),
        content_type="application/json; charset=utf-8",
    )
    return _attachment(response, certificate, "json")


# --- public verification ---------------------------------------------------------------


def _public(response, *, max_age: int = VERIFY_CACHE_SECONDS):
    # Names, even masked, are not for search engines.
    response["X-Robots-Tag"] = "noindex, nofollow"
    patch_cache_control(response, public=True, max_age=max_age)
    return response


@require_safe
def verify_home(request):
    """The page the printed address without a code opens: type the code."""
    typed = request.GET.get("code", "")
    if typed:
        code = selectors.code_normalise(typed)
        if selectors.verification(code) is not None:
            return redirect("certificates:verify", code=code)
        context = {"typed": typed[:40], "error": MESSAGES["code_missing"]}
        return _public(render(request, "certificates/verify_home.html", context, status=404))
    return _public(render(request, "certificates/verify_home.html", {}))


@require_safe
def verify(request, code: str):
    """The page the QR code opens. Anonymous visitors (nearly every scan) share one
    copy per code and language for a minute; a revocation or re-issue drops it."""
    shareable = shareable_request(request)
    key = selectors.verification_page_key(code, get_language())
    if shareable:
        content = cache.get(key)
        if content is not None:
            response = HttpResponse(content)
            patch_vary_headers(response, ["Cookie"])
            return _public(response)
    found = selectors.verification(code)
    if found is None:
        context = {"typed": code[:40], "error": MESSAGES["code_missing"]}
        return _public(render(request, "certificates/verify_home.html", context, status=404))
    if found.certificate.code != code:
        # 「k7q2m-9xd4p」 typed by hand: the one address of the certificate.
        return redirect("certificates:verify", code=found.certificate.code, permanent=True)
    response = render(request, "certificates/verify.html", {"v": found})
    patch_vary_headers(response, ["Cookie"])
    if shareable and shareable_response(request, response):
        cache.set(key, response.content, VERIFY_CACHE_SECONDS)
    return _public(response)


@require_safe
def verify_credential(request, code: str):
    found = selectors.verification(code)
    if found is None or found.certificate.code != code:
        raise Http404
    response = JsonResponse(found.certificate.credential, json_dumps_params={"ensure_ascii": False})
    response["Access-Control-Allow-Origin"] = "*"
    return _attachment(_public(response), found.certificate, "json")
