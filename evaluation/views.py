"""Pages of the evaluation loop: a unit's panel (targets, feedback, improvement
actions, timeline) with its forms, and the 定标 table. Thin: the selectors read
and scope (a unit, feedback or action out of the user's reach is 404), the
services write, and an EvaluationError is shown on the field it names."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from members.decorators import coordinator_required

from . import selectors, services
from .errors import EvaluationError
from .forms import ActionForm, ActionUpdateForm, FeedbackForm
from .models import Feedback

TARGETS_PAGE_SIZE = 25


def _show_error(form, error: EvaluationError) -> None:
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


def _or_404(read, **kwargs):
    try:
        return read(**kwargs)
    except EvaluationError as error:
        raise Http404(error.message) from error


def _term(request):
    code = request.GET.get("term") or request.POST.get("term")
    return _or_404(selectors.term_choose, code=code)


def _unit_url(unit_id: int, term, anchor: str = "") -> str:
    url = reverse("evaluation:unit", args=[unit_id])
    if term is not None:
        url += "?" + urlencode({"term": term.code})
    return url + (f"#{anchor}" if anchor else "")


def _feedback_label(feedback) -> str:
    when = timezone.localtime(feedback.written_at).date().isoformat()
    return f"{feedback.written_as} · {when}"


def _update_form(action, data=None) -> ActionUpdateForm:
    form = ActionUpdateForm(
        data,
        prefix=f"a{action.pk}",
        initial={"status": action.next_statuses[-1][0] if action.next_statuses else ""},
    )
    form.fields["status"].choices = action.next_statuses
    return form


def _unit_page(request, unit, term, *, feedback_form=None, action_form=None, failed=None):
    """The full page; a refused form shows again with its errors (``failed``: the
    action whose update form was refused, as (action id, bound form))."""
    if term is None:
        return render(request, "evaluation/unit.html", {"unit": unit, "evaluation": None})
    panel = selectors.evaluation_panel(user=request.user, unit=unit, term=term)
    panel["full_page"] = True
    if panel["can_update_action"]:
        for action in panel["actions"]:
            if action.next_statuses:
                bound = failed[1] if failed and failed[0] == action.pk else None
                action.update_form = bound or _update_form(action)
    feedback_choices = [(item.pk, _feedback_label(item)) for item in panel["feedback"]]
    context = {
        "unit": unit,
        "term": term,
        "terms": selectors.term_list(),
        "evaluation": panel,
        "feedback_form": feedback_form or FeedbackForm(),
        "action_form": action_form or ActionForm(feedback_choices=feedback_choices),
    }
    return render(request, "evaluation/unit.html", context)


@coordinator_required
@require_safe
def unit_page(request, unit_id: int):
    unit = _or_404(selectors.unit_for_viewer, user=request.user, unit_id=unit_id)
    return _unit_page(request, unit, _term(request))


@coordinator_required
@require_POST
def feedback_write(request, unit_id: int):
    unit = _or_404(selectors.unit_for_viewer, user=request.user, unit_id=unit_id)
    term = _term(request)
    form = FeedbackForm(request.POST)
    if term is not None and form.is_valid():
        try:
            feedback = services.feedback_write(
                actor=request.user,
                unit_id=unit.pk,
                term_id=term.pk,
                strengths=form.cleaned_data["strengths"],
                problems=form.cleaned_data["problems"],
            )
        except EvaluationError as error:
            _show_error(form, error)
        else:
            messages.success(request, _("已提交考核反馈，并通知了单位协调员。"))
            return redirect(_unit_url(unit.pk, term, f"feedback-{feedback.pk}"))
    return _unit_page(request, unit, term, feedback_form=form)


@coordinator_required
@require_POST
def feedback_acknowledge(request, feedback_id: int):
    feedback = _or_404(selectors.feedback_for_viewer, user=request.user, feedback_id=feedback_id)
    try:
        services.feedback_acknowledge(actor=request.user, feedback_id=feedback.pk)
    except EvaluationError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("已确认这条反馈。请填写改进措施。"))
    return redirect(_unit_url(feedback.unit_id, feedback.term, f"feedback-{feedback.pk}"))


@coordinator_required
@require_POST
def action_add(request, unit_id: int):
    unit = _or_404(selectors.unit_for_viewer, user=request.user, unit_id=unit_id)
    term = _term(request)
    feedback_ids = []
    if term is not None:
        feedback_ids = list(
            Feedback.objects.filter(unit=unit, term=term).values_list("pk", flat=True)
        )
    form = ActionForm(request.POST, feedback_choices=[(pk, str(pk)) for pk in feedback_ids])
    if term is not None and form.is_valid():
        data = form.cleaned_data
        try:
            action = services.action_add(
                actor=request.user,
                unit_id=unit.pk,
                term_id=term.pk,
                what=data["what"],
                owner=data["owner"],
                due_on=data["due_on"],
                feedback_id=data["feedback"],
            )
        except EvaluationError as error:
            _show_error(form, error)
        else:
            messages.success(request, _("已添加改进措施“%(what)s”。") % {"what": action.what})
            return redirect(_unit_url(unit.pk, term, f"action-{action.pk}"))
    # Shown again with the page's own feedback labels.
    return _unit_page(request, unit, term, action_form=_relabel(form, unit, term))


def _relabel(form: ActionForm, unit, term) -> ActionForm:
    if term is not None:
        feedback = Feedback.objects.filter(unit=unit, term=term)
        form.fields["feedback"].choices = [
            ("", _("（整个学期）")),
            *[(f.pk, _feedback_label(f)) for f in feedback],
        ]
    return form


@coordinator_required
@require_POST
def action_update(request, action_id: int):
    action = _or_404(selectors.action_for_viewer, user=request.user, action_id=action_id)
    form = ActionUpdateForm(request.POST, prefix=f"a{action.pk}")
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.action_update(
                actor=request.user,
                action_id=action.pk,
                status=data["status"],
                note=data["note"],
                evidence=data["evidence"],
            )
        except EvaluationError as error:
            _show_error(form, error)
        else:
            messages.success(request, _("已更新措施进展。"))
            return redirect(_unit_url(action.unit_id, action.term, f"action-{action.pk}"))
    return _unit_page(request, action.unit, action.term, failed=(action.pk, form))


# --- 定标 -------------------------------------------------------------------------------


def _targets_scope(request):
    units = selectors.units_for_targets(request.user)
    if not selectors.may_set_targets(request.user):
        raise PermissionDenied
    alliances = list(selectors.alliance_filter_choices(request.user))
    alliance = None
    raw = request.GET.get("alliance") or request.POST.get("alliance")
    if raw:
        alliance = next((a for a in alliances if str(a.pk) == raw), None)
        if alliance is None:
            raise Http404(_("没有找到这个联盟，或您无权查看。"))
        units = selectors.units_in_alliance(units, alliance.pk)
    return units.order_by("name", "pk"), alliances, alliance


@coordinator_required
@require_http_methods(["GET", "POST"])
def targets(request):
    units, alliances, alliance = _targets_scope(request)
    term = _term(request)
    if term is None:
        return render(request, "evaluation/targets.html", {"term": None})
    page = Paginator(units, TARGETS_PAGE_SIZE).get_page(request.GET.get("page"))
    table = selectors.targets_page(user=request.user, term=term, units=page.object_list)
    errors: dict[str, str] = {}
    posted: dict[str, str] = {}
    if request.method == "POST":
        cells = {c["name"]: (row["unit"], c) for row in table["rows"] for c in row["cells"]}
        for key in request.POST:
            if key.startswith("t-") and key not in cells:
                raise Http404(_("没有找到这个单位，或您无权查看。"))
        changes = []
        for name, (unit, cell) in cells.items():
            raw = request.POST.get(name, "").strip()
            posted[name] = raw
            if raw == "":
                continue
            r = cell["responsibility"]
            try:
                value = services.target_value_clean(metric=r.metric, value=raw, name=r.name)
            except EvaluationError as error:
                errors[name] = error.message
                continue
            if cell["target"] is None or cell["target"].value != value:
                changes.append((unit, r, value))
        if not errors:
            try:
                with transaction.atomic():
                    for unit, r, value in changes:
                        services.unit_target_set(
                            actor=request.user,
                            unit_id=unit.pk,
                            term_id=term.pk,
                            responsibility_id=r.pk,
                            value=value,
                        )
            except EvaluationError as error:
                messages.error(request, error.message)
            else:
                messages.success(request, _("已保存 %(n)s 项目标。") % {"n": len(changes)})
                query = {"term": term.code, "page": page.number}
                if alliance:
                    query["alliance"] = alliance.pk
                return redirect(reverse("evaluation:targets") + "?" + urlencode(query))
    for row in table["rows"]:
        for cell in row["cells"]:
            cell["error"] = errors.get(cell["name"], "")
            cell["posted"] = posted.get(cell["name"])
    context = {
        "term": term,
        "terms": selectors.term_list(),
        "page": page,
        "table": table,
        "alliances": alliances,
        "alliance": alliance,
        "has_errors": bool(errors),
    }
    return render(request, "evaluation/targets.html", context, status=200)


@coordinator_required
@require_POST
def targets_default(request):
    units, _alliances, alliance = _targets_scope(request)
    term = _term(request)
    if term is None:
        raise Http404(_("没有找到这个学期。"))
    unit_ids = list(units.values_list("pk", flat=True)) if alliance else None
    try:
        written = services.unit_targets_default(
            actor=request.user, term_id=term.pk, unit_ids=unit_ids
        )
    except EvaluationError as error:
        messages.error(request, error.message)
    else:
        if written:
            messages.success(request, _("已按默认目标填充 %(n)s 项。") % {"n": written})
        else:
            messages.info(request, _("没有需要填充的目标：范围内各单位本学期的目标都已设定。"))
    query = {"term": term.code}
    if alliance:
        query["alliance"] = alliance.pk
    return redirect(reverse("evaluation:targets") + "?" + urlencode(query))
