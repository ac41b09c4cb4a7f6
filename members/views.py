"""Views of the members app: the family (guardians, children, co-guardian
invitations), consent, "my data" and the coordinator's families of a unit.

Thin callers of members.services and members.selectors. A parent only ever
reaches their own family: objects are looked up inside ``request.user``'s
family, so a guessed id is a 404.
"""

from __future__ import annotations

import json

from allauth.account.adapter import get_adapter
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from . import access, selectors, services
from .decorators import coordinator_required
from .errors import MembersError
from .forms import ApiTokenForm, ChildForm, ConfirmDeleteForm, GuardianForm, InvitationForm
from .models import ApiToken, ConsentRecord, FamilyInvitation, MemberUnit

CHILDREN_INFO = ConsentRecord.Document.CHILDREN_INFO


def _ip(request: HttpRequest) -> str | None:
    try:
        return get_adapter(request).get_client_ip(request)
    except Exception:  # a malformed proxy header must not break the page
        return None


def _family_or_setup(request: HttpRequest):
    """The user's guardian profile, or a redirect to set one up."""
    guardian = selectors.guardian_for_user(request.user)
    if guardian is None:
        messages.info(request, _("请先填写监护人信息，建立您的家庭。"))
        return None, redirect("members:family")
    return guardian, None


def _safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


# --- the family ---------------------------------------------------------------------


@never_cache
@login_required
def family(request: HttpRequest) -> HttpResponse:
    guardian = selectors.guardian_for_user(request.user)
    if guardian is None:
        form = GuardianForm(request.POST or None, initial={"phone": request.user.phone or ""})
        if request.method == "POST" and form.is_valid():
            try:
                services.family_create_for_user(
                    user=request.user,
                    relation=form.cleaned_data["relation"],
                    phone=form.cleaned_data["phone"] or "",
                    home_community=form.cleaned_data["home_community"],
                    display_name=form.cleaned_data["display_name"],
                )
            except MembersError as exc:
                # A second tap that lost the race to the first: the family it asked
                # for now exists, so answer as a later visit would, with the family.
                if exc.code != "already_in_family":
                    messages.error(request, exc.message)
            else:
                messages.success(request, _("家庭已建立。现在可以添加孩子或邀请家人了。"))
            return redirect("members:family")
        return render(request, "members/family_setup.html", {"form": form})

    family = guardian.family
    return render(
        request,
        "members/family.html",
        {
            "guardian": guardian,
            "family": family,
            "guardians": selectors.family_guardians(family=family),
            "children": selectors.family_children(family=family),
            "invitations": selectors.family_invitations_open(family=family),
            "consent_current": selectors.consent_is_current(
                user=request.user, document=CHILDREN_INFO
            ),
        },
    )


@never_cache
@login_required
def guardian_edit(request: HttpRequest) -> HttpResponse:
    guardian, response = _family_or_setup(request)
    if response:
        return response
    form = GuardianForm(
        request.POST or None,
        initial={
            "display_name": request.user.display_name,
            "relation": guardian.relation,
            "phone": guardian.phone,
            "home_community": guardian.home_community,
        },
    )
    if request.method == "POST" and form.is_valid():
        services.guardian_update(
            guardian=guardian,
            relation=form.cleaned_data["relation"],
            phone=form.cleaned_data["phone"] or "",
            home_community=form.cleaned_data["home_community"],
            display_name=form.cleaned_data["display_name"],
        )
        messages.success(request, _("监护人信息已保存。"))
        return redirect("members:family")
    return render(request, "members/guardian_form.html", {"form": form})


@never_cache
@login_required
def child_add(request: HttpRequest) -> HttpResponse:
    guardian, response = _family_or_setup(request)
    if response:
        return response
    if not selectors.consent_is_current(user=request.user, document=CHILDREN_INFO):
        # The rules come first, on their own page; then back here.
        return redirect(f"{_children_rules_url()}?{urlencode({'next': request.path})}")
    form = ChildForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            child = services.child_add(
                family=guardian.family,
                actor=request.user,
                nickname=form.cleaned_data["nickname"],
                birth_year=form.cleaned_data["birth_year"],
                stage=form.cleaned_data["stage"],
                school=form.cleaned_data["school"],
                ip_address=_ip(request),
            )
        except MembersError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request,
                _("已添加孩子“%(name)s”，学段：%(stage)s。")
                % {"name": child.nickname, "stage": child.get_stage_display()},
            )
            return redirect("members:family")
    return render(request, "members/child_form.html", {"form": form, "title": _("添加孩子")})


def _own_child(request: HttpRequest, pk: int):
    guardian = selectors.guardian_for_user(request.user)
    if guardian is None:
        raise Http404
    # Looked up inside the user's own family: another family's child is a 404.
    return guardian, get_object_or_404(selectors.family_children(family=guardian.family), pk=pk)


