"""Admin for certificates (docs/CERTIFICATES.md, "Rules and issuing"), scoped by
certificates.selectors.

- **证书规则**: an alliance's rules, saved through ``services.rule_update`` (what
  is certified, at what threshold); alliance coordinators their alliance's,
  district administrators their district's alliances', city administrators all. The alliance and kind of a rule stay as made; a
  rule is switched off, not deleted.
- **证书样式**: an alliance's issuer name, signatory, footer and seal image,
  saved through ``services.design_update`` (the seal is re-encoded there).
- **证书**: read-only (``certificates_manageable_by``). Revoking and re-issuing
  are on the coordinators' page, which tells the holder; each row links there.
- **证书发放批次**: read-only (``batches_visible_to``); batches are started with
  the button on the coordinators' page or by the beat.
"""

from __future__ import annotations

from django.contrib import admin
from django.core.files.uploadedfile import UploadedFile
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from members import access
from members.admin_scoping import (
    ScopedAdminMixin,
    ServiceForm,
    ServiceRowsReadOnlyMixin,
    ServiceSaveMixin,
    pick_rule_register,
)
from members.models import Alliance

from . import selectors, services
from .errors import CertificateError
from .models import (
    Certificate,
    CertificateBatch,
    CertificateDesign,
    CertificatePreference,
    CertificateRule,
)

# -- pick rules: the rows a picker, a list filter or a popup may offer -------------


def _issuing_alliance_ids(user):
    return selectors.alliances_issuing_for(user).order_by().values("pk")


def _by_alliance(model):
    def rule(user):
        if access.sees_every_district(user):
            return None
        return model._default_manager.filter(alliance__in=_issuing_alliance_ids(user))

    return rule


def _certificates(user):
    if access.sees_every_district(user):
        return None
    return selectors.certificates_manageable_by(user)


def _batches(user):
    if access.sees_every_district(user):
        return None
    return selectors.batches_visible_to(user)


pick_rule_register(CertificateRule, _by_alliance(CertificateRule))
pick_rule_register(CertificateDesign, _by_alliance(CertificateDesign))
pick_rule_register(Certificate, _certificates)
pick_rule_register(CertificateBatch, _batches)
# A family's own choice: nobody else picks it (superusers only).
pick_rule_register(
    CertificatePreference,
    lambda user: None if user.is_superuser else CertificatePreference.objects.none(),
)


def _issuing_alliances(user):
    if access.sees_every_district(user):
        return Alliance.objects.all()
    return selectors.alliances_issuing_for(user)


def _issues_for_some_alliance(user) -> bool:
    # From the roles already read for the page, without a query: the admin asks
    # this of every model on every page (its app list), as alliances_issuing_for
    # decides it (city administrators; district administrators and alliance
    # coordinators through coordinated_alliance_ids, which holds a district's
    # alliances: a district without an alliance has nothing to issue).
    if not getattr(user, "is_active", False):
        return False
    return access.sees_every_district(user) or bool(access.coordinated_alliance_ids(user))


