"""One mechanism for every admin field that points at another row.

A coordinator in the admin must be offered, and must be able to save, only rows
that ``members/access.py`` lets them see: a select's options, an autocomplete's
answers, a raw-id field's label and its lookup popup, a related list filter, an
inline's pickers. Every portal admin (and inline) mixes in ``PickerScopeMixin``;
it asks one *pick rule* per related model, so a new field is scoped the moment
it is added.

Pick rules
    ``pick_rule_register(Model, rule)``: ``rule(user)`` returns the rows of
    ``Model`` that ``user`` may pick, or ``None`` for "every row" (district
    administrators). Each app registers the rules of its own models in its
    admin module (``pick_rule_register_by_unit`` for rows that belong to a unit,
    ``pick_rule_register_shared`` for district-wide reference data such as
    terms and themes). A model without a rule can be picked by superusers only.
    An admin narrows a single field with ``pick_rules = {"field": rule}``
    (e.g. "alliances you coordinate", not merely "alliances you see").

What the mixin does with them
    - form fields (``formfield_for_foreignkey`` / ``formfield_for_manytomany``,
      in admins and inlines alike) get the rule's queryset, so a foreign id in
      a POST is refused with a Chinese form error and nothing is saved;
    - the row being edited keeps its current values (a course's guest
      instructor from another unit stays listed and can be removed);
    - raw-id widgets look their label up through the field's queryset, so
      ``?user=N`` never shows the name of an account outside the rule, and their
      lookup popup passes ``_picker`` so the popup lists only what the field
      accepts;
    - the autocomplete view and the popup changelist narrow the target admin's
      rows to the rule of the field that asked;
    - plain related list filters list only the rule's rows.
"""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.apps import apps
from django.contrib import messages as django_messages
from django.contrib.admin.filters import RelatedFieldListFilter
from django.contrib.admin.utils import NotRelationField, get_fields_from_path
from django.contrib.admin.views.main import IS_POPUP_VAR, ChangeList
from django.contrib.admin.widgets import ForeignKeyRawIdWidget, ManyToManyRawIdWidget
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import transaction
from django.db.models import Model, Q, QuerySet
from django.forms import ModelChoiceField
from django.http import Http404
from django.utils.translation import gettext

from . import access
from .errors import MESSAGES

PickRule = Callable[[object], QuerySet | None]

# The query parameter a raw-id popup carries: "<app_label>.<model_name>.<field>".
PICKER_VAR = "_picker"

_rules: dict[str, PickRule] = {}


def pick_rule_register(model: type[Model], rule: PickRule) -> None:
    """``rule(user)``: the rows of ``model`` that ``user`` may pick (None: all)."""
    _rules[model._meta.label_lower] = rule


def pick_rule_register_shared(model: type[Model]) -> None:
    """District-wide reference data (terms, themes, stages): everyone with admin
    access may pick any row."""
    pick_rule_register(model, lambda user: None)


def pick_rule_register_by_unit(model: type[Model], unit_path: str) -> None:
    """Rows that belong to a unit through ``unit_path`` (e.g. ``"offering__unit"``):
    the units ``access.visible_unit_ids`` gives the user."""

    def rule(user):
        if access.sees_every_district(user):
            return None
        return model._default_manager.filter(**{f"{unit_path}__in": access.visible_unit_ids(user)})

    pick_rule_register(model, rule)


def pick_rule_register_by_user(model: type[Model]) -> None:
    """Rows that belong to a person through ``user`` (their inbox, their WeChat
    identity): the people ``access.users_pickable_by`` gives the user."""

    def rule(user):
        if access.sees_every_district(user):
            return None
        return model._default_manager.filter(user__in=access.users_pickable_by(user).values("pk"))

    pick_rule_register(model, rule)


def pick_rule_for(model: type[Model]) -> PickRule | None:
    return _rules.get(model._meta.label_lower)


def _superusers_only(user):
    return None if getattr(user, "is_superuser", False) else _NONE