@never_cache
@login_required
def child_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _guardian, child = _own_child(request, pk)
    form = ChildForm(
        request.POST or None,
        initial={
            "nickname": child.nickname,
            "birth_year": child.birth_year,
            "stage": child.stage,
            "school": child.school,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.child_update(
                child=child,
                actor=request.user,
                nickname=form.cleaned_data["nickname"],
                birth_year=form.cleaned_data["birth_year"],
                stage=form.cleaned_data["stage"],
                school=form.cleaned_data["school"],
            )
        except MembersError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("孩子信息已保存。"))
            return redirect("members:family")
    return render(
        request,
        "members/child_form.html",
        {"form": form, "child": child, "title": _("修改孩子信息")},
    )


@never_cache
@login_required
def child_delete(request: HttpRequest, pk: int) -> HttpResponse:
    _guardian, child = _own_child(request, pk)
    if request.method == "POST":
        services.child_delete(child=child, actor=request.user, ip_address=_ip(request))
        messages.success(request, _("孩子的信息已删除。"))
        return redirect("members:family")
    return render(request, "members/child_confirm_delete.html", {"child": child})


# --- co-guardian invitations --------------------------------------------------------


@never_cache
@login_required
def invite(request: HttpRequest) -> HttpResponse:
    guardian, response = _family_or_setup(request)
    if response:
        return response
    form = InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.family_invitation_create(
                family=guardian.family,
                invited_by=request.user,
                relation=form.cleaned_data["relation"],
                phone=form.cleaned_data["phone"] or "",
                email=form.cleaned_data["email"] or "",
                base_url=request.build_absolute_uri("/"),
                ip_address=_ip(request),
            )
        except MembersError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("邀请已发出。对方打开链接注册或登录后即可加入家庭。"))
            return redirect("members:family")
    return render(request, "members/invite_form.html", {"form": form})


@require_POST
@login_required
def invitation_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    guardian = selectors.guardian_for_user(request.user)
    if guardian is None:
        raise Http404
    invitation = get_object_or_404(
        FamilyInvitation, pk=pk, family=guardian.family, accepted_at__isnull=True
    )
    services.family_invitation_withdraw(invitation=invitation, actor=request.user)
    messages.success(request, _("邀请已撤回。"))
    return redirect("members:family")


@never_cache
@login_required
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = selectors.family_invitation_open_by_token(token)
    if invitation is None:
        return render(
            request,
            "members/invitation_accept.html",
            {"invalid": True},
            status=404,
        )
    if request.method == "POST":
        try:
            services.family_invitation_accept(
                token=token, user=request.user, ip_address=_ip(request)
            )
        except MembersError as exc:
            messages.error(request, exc.message)
            return redirect("members:invitation_accept", token=token)
        messages.success(request, _("您已加入家庭，可以一起为孩子报名了。"))
        return redirect("members:family")
    return render(
        request,
        "members/invitation_accept.html",
        {"invitation": invitation, "inviter": invitation.invited_by},
    )


# --- consent and privacy --------------------------------------------------------------


def _children_rules_url() -> str:
    from django.urls import reverse

    return reverse("members:children_rules")


def privacy(request: HttpRequest) -> HttpResponse:
    return render(
        request, "members/privacy.html", {"version": selectors.current_version("privacy")}
    )


@never_cache
def children_rules(request: HttpRequest) -> HttpResponse:
    """The children's-information rules, on a page of their own, with the agreement."""
    agreed = selectors.consent_is_current(user=request.user, document=CHILDREN_INFO)
    next_url = _safe_next(request, default="")
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if request.POST.get("agree") != "yes":
            messages.error(request, _("请勾选“我已阅读并同意”后再继续。"))
        else:
            if not agreed:
                services.consent_record(
                    user=request.user,
                    document=CHILDREN_INFO,
                    family=selectors.family_for_user(request.user),
                    ip_address=_ip(request),
                )
            messages.success(request, _("感谢您的同意，现在可以添加孩子信息了。"))
            return redirect(next_url or "members:child_add")
    return render(
        request,
        "members/children_rules.html",
        {
            "version": selectors.current_version(CHILDREN_INFO),
            "agreed": agreed,
            "next": next_url,
        },
    )


# --- my data ----------------------------------------------------------------------------


@never_cache
@login_required
def my_data(request: HttpRequest) -> HttpResponse:
    guardian = selectors.guardian_for_user(request.user)
    other_guardians = 0
    if guardian:
        other_guardians = selectors.family_guardians(family=guardian.family).count() - 1
    return render(
        request,
        "members/my_data.html",
        {"guardian": guardian, "other_guardians": other_guardians},
    )


