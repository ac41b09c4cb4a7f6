"""Admin for the growth handbook: items and claims, scoped by members/access.py.

Items: a coordinator sees the default set and the items of the alliances they
see, and changes only their own alliance's (a district administrator: those of
their district's alliances; only a city administrator changes the defaults,
city-wide reference data); saving goes through
``handbook_item_save``. Claims are read-only here: every field of a claim is
the services' (status, points, decisions, flags, the photo's fingerprint, the
tallies behind the limits); 批准 and 退回 are actions routed through
``claim_decide``, one audit entry per claim, exactly as on the review page. The
tallies (ClaimTally) have no admin page: they are the database's side of the
limits and change only with claims. Every picker is scoped
(members/admin_scoping.py).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Q
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from members import access
from members.admin_scoping import (
    ScopedAdminMixin,
    ServiceRowsReadOnlyMixin,
    ServiceWriteMixin,
    pick_rule_register,
    pick_rule_register_by_unit,
)

from . import selectors, services
from .errors import HandbookError
from .models import Claim, ClaimTally, HandbookItem


def _items_pickable(user):
    """The default set and the items of the alliances the user sees."""
    if access.sees_every_district(user):
        return None
    return HandbookItem.objects.filter(
        Q(alliance__isnull=True) | Q(alliance__in=access.alliances_visible_to(user).values("pk"))
    )


pick_rule_register(HandbookItem, _items_pickable)
pick_rule_register_by_unit(Claim, "unit")
pick_rule_register(
    ClaimTally,
    lambda user: (
        None
        if access.sees_every_district(user)
        else ClaimTally.objects.filter(family__in=access.families_visible_to(user).values("pk"))
    ),
)


# -- items ------------------------------------------------------------------------


class HandbookItemAdminForm(forms.ModelForm):
    class Meta:
        model = HandbookItem
        fields = ["alliance", *services.ITEM_FIELDS]

    def clean(self):
        data = super().clean()
        # handbook_item_save's own checks (services.item_validate), as form errors:
        # the admin cannot show a refusal from save_model next to the field.
        # The alliance is read-only once the item exists (not in the form then).
        alliance = data.get("alliance") if "alliance" in self.fields else self.instance.alliance
        candidate = HandbookItem(
            pk=self.instance.pk,
            alliance=alliance,
            **{name: data.get(name) for name in services.ITEM_FIELDS if name in data},
        )
        try:
            services.item_validate(candidate)
        except HandbookError as error:
            field = error.field if error.field in self.fields else None
            if field is None or field not in self.errors:
                self.add_error(field, error.message)
        return data


@admin.register(HandbookItem)
class HandbookItemAdmin(ServiceWriteMixin, ScopedAdminMixin, admin.ModelAdmin):
    form = HandbookItemAdminForm
    list_display = [
        "name",
        "kind",
        "alliance_label",
        "points",
        "evidence",
        "is_active",
        "is_sample",
    ]
    list_filter = ["kind", "evidence", "is_active", "alliance"]
    search_fields = ["name"]
    list_select_related = ["alliance"]
    # An item belongs to an alliance the user coordinates, not merely sees.
    pick_rules = {"alliance": access.alliances_changeable_by}

    @admin.display(description=_("联盟"), ordering="alliance__name")
    def alliance_label(self, obj):
        return obj.alliance or gettext("全区默认")

    def get_queryset(self, request):
        items = super().get_queryset(request).select_related("alliance")
        if access.sees_every_district(request.user):
            return items
        return items.filter(
            Q(alliance__isnull=True)
            | Q(alliance__in=access.alliances_visible_to(request.user).values("pk"))
        )

    def _may_change(self, request, obj) -> bool:
        if access.sees_every_district(request.user):
            return True
        if obj is None:
            return access.alliances_changeable_by(request.user).exists()
        if obj.alliance_id is None:
            # City-wide reference data: the city's to edit (the default set has no
            # district link; every alliance without its own set uses it).
            return False
        return obj.alliance_id in access.coordinated_alliance_ids(request.user)

    def has_module_permission(self, request):
        return access.is_staff_member(request.user)

    def has_view_permission(self, request, obj=None):
        return access.is_staff_member(request.user)

    def has_add_permission(self, request):
        return access.is_coordinator(request.user) and self._may_change(request, None)

    def has_change_permission(self, request, obj=None):
        return access.is_coordinator(request.user) and self._may_change(request, obj)

    def has_delete_permission(self, request, obj=None):
        # Claims point at items: an item is taken out of use (在用), not deleted.
        return False

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if "alliance" in form.base_fields and not access.sees_every_district(request.user):
            # Coordinators and district administrators edit their alliances' items;
            # the default set is city-wide reference data, the city's to edit.
            form.base_fields["alliance"].required = True
            form.base_fields["alliance"].empty_label = None
        return form

    def get_readonly_fields(self, request, obj=None):
        # An item's alliance is fixed once made (its claims and tallies follow it).
        return ["alliance"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in services.ITEM_FIELDS}
        alliance_id = (
            obj.alliance_id if change else getattr(form.cleaned_data["alliance"], "pk", None)
        )
        try:
            item = services.handbook_item_save(
                user=request.user,
                alliance_id=alliance_id,
                item_id=obj.pk if change else None,
                **fields,
            )
        except HandbookError as error:
            self.service_refused(request, error.message)
            return
        obj.pk = item.pk


# -- claims -----------------------------------------------------------------------


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("退回原因"),
        max_length=services.REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("家长会看到这段话。"),
    )


@admin.register(Claim)
class ClaimAdmin(ServiceRowsReadOnlyMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Read-only; decisions through claim_decide (actions 批准 / 退回)."""

    list_display = [
        "item",
        "occurred_on",
        "family_label",
        "unit",
        "status",
        "source",
        "flag_burst",
        "flag_reused_photo",
        "created_at",
    ]
    list_filter = ["status", "source", "item__kind", "flag_burst", "flag_reused_photo", "term"]
    search_fields = ["item__name"]
    list_select_related = ["item", "unit"]
    ordering = ["created_at", "pk"]
    actions = ["approve_claims", "reject_claims"]
    # The photo goes out through the handbook's own view (its family and its
    # verifiers, no-store), never as a media address.
    exclude = ["photo"]
    readonly_fields = ["family_label", "photo_link"]
    show_full_result_count = False

    @admin.display(description=_("家庭"))
    def family_label(self, obj):
        return selectors.family_label(obj.family_id)

    @admin.display(description=_("照片"))
    def photo_link(self, obj):
        if not obj.photo:
            return "—"
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">{}</a>',
            reverse("handbook:claim_photo", args=[obj.pk]),
            gettext("查看照片"),
        )

    def get_fields(self, request, obj=None):
        names = [f.name for f in Claim._meta.fields if f.name not in ("id", "photo")]
        return ["family_label", *[n for n in names if n != "family"], "photo_link"]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def get_queryset(self, request):
        claims = super().get_queryset(request)
        if access.sees_every_district(request.user):
            return claims
        return claims.filter(unit__in=access.visible_unit_ids(request.user))

    def has_module_permission(self, request):
        return access.is_staff_member(request.user)

    def has_view_permission(self, request, obj=None):
        return access.is_staff_member(request.user)

    def has_decide_permission(self, request):
        return access.is_staff_member(request.user)

    def _decide_each(self, request, queryset, decision: str, reason: str = "") -> None:
        done = 0
        for claim in queryset.order_by("pk"):
            try:
                services.claim_decide(
                    user=request.user, claim_id=claim.pk, decision=decision, reason=reason
                )
                done += 1
            except HandbookError as error:
                self.message_user(request, f"{claim}: {error.message}", level=messages.WARNING)
        if done:
            text = (
                gettext("已批准 %(n)s 条申报。")
                if decision == "approve"
                else gettext("已退回 %(n)s 条申报。")
            )
            self.message_user(request, text % {"n": done}, level=messages.SUCCESS)

    @admin.action(description=_("批准"), permissions=["decide"])
    def approve_claims(self, request, queryset):
        self._decide_each(request, queryset, "approve")

    @admin.action(description=_("退回…"), permissions=["decide"])
    def reject_claims(self, request, queryset):
        # An intermediate page: the reason the family will read.
        form = RejectForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            self._decide_each(request, queryset, "reject", form.cleaned_data["reason"])
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("退回所选申报"),
            "opts": self.model._meta,
            "form": form,
            "rows": [
                (claim, selectors.family_label(claim.family_id))
                for claim in queryset.select_related("item")[:200]
            ],
            "claim_count": queryset.count(),
            "selected_ids": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "select_across": request.POST.get("select_across", "0"),
        }
        return TemplateResponse(request, "handbook/admin_reject.html", context)