_NONE = object()  # sentinel: "no rows", resolved against the model in pickable()


def pickable(user, model: type[Model], rule: PickRule | None = None) -> QuerySet | None:
    """The rows of ``model`` that ``user`` may pick; ``None`` means every row."""
    if not getattr(user, "is_active", False):
        return model._default_manager.none()
    rule = rule or pick_rule_for(model) or _superusers_only
    rows = rule(user)
    if rows is _NONE:
        return model._default_manager.none()
    return rows


def narrow(queryset: QuerySet, allowed: QuerySet | None) -> QuerySet:
    """``queryset`` limited to ``allowed``, keeping its ordering (a subquery, no
    DISTINCT: the rules may use DISTINCT, and querysets with it do not combine)."""
    if allowed is None:
        return queryset
    return queryset.filter(pk__in=allowed.order_by().values("pk"))


def out_of_scope_message(model: type[Model]) -> str:
    return str(MESSAGES["pick_out_of_scope"] % {"model": model._meta.verbose_name})


# -- the source side: which rows may this field take? ----------------------------


def _field_rule(model_admin, db_field) -> PickRule | None:
    return (getattr(model_admin, "pick_rules", None) or {}).get(db_field.name)


def _source_admins(admin_site, source_model):
    """The admin and the inlines that edit ``source_model`` (their pick_rules apply)."""
    registered = admin_site._registry.get(source_model)
    if registered is not None:
        yield registered
    for model_admin in admin_site._registry.values():
        for inline in model_admin.inlines:
            if inline.model is source_model:
                yield inline


def field_pickable(request, admin_site, source_model, db_field) -> QuerySet | None:
    """The rows ``db_field`` of ``source_model`` accepts for this request's user."""
    for model_admin in _source_admins(admin_site, source_model):
        rule = _field_rule(model_admin, db_field)
        if rule is not None:
            return pickable(request.user, db_field.related_model, rule)
    return pickable(request.user, db_field.related_model)


def _asking_field(request, model):
    """The (source model, field) whose picker is asking for rows of ``model``:
    the autocomplete view's app_label/model_name/field_name, or a raw-id
    popup's ``_picker``. None when no picker asks."""
    match = getattr(request, "resolver_match", None)
    if match is not None and match.url_name == "autocomplete":
        names = [request.GET.get(k, "") for k in ("app_label", "model_name", "field_name")]
    elif IS_POPUP_VAR in request.GET and request.GET.get(PICKER_VAR):
        names = request.GET[PICKER_VAR].split(".")
    else:
        return None
    if len(names) != 3:
        return None
    try:
        source_model = apps.get_model(names[0], names[1])
        field = source_model._meta.get_field(names[2])
    except (LookupError, ValueError, FieldDoesNotExist):
        return None
    if getattr(field, "related_model", None) is not model:
        return None
    return source_model, field


# -- widgets, changelist and list filter ----------------------------------------


class _PickerUrlMixin:
    """The lookup popup says which field asked, so it lists what that field accepts."""

    def __init__(self, rel, admin_site, attrs=None, using=None, *, picker: str = ""):
        super().__init__(rel, admin_site, attrs=attrs, using=using)
        self.picker = picker

    def url_parameters(self):
        params = super().url_parameters()
        if self.picker:
            params[PICKER_VAR] = self.picker
        return params


class ScopedForeignKeyRawIdWidget(_PickerUrlMixin, ForeignKeyRawIdWidget):
    """Shows the label (and link) of the chosen row only if the field accepts it:
    an id typed into the query string or the box never reveals whose it is."""

    def label_and_url_for_value(self, value):
        queryset = getattr(getattr(self, "choices", None), "queryset", None)
        if queryset is not None:
            key = self.rel.get_related_field().name
            try:
                if not queryset.filter(**{key: value}).exists():
                    return "", ""
            except (ValueError, TypeError, ValidationError):
                return "", ""
        return super().label_and_url_for_value(value)