def _export_filename(ext: str) -> str:
    return f"my-family-data-{timezone.localdate():%Y%m%d}.{ext}"


@never_cache
@login_required
def my_data_json(request: HttpRequest) -> HttpResponse:
    data = selectors.family_data_export(user=request.user)
    services.data_export_record(user=request.user, fmt="json", ip_address=_ip(request))
    response = HttpResponse(
        json.dumps(data, ensure_ascii=False, indent=2, cls=DjangoJSONEncoder),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{_export_filename("json")}"'
    return response


@never_cache
@login_required
def my_data_html(request: HttpRequest) -> HttpResponse:
    data = selectors.family_data_export(user=request.user)
    services.data_export_record(user=request.user, fmt="html", ip_address=_ip(request))
    # A standalone page (styles inline), readable offline once downloaded.
    html = render_to_string("members/my_data_export.html", {"data": data}, request=request)
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_export_filename("html")}"'
    return response


@never_cache
@login_required
def account_delete(request: HttpRequest) -> HttpResponse:
    guardian = selectors.guardian_for_user(request.user)
    other_guardians = 0
    children = 0
    if guardian:
        other_guardians = selectors.family_guardians(family=guardian.family).count() - 1
        children = selectors.family_children(family=guardian.family).count()
    form = ConfirmDeleteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = request.user
        try:
            services.account_delete(user=user, ip_address=_ip(request))
        except MembersError as exc:
            messages.error(request, exc.message)
            return redirect("members:my_data")
        logout(request)
        messages.success(request, _("您的账号和个人信息已删除。感谢您使用协同育人门户。"))
        return redirect("portal:home")
    return render(
        request,
        "members/account_delete.html",
        {
            "form": form,
            "guardian": guardian,
            "other_guardians": other_guardians,
            "children": children,
        },
    )


# --- coordinators ---------------------------------------------------------------------


@never_cache
@coordinator_required
def unit_list(request: HttpRequest) -> HttpResponse:
    """The schools a coordinator may see, each linking to its families."""
    units = (
        access.units_visible_to(request.user)
        .filter(kind__in=selectors.SCHOOL_KINDS)
        .select_related("region")
        .order_by("name", "pk")
    )
    page = Paginator(units, 50).get_page(request.GET.get("page"))
    return render(request, "members/unit_list.html", {"page": page})


@never_cache
@coordinator_required
def unit_families(request: HttpRequest, unit_id: int) -> HttpResponse:
    """Families with a child at one school, for a coordinator who may see that school."""
    unit = get_object_or_404(MemberUnit, pk=unit_id)
    if not access.can_view_unit(request.user, unit):
        raise Http404  # not "forbidden": another unit's existence is not confirmed
    page = Paginator(selectors.family_list_for_unit(user=request.user, unit=unit), 50).get_page(
        request.GET.get("page")
    )
    return render(request, "members/unit_families.html", {"unit": unit, "page": page})


# --- API tokens: apps and devices that may use the account (docs/API.md) ---------------


@never_cache
@login_required
def api_tokens(request: HttpRequest) -> HttpResponse:
    """The person's API tokens, with revoke buttons and a form to make one. A new
    token is shown on the answer to the form only: it is not stored anywhere."""
    form = ApiTokenForm(request.POST or None, user=request.user)
    new_token = ""
    if request.method == "POST" and form.is_valid():
        try:
            _token, new_token = services.api_token_create(
                user=request.user,
                name=form.cleaned_data["name"],
                scopes=form.token_scopes(),
                unit=form.cleaned_data.get("unit"),
                ip_address=_ip(request),
            )
        except MembersError as exc:
            form.add_error(ApiTokenForm.SERVICE_ERROR_FIELDS.get(exc.code), exc.message)
        else:
            form = ApiTokenForm(user=request.user)
    # The live ones (at most MAX_LIVE_TOKENS) and the ten last revoked: a short page.
    mine = selectors.api_tokens_of(user=request.user)
    tokens = list(mine.filter(revoked_at__isnull=True))
    tokens += list(mine.filter(revoked_at__isnull=False)[:10])
    labels = dict(ApiToken.Scope.choices)
    for token in tokens:
        token.scope_labels = [str(labels.get(s, s)) for s in token.scope_list]
    return render(
        request,
        "members/api_tokens.html",
        {"form": form, "tokens": tokens, "new_token": new_token},
    )


@require_POST
@login_required
def api_token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    # Only the person's own tokens: another's id is a 404.
    token = get_object_or_404(selectors.api_tokens_of(user=request.user), pk=pk)
    if services.api_token_revoke(token=token, actor=request.user, ip_address=_ip(request)):
        messages.success(
            request,
            _("已撤销“%(name)s”：使用它的应用或设备从现在起无法再访问您的账号。")
            % {"name": token.name},
        )
    return redirect("members:api_tokens")
