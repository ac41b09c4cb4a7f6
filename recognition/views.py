"""Learning-family and commendation pages (thin: services write, selectors read)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from members import access
from members.decorators import coordinator_required, staff_member_required
from members.formatting import id_or_none
from members.models import Alliance, Guardian, Membership
from parent_school.models import Term

from . import selectors, services
from .errors import RecognitionError
from .forms import CommendationForm, GuardianSearchForm, OverrideForm, RuleForm
from .models import LearningFamilyList, LearningFamilyRule

PAGE_SIZE = 50


def _managed_alliance(request, alliance_id: int) -> Alliance:
    alliance = get_object_or_404(Alliance, pk=alliance_id)
    if not services.may_manage_alliance(request.user, alliance.pk):
        raise Http404
    return alliance


@staff_member_required
def overview(request):
    term = selectors.term_choose(request.GET.get("term"))
    alliances = list(selectors.manageable_alliances(request.user))
    rules = lists = {}
    if term is not None:
        rules = {
            r.alliance_id: r
            for r in LearningFamilyRule.objects.filter(term=term, alliance__in=alliances)
        }
        lists = {
            x.alliance_id: x for x in selectors.lists_visible_to(request.user).filter(term=term)
        }
    rows = [{"alliance": a, "rule": rules.get(a.pk), "list": lists.get(a.pk)} for a in alliances]
    # Lists a unit coordinator sees through their units' families.
    others = [x for alliance_id, x in lists.items() if alliance_id not in {a.pk for a in alliances}]
    return render(
        request,
        "recognition/overview.html",
        {
            "term": term,
            "terms": Term.objects.order_by("-starts_on"),
            "rows": rows,
            "other_lists": others,
        },
    )


@coordinator_required
def rule_edit(request, alliance_id: int, term_id: int):
    alliance = _managed_alliance(request, alliance_id)
    term = get_object_or_404(Term, pk=term_id)
    rule = LearningFamilyRule.objects.filter(alliance=alliance, term=term).first()
    form = RuleForm(request.POST or None, instance=rule or LearningFamilyRule())
    if request.method == "POST" and form.is_valid():
        try:
            services.rule_save(
                user=request.user,
                alliance_id=alliance.pk,
                term_id=term.pk,
                **{name: form.cleaned_data[name] for name in form.Meta.fields},
            )
        except RecognitionError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            messages.success(request, _("评选标准已保存。"))
            return redirect(f"{reverse('recognition:overview')}?term={term.code}")
    return render(
        request, "recognition/rule_form.html", {"form": form, "alliance": alliance, "term": term}
    )


@require_POST
@coordinator_required
def compute(request, alliance_id: int, term_id: int):
    alliance = _managed_alliance(request, alliance_id)
    term = get_object_or_404(Term, pk=term_id)
    try:
        result = services.learning_families_compute(
            alliance_id=alliance.pk, term_id=term.pk, user=request.user
        )
    except RecognitionError as error:
        messages.error(request, error.message)
        return redirect(f"{reverse('recognition:overview')}?term={term.code}")
    messages.success(
        request,
        _("已计算：%(families)s 户家庭，其中 %(included)s 户入选。")
        % {"families": result.written, "included": result.included},
    )
    return redirect("recognition:list", list_id=result.family_list.pk)


def _visible_list(request, list_id: int) -> LearningFamilyList:
    try:
        return selectors.list_for_user(user=request.user, list_id=list_id)
    except RecognitionError:
        raise Http404 from None


@staff_member_required
def list_detail(request, list_id: int):
    family_list = _visible_list(request, list_id)
    entries = (
        selectors.entries_visible_to(request.user, family_list)
        .select_related("unit")
        .order_by("-included", "unit__name", "display_name", "pk")
    )
    show = request.GET.get("show", "")
    if show == "included":
        entries = entries.filter(included=True)
    elif show == "overridden":
        entries = entries.exclude(override_reason="")
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    rule = LearningFamilyRule.objects.filter(
        alliance_id=family_list.alliance_id, term_id=family_list.term_id
    ).first()
    manages = services.may_manage_alliance(request.user, family_list.alliance_id)
    return render(
        request,
        "recognition/list.html",
        {
            "family_list": family_list,
            "page": page,
            "show": show,
            "rule_lines": selectors.rule_lines(rule, {}) if rule else [],
            "manages": manages,
            "may_override": access.is_coordinator(request.user)
            and family_list.status == LearningFamilyList.Status.DRAFT,
            "counts": selectors.list_counts(request.user, family_list),
        },
    )


@require_POST
@coordinator_required
def override(request, entry_id: int):
    form = OverrideForm(request.POST)
    back = request.POST.get("next") or ""
    if not form.is_valid():
        messages.error(request, _("请选择是否入选，理由不超过 200 字。"))
    else:
        try:
            entry = services.entry_override(
                user=request.user,
                entry_id=entry_id,
                included=form.cleaned_data["included"],
                reason=form.cleaned_data["reason"],
            )
        except RecognitionError as error:
            if error.code == "entry_missing":
                raise Http404 from None
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("已调整：%(name)s%(state)s。")
                % {
                    "name": entry.display_name,
                    "state": _("入选") if entry.included else _("不入选"),
                },
            )
            if not back.startswith("/recognition/"):
                back = reverse("recognition:list", args=[entry.family_list_id])
    if not back.startswith("/recognition/") or back.startswith("//"):
        back = reverse("recognition:overview")
    return redirect(back)


@require_POST
@coordinator_required
def publish(request, list_id: int):
    family_list = _visible_list(request, list_id)
    try:
        services.list_publish(user=request.user, list_id=family_list.pk)
    except RecognitionError as error:
        if error.code == "list_missing":
            raise Http404 from None
        messages.error(request, error.message)
    else:
        messages.success(request, _("名单已发布，入选家庭会收到一次通知。"))
    return redirect("recognition:list", list_id=family_list.pk)


@staff_member_required
def list_print(request, list_id: int):
    family_list = _visible_list(request, list_id)
    if family_list.status != LearningFamilyList.Status.PUBLISHED:
        raise Http404
    entries = (
        selectors.entries_visible_to(request.user, family_list)
        .filter(included=True)
        .select_related("unit")
        .order_by("unit__name", "display_name", "pk")
        .values("display_name", "unit__name")
    )
    return render(
        request, "recognition/print.html", {"family_list": family_list, "entries": entries}
    )


@coordinator_required
def commendations(request):
    term = selectors.term_choose(request.GET.get("term") or request.POST.get("term"))
    if term is None:
        raise Http404
    units = list(access.units_changeable_by(request.user).order_by("name").only("pk", "name")[:500])
    # Step one picks the unit (and searches its guardians); step two nominates.
    wanted = id_or_none(request.POST.get("unit") or request.GET.get("unit"))
    unit = next((u for u in units if u.pk == wanted), units[0] if len(units) == 1 else None)
    search = request.GET.get("q", "")
    search_form = GuardianSearchForm(
        initial={"unit": unit.pk if unit else None, "q": search}, units=units, auto_id="find-%s"
    )
    form = guardians = None
    more = False
    if unit is not None:
        guardians, more = selectors.commendation_guardian_choices(
            request.user, unit_id=unit.pk, search=search
        )
        alliances = access.alliances_visible_to(request.user).filter(
            pk__in=Membership.objects.filter(unit=unit, left_on__isnull=True).values("alliance_id")
        )

        def allowed(unit_id: int, guardian_id: int) -> bool:
            return (
                selectors.commendation_guardians(request.user, unit_id=unit_id)
                .filter(pk=guardian_id)
                .exists()
            )

        form = CommendationForm(
            request.POST or None,
            initial={"unit": unit.pk},
            alliances=alliances.order_by("name"),
            units=units,
            guardians=guardians,
            guardian_allowed=allowed,
        )
    if request.method == "POST" and form is None:
        messages.error(request, _("请先选择推荐单位。"))
    if request.method == "POST" and form is not None and form.is_valid():
        try:
            services.commendation_add(
                user=request.user,
                alliance_id=form.cleaned_data["alliance"],
                term_id=term.pk,
                guardian_id=form.cleaned_data["guardian"],
                unit_id=form.cleaned_data["unit"],
                reason=form.cleaned_data["reason"],
            )
        except RecognitionError as error:
            field = error.field if error.field in form.fields and error.field != "unit" else None
            form.add_error(field, error.message)
        else:
            messages.success(request, _("已推荐为优秀家长。"))
            return redirect(
                f"{reverse('recognition:commendations')}?term={term.code}&unit={unit.pk}"
            )
    rows = [
        {
            "commendation": c,
            "guardian": selectors.guardian_label(c.guardian),
        }
        for c in selectors.commendations_visible_to(request.user, term=term).order_by(
            "unit__name", "pk"
        )[:500]
    ]
    return render(
        request,
        "recognition/commendations.html",
        {
            "term": term,
            "terms": Term.objects.order_by("-starts_on"),
            "form": form,
            "search_form": search_form,
            "unit": unit,
            "search": search,
            "guardian_count": len(guardians or ()),
            "more_guardians": more,
            "rows": rows,
            "export_units": access.units_visible_to(request.user)
            .order_by("name")
            .only("pk", "name")[:500],
        },
    )


@require_POST
@coordinator_required
def commendation_remove(request, commendation_id: int):
    try:
        services.commendation_remove(user=request.user, commendation_id=commendation_id)
    except RecognitionError:
        raise Http404 from None
    messages.success(request, _("已撤回推荐。"))
    return redirect("recognition:commendations")


@require_POST
@coordinator_required
def export(request):
    term = selectors.term_choose(request.POST.get("term"))
    if term is None:
        raise Http404
    unit_id = request.POST.get("unit") or None
    if unit_id is not None:
        try:
            unit_id = int(unit_id)
        except ValueError:
            unit_id = -1
    try:
        result = services.commendations_export(
            user=request.user,
            term_id=term.pk,
            unit_id=unit_id,
            ip_address=request.META.get("REMOTE_ADDR"),
        )
    except RecognitionError as error:
        messages.error(request, error.message)
        return redirect(f"{reverse('recognition:commendations')}?term={term.code}")
    response = HttpResponse(
        result.content,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="{result.filename}"'
    return response


@login_required
def progress(request):
    guardian = Guardian.objects.filter(user=request.user).select_related("family").first()
    term = selectors.term_choose(None)
    alliances = (
        selectors.learning_family_progress(family=guardian.family, term=term)
        if term and guardian
        else []
    )
    return render(
        request,
        "recognition/progress.html",
        {"term": term, "alliances": alliances, "no_family": guardian is None},
    )