class ScopedManyToManyRawIdWidget(_PickerUrlMixin, ManyToManyRawIdWidget):
    pass


class PickerChangeList(ChangeList):
    """A changelist that, as a raw-id popup, lists only what the asking field accepts."""

    def get_filters_params(self, params=None):
        params = super().get_filters_params(params)
        params.pop(PICKER_VAR, None)
        return params

    def get_queryset(self, request, exclude_parameters=None):
        if not getattr(self, "_picker_narrowed", False):
            self._picker_narrowed = True
            self.root_queryset = self.model_admin.picker_narrow(request, self.root_queryset)
        return super().get_queryset(request, exclude_parameters)


class ScopedRelatedFieldListFilter(RelatedFieldListFilter):
    """A related list filter that names only rows the user may pick."""

    def field_choices(self, field, request, model_admin):
        ordering = self.field_admin_ordering(field, request, model_admin)
        allowed = pickable(request.user, field.related_model)
        limit = None if allowed is None else Q(pk__in=allowed.order_by().values("pk"))
        return field.get_choices(include_blank=False, ordering=ordering, limit_choices_to=limit)


# -- forms: keep the row's own current values -------------------------------------


class _KeepCurrentChoices:
    """A row being edited keeps its current related values among the choices,
    even if the rule would not offer them now (a guest instructor another unit's
    coordinator added): its own data, shown and removable, never re-pickable."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        instance = getattr(self, "instance", None)
        if instance is None or instance.pk is None:
            return
        for name, field in self.fields.items():
            if not getattr(field, "picker_scoped", False):
                continue
            try:
                model_field = instance._meta.get_field(name)
            except FieldDoesNotExist:
                continue
            to_field = getattr(field, "to_field_name", None) or "pk"
            if model_field.many_to_many:
                current = list(getattr(instance, name).values_list(to_field, flat=True))
            elif model_field.concrete and model_field.is_relation:
                value = getattr(instance, model_field.attname)
                current = [] if value is None else [value]
            else:
                continue
            if not current:
                continue
            scoped = field.queryset
            manager = scoped.model._default_manager
            widened = manager.filter(
                Q(pk__in=scoped.order_by().values("pk")) | Q(**{f"{to_field}__in": current})
            )
            field.queryset = widened.order_by(*scoped.query.order_by) if scoped.ordered else widened


def keep_current_choices(form_class):
    if issubclass(form_class, _KeepCurrentChoices):
        return form_class
    return type(form_class.__name__, (_KeepCurrentChoices, form_class), {})


# -- the mixin --------------------------------------------------------------------


class PickerScopeMixin:
    """Mix into every portal ModelAdmin and InlineModelAdmin (before the Django base).

    ``pick_rules``: per field, a rule narrower than the related model's own
    (e.g. ``{"alliance": access.alliances_changeable_by}``).
    """

    pick_rules: dict[str, PickRule] = {}

    def _picker_name(self, db_field) -> str:
        opts = db_field.model._meta
        return f"{opts.app_label}.{opts.model_name}.{db_field.name}"

    def _scoped_formfield_kwargs(self, db_field, request, kwargs, raw_id_widget):
        db = kwargs.get("using")
        rule = _field_rule(self, db_field)
        allowed = pickable(request.user, db_field.related_model, rule)
        if "widget" not in kwargs and db_field.name in self.raw_id_fields:
            kwargs["widget"] = raw_id_widget(
                db_field.remote_field, self.admin_site, using=db, picker=self._picker_name(db_field)
            )
        if allowed is not None:
            base = kwargs.get("queryset")
            if base is None:
                base = self.get_field_queryset(db, db_field, request)
            if base is None:
                base = db_field.remote_field.model._default_manager.using(db)
            kwargs["queryset"] = narrow(base, allowed)
        messages = dict(kwargs.get("error_messages") or {})
        messages.setdefault("invalid_choice", out_of_scope_message(db_field.related_model))
        kwargs["error_messages"] = messages
        return allowed is not None

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        scoped = self._scoped_formfield_kwargs(
            db_field, request, kwargs, ScopedForeignKeyRawIdWidget
        )
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if formfield is not None and isinstance(formfield, ModelChoiceField):
            formfield.picker_scoped = scoped
        return formfield

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        scoped = self._scoped_formfield_kwargs(
            db_field, request, kwargs, ScopedManyToManyRawIdWidget
        )
        formfield = super().formfield_for_manytomany(db_field, request, **kwargs)
        if formfield is not None:
            formfield.picker_scoped = scoped
        return formfield

    def get_list_filter(self, request):
        # A plain related filter ("unit", "course__term") lists only pickable rows.
        scoped = []
        for entry in super().get_list_filter(request):
            if isinstance(entry, str):
                try:
                    last = get_fields_from_path(self.model, entry)[-1]
                except (FieldDoesNotExist, NotRelationField):
                    last = None  # Django's own checks report a bad path
                if last is not None and last.is_relation:
                    entry = (entry, ScopedRelatedFieldListFilter)
            scoped.append(entry)
        return scoped

    # -- forms of admins and inlines --

    def get_form(self, request, obj=None, **kwargs):
        return keep_current_choices(super().get_form(request, obj, **kwargs))

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form = keep_current_choices(formset.form)
        return formset

    # -- the target side: popups and autocomplete --

    def get_changelist(self, request, **kwargs):
        return PickerChangeList

    def picker_narrow(self, request, queryset: QuerySet) -> QuerySet:
        """``queryset`` limited to what the asking picker's field accepts, if one asks."""
        asking = _asking_field(request, self.model)
        if asking is None:
            return queryset
        source_model, field = asking
        return narrow(queryset, field_pickable(request, self.admin_site, source_model, field))

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        match = getattr(request, "resolver_match", None)
        if match is not None and match.url_name == "autocomplete":
            queryset = self.picker_narrow(request, queryset)
        return queryset, may_have_duplicates