class _IssuingAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Rows of the alliances the user issues for (alliance coordinators, district)."""

    show_full_result_count = False
    pick_rules = {"alliance": _issuing_alliances}

    def get_queryset(self, request):
        rows = super().get_queryset(request).select_related("alliance")
        if access.sees_every_district(request.user):
            return rows
        return rows.filter(alliance__in=_issuing_alliance_ids(request.user))

    def _issues(self, request) -> bool:
        return _issues_for_some_alliance(request.user)

    def has_module_permission(self, request):
        return self._issues(request)

    def has_view_permission(self, request, obj=None):
        return self._issues(request)

    def has_add_permission(self, request):
        return self._issues(request)

    def has_change_permission(self, request, obj=None):
        if obj is None:
            return self._issues(request)
        return selectors.can_issue_for(request.user, obj.alliance_id)

    def has_delete_permission(self, request, obj=None):
        return False  # a rule is switched off; a design stays with its alliance

    #: Fields that stay as made, besides the alliance.
    kept_fields: list[str] = []

    def get_readonly_fields(self, request, obj=None):
        return ["alliance", *self.kept_fields] if obj is not None else []


# -- 证书规则 ------------------------------------------------------------------------


class RuleAdminForm(ServiceForm):
    service_error = CertificateError

    class Meta:
        model = CertificateRule
        fields = [
            "alliance",
            "kind",
            "is_active",
            "attendance_percent",
            "lessons_required",
            "credits_min",
            "hours_min",
            "mentions_child",
        ]

    def service_call(self, data):
        alliance = data.get("alliance") or self.instance.alliance
        kind = data.get("kind") or self.instance.kind
        fields = {name: data.get(name) for name in services.RULE_FIELDS if name in self.fields}
        return services.rule_update(user=self.request.user, alliance=alliance, kind=kind, **fields)


@admin.register(CertificateRule)
class CertificateRuleAdmin(ServiceSaveMixin, _IssuingAdmin):
    form = RuleAdminForm
    kept_fields = ["kind"]
    list_display = [
        "alliance",
        "kind",
        "is_active",
        "attendance_percent",
        "lessons_required",
        "credits_min",
        "hours_min",
        "mentions_child",
        "updated_at",
    ]
    list_filter = ["kind", "is_active"]
    search_fields = ["alliance__name"]
    list_select_related = ["alliance"]


# -- 证书样式 ------------------------------------------------------------------------


class DesignAdminForm(ServiceForm):
    service_error = CertificateError

    class Meta:
        model = CertificateDesign
        fields = ["alliance", "issuer_name", "signatory", "footer", "seal"]

    def service_call(self, data):
        seal = data.get("seal")
        return services.design_update(
            user=self.request.user,
            alliance=data.get("alliance") or self.instance.alliance,
            issuer_name=data.get("issuer_name") or "",
            signatory=data.get("signatory") or "",
            footer=data.get("footer") or "",
            seal=seal if isinstance(seal, UploadedFile) else None,
            seal_remove=seal is False,  # the "clear" box of the file field
        )


@admin.register(CertificateDesign)
class CertificateDesignAdmin(ServiceSaveMixin, _IssuingAdmin):
    form = DesignAdminForm
    list_display = ["alliance", "issuer_name", "signatory", "has_seal", "updated_at"]
    search_fields = ["alliance__name", "issuer_name"]
    list_select_related = ["alliance"]

    @admin.display(description=_("印章"), boolean=True)
    def has_seal(self, obj):
        return bool(obj.seal)


# -- 证书 ----------------------------------------------------------------------------


def _page_link(url_name: str, args, text: str):
    try:
        url = reverse(url_name, args=args)
    except NoReverseMatch:  # the pages are not mounted
        return "—"
    return format_html('<a href="{}">{}</a>', url, text)


@admin.register(Certificate)
class CertificateAdmin(ServiceRowsReadOnlyMixin, ScopedAdminMixin, admin.ModelAdmin):
    show_full_result_count = False
    list_display = [
        "code_label",
        "kind",
        "subject_title",
        "holder_name",
        "status",
        "unit",
        "term",
        "issued_on",
    ]
    list_filter = ["status", "kind", "term", "alliance"]
    search_fields = ["code", "subject_title", "holder_name"]
    list_select_related = ["unit", "term"]
    fields = [
        "code_label",
        "key",
        "revision",
        "kind",
        "alliance",
        "unit",
        "term",
        "holder_name",
        "child_nickname",
        "subject_title",
        "course",
        "credits",
        "hours",
        "issued_on",
        "status",
        "revoked_at",
        "revoke_reason",
        "superseded_by",
        "batch",
        "pdf_rendered_at",
        "created_at",
        "manage_link",
    ]
    readonly_fields = fields

    @admin.display(description=_("验证码"), ordering="code")
    def code_label(self, obj):
        return obj.code_display

    @admin.display(description=_("处理"))
    def manage_link(self, obj):
        if not obj.can_be_changed:
            return "—"
        return format_html(
            "{} · {}",
            _page_link("certificates:revoke", [obj.pk], gettext("到证书管理页撤销")),
            _page_link("certificates:reissue", [obj.pk], gettext("重新发放")),
        )

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        if access.sees_every_district(request.user):
            return rows
        return rows.filter(pk__in=selectors.certificates_manageable_by(request.user).values("pk"))

    def has_module_permission(self, request):
        return access.is_coordinator(request.user)

    def has_view_permission(self, request, obj=None):
        return access.is_coordinator(request.user)


# -- 证书发放批次 ---------------------------------------------------------------------


@admin.register(CertificateBatch)
class CertificateBatchAdmin(ServiceRowsReadOnlyMixin, ScopedAdminMixin, admin.ModelAdmin):
    show_full_result_count = False
    list_display = [
        "alliance",
        "term",
        "trigger",
        "status",
        "total",
        "processed",
        "issued",
        "skipped",
        "created_at",
    ]
    list_filter = ["status", "trigger", "term"]
    list_select_related = ["alliance", "term"]
    fields = [
        "alliance",
        "term",
        "trigger",
        "status",
        "total",
        "processed",
        "issued",
        "skipped",
        "error",
        "created_at",
        "started_at",
        "finished_at",
        "progress_link",
    ]
    readonly_fields = fields

    @admin.display(description=_("进度"))
    def progress_link(self, obj):
        return _page_link("certificates:batch", [obj.pk], gettext("查看发放进度"))

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        if access.sees_every_district(request.user):
            return rows
        return rows.filter(pk__in=selectors.batches_visible_to(request.user).values("pk"))

    def has_module_permission(self, request):
        return _issues_for_some_alliance(request.user)

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)
