"""The handbook's pages: the family's handbook, claim and printable term page; the
verifier's queue and decision page; the coordinator's items. Thin: the selectors
read (and scope: a claim outside the user's reach is 404), the services write,
and a HandbookError is shown on the field it names."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from courses.streaming import file_response
from members import access
from members.decorators import coordinator_required, family_required, staff_member_required
from parent_school.selectors import term_current

from . import selectors, services
from .errors import HandbookError
from .forms import ClaimForm, DecisionForm, ItemForm, QueueFilterForm, RespondForm
from .models import Claim, HandbookItem

QUEUE_PAGE_SIZE = 20
# A claim's photo is a family's private picture: kept by no cache, shared by none.
PHOTO_CACHE_CONTROL = "private, no-store"


def _show_error(form, error: HandbookError) -> None:
    """The service's message on the field it names (or on the whole form)."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


_family_required = family_required(HandbookError("no_family").message)


def _term_context(family) -> dict:
    """The family's handbook and this term's progress (none between terms): the home
    page and the printable page show the same."""
    term = term_current()
    # family_progress reads the handbook too: one read for both.
    progress = selectors.family_progress(family=family, term=term)
    return {
        "term": term,
        "handbook": progress.handbook,
        "progress": progress if term else None,
    }


# --- the family ---------------------------------------------------------------------


@login_required
@require_safe
@_family_required
def handbook_home(request, family):
    return render(request, "handbook/home.html", _term_context(family))