class ScopedAdminMixin(PickerScopeMixin):
    """A row outside the user's scope answers 404 instead of redirecting with a hint.

    Every picker (selects, autocomplete, raw ids, popups, list filters) offers and
    accepts only what members/access.py allows (PickerScopeMixin)."""

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        raise Http404(gettext("找不到该记录，或您无权查看。"))


# -- writes through services ---------------------------------------------------------


class CityEditsMixin:
    """City-wide reference data (terms, themes, stages, the evaluation's
    responsibilities, the word list, WeChat templates): every district uses the
    same rows, so only a city administrator (or a superuser) adds, changes or
    deletes them, though a district administrator's group holds every model
    permission. Who may look is the admin's own choice."""

    def has_add_permission(self, request):
        return access.sees_every_district(request.user)

    def has_change_permission(self, request, obj=None):
        return access.sees_every_district(request.user)

    def has_delete_permission(self, request, obj=None):
        return access.sees_every_district(request.user)


class CityOnlyMixin(CityEditsMixin):
    """Rows only the city sees at all (``CityEditsMixin``, and looking too)."""

    def has_module_permission(self, request):
        return access.sees_every_district(request.user)

    def has_view_permission(self, request, obj=None):
        return access.sees_every_district(request.user)


class ServiceRowsReadOnlyMixin:
    """Rows only the services write (an audit entry, an API token, a handbook claim):
    the admin shows them and adds, changes or deletes none; its actions, if any,
    call the services."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ServiceWriteMixin:
    """Admin writes go through the services. A write a service refuses (a race the
    form could not foresee, a lock held too long) becomes an error message on the
    page, never a 500, and the admin's "changed successfully" is not shown."""

    def service_refused(self, request, message) -> None:
        request._admin_service_refused = True
        self.message_user(request, message, level=django_messages.ERROR)

    def message_user(self, request, message, level=django_messages.INFO, *args, **kwargs):
        if getattr(request, "_admin_service_refused", False) and level == django_messages.SUCCESS:
            return
        super().message_user(request, message, level, *args, **kwargs)


