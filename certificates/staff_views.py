"""The coordinators' certificate pages: the list (filters, the batch form), a
batch's progress, revoking and re-issuing. Thin: forms in, services and
selectors called, templates out.

Only coordinators reach them (others: 403, before anything else is looked at);
a certificate or batch outside the coordinator's reach is a 404, never a 403
that would say it exists; a CertificateError shows on the field it names."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from members import access
from parent_school.models import Term

from . import selectors, services
from .errors import CertificateError
from .forms import BatchForm, ManageFilterForm, ReasonForm
from .models import Certificate, CertificateBatch

PAGE_SIZE = 20
#: The batch form offers the most recent terms.
BATCH_TERMS = 8


def coordinator_required(view):
    """Signed in (else to the sign-in page), then a coordinator (else 403)."""

    @login_required
    def wrapped(request, *args, **kwargs):
        if not access.is_coordinator(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def _show_error(form, error: CertificateError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


def _batch_form(request, data=None) -> BatchForm | None:
    alliances = list(selectors.alliances_issuing_for(request.user).order_by("name"))
    if not alliances:
        return None
    terms = list(Term.objects.order_by("-starts_on")[:BATCH_TERMS])
    return BatchForm(data, alliances=alliances, terms=terms)


def _manage_page(request, batch_form, status=200):
    choices = selectors.manage_filter_choices(request.user)
    filter_form = ManageFilterForm(request.GET or None, **choices)
    rows = selectors.manage_list(request.user, **filter_form.filters())
    page_obj = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "filter_form": filter_form,
        "page_obj": page_obj,
        "query_string": query.urlencode(),
        "batch_form": batch_form,
        "batches": selectors.recent_batches(request.user, limit=5),
        "Status": Certificate.Status,
    }
    return render(request, "certificates/staff_manage.html", context, status=status)


@coordinator_required
@require_safe
def manage(request):
    return _manage_page(request, _batch_form(request))


@coordinator_required
@require_POST
def batch_start(request):
    form = _batch_form(request, request.POST)
    if form is None:
        raise PermissionDenied  # a unit coordinator: the alliance issues
    if form.is_valid():
        try:
            batch = services.batch_start(
                alliance=form.cleaned_data["alliance"],
                term=form.cleaned_data["term"],
                trigger=CertificateBatch.Trigger.MANUAL,
                user=request.user,
            )
        except CertificateError as error:
            _show_error(form, error)
        else:
            messages.success(request, _("证书发放已开始，本页显示进度。"))
            return redirect("certificates:batch", batch_id=batch.pk)
    return _manage_page(request, form, status=400)


@coordinator_required
@require_safe
def batch(request, batch_id: int):
    found = selectors.batch_visible(request.user, batch_id)
    if found is None:
        raise Http404
    progress = selectors.batch_progress(found)
    if request.GET.get("format") == "json":
        return JsonResponse(
            {k: progress[k] for k in ("status", "total", "processed", "issued", "skipped")}
        )
    running = found.status in (CertificateBatch.Status.QUEUED, CertificateBatch.Status.RUNNING)
    return render(
        request,
        "certificates/staff_batch.html",
        {"batch": found, "progress": progress, "running": running},
    )


def _certificate_or_404(request, certificate_id: int) -> Certificate:
    certificate = selectors.certificate_managed(request.user, certificate_id)
    if certificate is None:
        raise Http404
    return certificate


def _act(request, certificate_id: int, *, action: str):
    certificate = _certificate_or_404(request, certificate_id)
    revoke = action == "revoke"
    form = ReasonForm(request.POST or None, required=revoke)
    if request.method == "POST" and form.is_valid():
        try:
            if revoke:
                services.certificate_revoke(
                    user=request.user, certificate=certificate, reason=form.cleaned_data["reason"]
                )
            else:
                new = services.certificate_reissue(
                    user=request.user, certificate=certificate, reason=form.cleaned_data["reason"]
                )
        except CertificateError as error:
            if error.code.endswith("_missing"):
                raise Http404 from error
            _show_error(form, error)
        else:
            if revoke:
                messages.success(
                    request,
                    _("证书 %(code)s 已撤销，持证人会收到通知。")
                    % {"code": certificate.code_display},
                )
            else:
                messages.success(
                    request,
                    _("已重新发放，新验证码 %(code)s；原证书显示为已被新证书替换。")
                    % {"code": new.code_display},
                )
            return redirect(
                f"{reverse('certificates:manage')}?code={certificate.code if revoke else new.code}"
            )
    context = {
        "certificate": certificate,
        "current": selectors.current_of(certificate),
        "form": form,
        "action": action,
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "certificates/staff_action.html", context, status=status)


@coordinator_required
@require_http_methods(["GET", "POST"])
def revoke(request, certificate_id: int):
    return _act(request, certificate_id, action="revoke")


@coordinator_required
@require_http_methods(["GET", "POST"])
def reissue(request, certificate_id: int):
    return _act(request, certificate_id, action="reissue")