@login_required
@require_http_methods(["GET", "POST"])
@_family_required
def claim_new(request, family):
    handbook = selectors.handbook_for_family(family=family)
    form = ClaimForm(
        request.POST or None,
        request.FILES or None,
        items=handbook.all_items,
        children=list(family.children.order_by("pk")),
        initial={"item": request.GET.get("item")},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            claim = services.claim_submit(
                user=request.user,
                item_id=data["item"],
                occurred_on=data["occurred_on"],
                child_id=data["child"],
                note=data["note"],
                photo=data["photo"],
            )
        except HandbookError as error:
            _show_error(form, error)
        else:
            messages.success(
                request,
                _("已提交“%(item)s”的申报，等待老师审核；审核通过后计入积分。")
                % {"item": claim.item.name},
            )
            return redirect("handbook:home")
    return render(
        request, "handbook/claim_form.html", {"form": form, "handbook": handbook}, status=200
    )


def _claim_or_404(read, request, pk: int) -> Claim:
    """The claim as ``read`` scopes it; one outside the user's reach is 404, like a missing one."""
    try:
        return read(user=request.user, claim_id=pk)
    except HandbookError as error:
        raise Http404(error.message) from error


def _family_claim(request, pk: int) -> Claim:
    return _claim_or_404(selectors.claim_for_family, request, pk)


def _claim_page(request, claim: Claim, respond_form: RespondForm):
    """The family's claim page (a refused answer shows again with its errors)."""
    return render(
        request,
        "handbook/claim_detail.html",
        {"claim": claim, "respond_form": respond_form, "Status": Claim.Status},
    )


@login_required
@require_safe
def claim_detail(request, pk: int):
    return _claim_page(request, _family_claim(request, pk), RespondForm())


@login_required
@require_POST
def claim_withdraw(request, pk: int):
    claim = _family_claim(request, pk)
    try:
        services.claim_withdraw(user=request.user, claim_id=claim.pk)
    except HandbookError as error:
        messages.error(request, error.message)
        return redirect("handbook:claim_detail", pk=claim.pk)
    messages.success(request, _("已撤回这条申报。"))
    return redirect("handbook:home")


@login_required
@require_POST
def claim_respond(request, pk: int):
    claim = _family_claim(request, pk)
    form = RespondForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.claim_respond(
                user=request.user,
                claim_id=claim.pk,
                note=form.cleaned_data["note"],
                photo=form.cleaned_data["photo"],
            )
        except HandbookError as error:
            _show_error(form, error)
        else:
            messages.success(request, _("已补充，申报重新等待审核。"))
            return redirect("handbook:claim_detail", pk=claim.pk)
    return _claim_page(request, claim, form)


@login_required
@require_safe
def claim_photo(request, pk: int):
    """The claim's photo, for its family or for a verifier of its unit; anyone else
    gets 404, and no cache keeps it."""
    claim = None
    for read in (selectors.claim_for_family, selectors.claim_for_verifier):
        try:
            claim = read(user=request.user, claim_id=pk)
            break
        except HandbookError:
            continue
    if claim is None or not claim.photo:
        raise Http404
    return file_response(request, claim.photo, cache_control=PHOTO_CACHE_CONTROL)


@login_required
@require_safe
@_family_required
def handbook_print(request, family):
    return render(
        request,
        "handbook/print.html",
        {
            **_term_context(family),
            "family": family,
            "guardians": family.guardians.select_related("user").order_by("pk"),
            "children": family.children.order_by("pk"),
        },
    )


# --- the verifiers ------------------------------------------------------------------


@staff_member_required
@require_safe
def review_queue(request):
    units = access.units_visible_to(request.user).order_by("name")
    filter_form = QueueFilterForm(request.GET or None, units=units)
    filters = filter_form.filters()
    claims = selectors.claims_queue(user=request.user, **filters)
    page = Paginator(claims, QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    kept = {k: v for k, v in request.GET.items() if k != "page" and v}
    return render(
        request,
        "handbook/review_queue.html",
        {
            "filter_form": filter_form,
            "filters": filters,
            "page_obj": page,
            "rows": [(claim, selectors.family_label(claim.family_id)) for claim in page],
            "query_string": urlencode(kept),
            "bulk": filters["status"] == Claim.Status.PENDING,
            "can_manage_items": access.alliances_changeable_by(request.user).exists(),
            "Source": Claim.Source,
        },
    )


def _ids(values) -> list[int]:
    ids = []
    for value in values:
        try:
            ids.append(int(value))
        except (TypeError, ValueError):
            continue
    return ids


@staff_member_required
@require_POST
def review_bulk_approve(request):
    back = reverse("handbook:review")
    if request.POST.get("query"):
        back += "?" + request.POST["query"]
    claim_ids = _ids(request.POST.getlist("claim"))
    if not claim_ids:
        messages.error(request, _("请至少勾选一条根据签到记录生成的申报。"))
        return redirect(back)
    try:
        done = services.claims_bulk_approve(user=request.user, claim_ids=claim_ids)
    except HandbookError as error:
        messages.error(request, error.message)
        return redirect(back)
    messages.success(request, _("已批量通过 %(n)s 条申报。") % {"n": done})
    return redirect(back)


def _verifier_claim(request, pk: int) -> Claim:
    return _claim_or_404(selectors.claim_for_verifier, request, pk)


@staff_member_required
@require_http_methods(["GET", "POST"])
def review_detail(request, pk: int):
    claim = _verifier_claim(request, pk)
    form = DecisionForm(request.POST or None)
    if request.method == "POST":
        if not form.is_valid():
            form.add_error(None, HandbookError("bad_decision").message)
        else:
            decision = form.cleaned_data["decision"]
            try:
                services.claim_decide(
                    user=request.user,
                    claim_id=claim.pk,
                    decision=decision,
                    reason=form.cleaned_data["reason"],
                )
            except HandbookError as error:
                _show_error(form, error)
            else:
                done = {
                    "approve": _("已通过：%(item)s。"),
                    "reject": _("已退回：%(item)s，家长会看到您写的原因。"),
                    "more": _("已请家长补充：%(item)s。"),
                }[decision]
                messages.success(request, done % {"item": claim.item.name})
                return redirect("handbook:review")
    return render(
        request,
        "handbook/review_detail.html",
        {
            "claim": claim,
            "form": form,
            "family_label": selectors.family_label(claim.family_id),
            "reused_count": (
                selectors.claims_reusing_photo(claim).count() if claim.flag_reused_photo else 0
            ),
            "decidable": claim.status in (Claim.Status.PENDING, Claim.Status.MORE_INFO),
        },
    )


# --- the alliance's coordinator -----------------------------------------------------


def _alliance(request):
    """The alliance the page is about, among those the user may change (?alliance=)."""
    alliances = list(access.alliances_changeable_by(request.user).order_by("name"))
    wanted = request.POST.get("alliance") or request.GET.get("alliance")
    chosen = next((a for a in alliances if str(a.pk) == str(wanted)), None)
    if chosen is None and alliances and not wanted:
        chosen = alliances[0]
    return alliances, chosen


def _items_url(alliance) -> str:
    return reverse("handbook:items") + "?" + urlencode({"alliance": alliance.pk})


@coordinator_required
@require_safe
def item_list(request):
    alliances, alliance = _alliance(request)
    if request.GET.get("alliance") and alliance is None:
        raise Http404
    own = list(selectors.items_of_alliance(alliance.pk)) if alliance else []
    defaults = [] if own else list(selectors.items_of_alliance(None))
    return render(
        request,
        "handbook/items.html",
        {
            "alliances": alliances,
            "alliance": alliance,
            "items": own,
            "defaults": defaults,
        },
    )


@coordinator_required
@require_POST
def items_customise(request):
    _alliances, alliance = _alliance(request)
    if alliance is None:
        raise Http404
    try:
        copied = services.handbook_items_customise(user=request.user, alliance_id=alliance.pk)
    except HandbookError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("已复制全区默认的 %(n)s 个项目，可逐项修改。") % {"n": copied})
    return redirect(_items_url(alliance))


@coordinator_required
@require_http_methods(["GET", "POST"])
def item_edit(request, pk: int | None = None):
    alliances, alliance = _alliance(request)
    item = None
    if pk is not None:
        item = HandbookItem.objects.filter(pk=pk, alliance__in=[a.pk for a in alliances]).first()
        if item is None:
            raise Http404
        alliance = next(a for a in alliances if a.pk == item.alliance_id)
    if alliance is None:
        raise Http404
    form = ItemForm(request.POST or None, instance=item)
    if request.method == "POST" and form.is_valid():
        try:
            services.handbook_item_save(
                user=request.user,
                alliance_id=alliance.pk,
                item_id=item.pk if item else None,
                **form.service_fields(),
            )
        except HandbookError as error:
            _show_error(form, error)
        else:
            messages.success(request, _("项目已保存。"))
            return redirect(_items_url(alliance))
    return render(
        request, "handbook/item_form.html", {"form": form, "item": item, "alliance": alliance}
    )