class _Rollback(Exception):
    pass


class ServiceForm(forms.ModelForm):
    """A model form saved by an app's service, whose refusal shows on the field it
    names.

    The service is the one place that knows its rules (normalising, duplicates,
    who may). While the form is checked it is tried in a savepoint that is always
    rolled back, so its refusal appears on the field it names and nothing stays
    written; ``ServiceSaveMixin.save_model`` then makes the real call, once the
    whole page is valid. The model's own unique checks are the service's too.

    A subclass sets ``service_error`` (its app's error class, with ``field`` and
    ``message``) and ``service_call``; ``service_argument_fields`` maps a service
    argument that an error names to the form field it came from.
    """

    service_error: type[Exception] | None = None
    service_argument_fields: dict[str, str] = {}
    #: False: the service is tried only on a change page (its add is not a service).
    service_check_on_add = True

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request

    def service_call(self, data: dict):
        raise NotImplementedError

    def _post_clean(self):
        super()._post_clean()
        if self.errors or self.request is None:
            return
        if self.instance.pk is None and not self.service_check_on_add:
            return
        if self.service_error is None:
            raise TypeError(f"{type(self).__name__} must name its service_error")
        try:
            with transaction.atomic():
                self.service_call(self.cleaned_data)
                raise _Rollback
        except _Rollback:
            pass
        except self.service_error as error:
            field = getattr(error, "field", None)
            field = self.service_argument_fields.get(field, field)
            self.add_error(field if field in self.fields else None, error.message)

    def validate_unique(self):
        pass  # the service's


def form_with_request(form_class, request):
    """The admin builds the form class; this one carries the request to the
    service check (the service needs the user)."""

    class WithRequest(form_class):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, request=request, **kwargs)

    WithRequest.__name__ = form_class.__name__
    return WithRequest


class ServiceSaveMixin(ServiceWriteMixin):
    """``save_model`` calls the form's service (a ``ServiceForm``); a refusal the
    check could not foresee (a race) becomes an error message, never a 500.
    ``after_service_save`` may save what no service owns beside it."""

    def save_model(self, request, obj, form, change):
        try:
            saved = form.service_call(form.cleaned_data)
        except form.service_error as error:
            self.service_refused(request, error.message)
            return
        obj.pk = saved.pk if saved is not None else obj.pk
        self.after_service_save(request, obj, form)
        obj.refresh_from_db()  # the page names the row as stored (normalised)

    def after_service_save(self, request, obj, form) -> None:
        pass

    def get_form(self, request, obj=None, **kwargs):
        return form_with_request(super().get_form(request, obj, **kwargs), request)


# -- rules of the members app's own models -----------------------------------------


def _register_members_rules() -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission

    from .models import (
        Alliance,
        Child,
        Family,
        FamilyInvitation,
        Guardian,
        Membership,
        MemberUnit,
        Region,
    )

    def via(function):
        return lambda user: None if access.sees_every_district(user) else function(user)

    pick_rule_register(get_user_model(), via(access.users_pickable_by))
    pick_rule_register(Region, via(access.regions_visible_to))
    pick_rule_register(MemberUnit, via(access.units_visible_to))
    pick_rule_register(Alliance, via(access.alliances_visible_to))
    pick_rule_register(Membership, via(access.memberships_visible_to))
    pick_rule_register(Family, via(access.families_visible_to))
    pick_rule_register(Guardian, via(access.guardians_visible_to))
    pick_rule_register(Child, via(access.children_visible_to))
    pick_rule_register(
        FamilyInvitation,
        via(
            lambda user: FamilyInvitation.objects.filter(
                family__in=access.families_visible_to(user).values("pk")
            )
        ),
    )
    # Admin groups and permissions are the superuser's business alone.
    pick_rule_register(Group, _superusers_only)
    pick_rule_register(Permission, _superusers_only)


_register_members_rules()
