"""Every admin picker × every staff role: nothing of another party is offered,
named or accepted.

The matrix is introspected, not listed: every registered ModelAdmin, every
relation of its model and of its inlines' models (foreign keys, one-to-ones,
many-to-manys, whatever the widget: select, raw id, autocomplete), every
declared model-choice form field, every action and its intermediate form, and
every relation the autocomplete view could be asked about. A new admin, field or
inline is covered the moment it is registered; a new related model needs only a
row on each side of tests/security/world.py (the test says so).

For each staff role (a district administrator, an alliance coordinator, a unit
coordinator and an instructor who was made staff) the pages are opened twice:
with the permissions the role gives, and with every portal model permission
granted by hand, so that what holds the user to their scope is
members/access.py, not a missing permission.

Checks, with 乙方 ("theirs") ids in the query string and in the POST:
- the changelist, its search, and its raw-id popup list nothing of 乙方;
- the add and change pages render no 乙方 label or link;
- a POST with a 乙方 id is refused with the Chinese scope message on that field
  and saves nothing (read-only fields: ignored, nothing saved);
- the same for every inline's pickers (new rows and existing rows);
- an action posted with a 乙方 row changes nothing, and an action's
  intermediate form refuses a 乙方 choice;
- the autocomplete view returns no 乙方 row for any field that asks.
The district administrator, who sees everything, is the control: 乙方 labels do
show for them, and their choices are not refused.
"""

from __future__ import annotations

import re

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.views.main import IS_POPUP_VAR, SEARCH_VAR, TO_FIELD_VAR
from django.contrib.admin.widgets import ManyToManyRawIdWidget
from django.db import transaction
from django.forms import ModelChoiceField, ModelMultipleChoiceField
from django.urls import NoReverseMatch, reverse

from members import access, registry
from members.admin_scoping import PICKER_VAR, PickerScopeMixin, out_of_scope_message, pickable

from .forms import form_data
from .world import STAFF_ROLES, build_world

pytestmark = pytest.mark.django_db

MARKER = "乙方"
# Models whose rows are not anybody's: no 乙方 row exists to leak.
UNOWNED = {"auth.permission", "contenttypes.contenttype"}


def _label(model) -> str:
    return model._meta.label_lower


def _registered():
    return sorted(admin.site._registry.items(), key=lambda item: _label(item[0]))


def _is_portal(model) -> bool:
    return model._meta.app_label in registry.PORTAL_APPS


ADMINS = [_label(model) for model, _ in _registered()]
# Administrators hold every portal permission through their role already.
GRANTS = [("city", "role"), ("district", "role")] + [
    (role, grant) for role in STAFF_ROLES[2:] for grant in ("role", "every")
]


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """One world for the module, inside a transaction rolled back at its end; each
    test runs in a savepoint of it (pytest-django's db), so tests stay isolated."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield build_world()
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


def _login(client, world, role, grant):
    user = world.staff[role]
    if grant == "every":
        world.grant_every_portal_permission(user)
    client.force_login(user)
    return user


def _relations(model):
    """Forward relations a form could pick: FKs, one-to-ones, many-to-manys."""
    return [f for f in [*model._meta.fields, *model._meta.many_to_many] if f.is_relation]


def _admin_url(obj) -> str | None:
    opts = obj._meta
    try:
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return None


class Leaks:
    """What of 乙方 may be seen: labels (marker, exact strings) and admin links."""

    def __init__(self, world, user):
        self.world = world
        self.user = user
        self.labels = []
        self.urls = []
        self.sees_all = access.sees_every_district(user)
        for label, obj in world.theirs.items():
            if "." not in label or label in UNOWNED:
                continue
            model = apps.get_model(label)
            if pickable(user, model) is None:
                continue  # the user may see every row of it (shared, or a district admin)
            text = str(obj)
            self.labels.append(re.compile(re.escape(text) + r"(?![0-9])"))
            url = _admin_url(obj)
            if url:
                self.urls.append(url)

    def found(self, html: str) -> list[str]:
        if self.sees_all:
            return []
        # The search box repeats what was searched for.
        html = html.replace(f'name="{SEARCH_VAR}" value="{MARKER}"', "")
        found = [MARKER] if MARKER in html else []
        found += [p.pattern for p in self.labels if p.search(html)]
        found += [u for u in self.urls if u in html]
        return found


def _theirs(world, model):
    obj = world.theirs.get(_label(model))
    return obj


def _theirs_for(world, field):
    """乙方's row for a field: the model's row, or, where the field's own
    limit_choices_to excludes it (a district administrator's region must be a
    district), another 乙方 row of the model that the field accepts."""
    model = field.related_model
    obj = _theirs(world, model)
    limit = field.get_limit_choices_to() if hasattr(field, "get_limit_choices_to") else None
    if obj is None or not limit:
        return obj

    def accepted(row):
        return model._default_manager.complex_filter(limit).filter(pk=row.pk).exists()

    if accepted(obj):
        return obj
    others = [row for row in world.theirs.values() if isinstance(row, model) and accepted(row)]
    return others[0] if others else obj


def _value_for(field, obj):
    remote = getattr(field, "remote_field", None)
    to_field = getattr(remote, "field_name", None) if remote is not None else None
    if to_field and not field.many_to_many:
        return str(getattr(obj, remote.model._meta.get_field(to_field).attname))
    return str(obj.pk)


def _post_value(form_field, obj, value):
    if isinstance(form_field, ModelMultipleChoiceField):
        if isinstance(form_field.widget, ManyToManyRawIdWidget):
            return value
        return [value]
    return value


def _field_errors(form, name) -> list[str]:
    if form is None:
        return []
    return [str(e) for e in form.errors.get(name, [])]


def _saved(model, field, obj, theirs) -> bool:
    """Does ``obj`` (refreshed) now point at ``theirs`` through ``field``?"""
    fresh = model._default_manager.filter(pk=obj.pk).first()
    if fresh is None:
        return False
    if field.many_to_many:
        return getattr(fresh, field.name).filter(pk=theirs.pk).exists()
    return str(getattr(fresh, field.attname)) == _value_for(field, theirs)


def _references(model, field, theirs) -> int:
    return model._default_manager.filter(**{field.name: theirs}).count()


def _targets(model, fields, parent_fk=None):
    """(name, model field or None, target model) of every relation a form could pick:
    the model's relations and the form's declared model choices."""
    found = {}
    for f in _relations(model):
        if parent_fk is None or f.name != parent_fk.name:
            found[f.name] = (f, f.related_model)
    for name, form_field in fields.items():
        # (an inline row's own "id" is a model choice of its own rows, not a pick)
        if isinstance(form_field, ModelChoiceField) and name not in found:
            if name != model._meta.pk.name:
                found[name] = (None, form_field.queryset.model)
    return sorted(
        (name, f, target) for name, (f, target) in found.items() if not _is_shared(target)
    )


def _is_shared(model) -> bool:
    """District-wide reference data (terms, themes, stages): a coordinator may pick
    any row, so no row is 乙方's."""
    return _label(model) in UNOWNED or pickable(_SOMEONE_SCOPED, model) is None


class _Scoped:
    # Stands for "a coordinator who sees only their units" when asking the rules
    # whether a model has owners at all.
    is_active = True
    is_authenticated = True
    is_superuser = False
    pk = None
    _role_assignments_cache = []


_SOMEONE_SCOPED = _Scoped()


def _check_form_posts(client, url, html, form, inlines, model, obj, world, leaks, problems, where):
    """POST the page's own data with every relation set to 乙方's row: once for
    the main form, once per inline for a new row and once for an existing row."""
    base = form_data(html, f"{model._meta.model_name}_form")
    fields = form.fields if form is not None else {}
    picks = []  # (form key, name, model field, form field, target, theirs)
    for name, model_field, target in _targets(model, fields):
        if _label(target) in UNOWNED:
            continue
        theirs = _theirs_for(world, model_field) if model_field is not None else None
        theirs = theirs or _theirs(world, target)
        if theirs is None:
            problems.append(f"{where}: no 乙方 row of {_label(target)} in world.py")
            continue
        picks.append((name, name, model_field, fields.get(name), target, theirs))
    if picks:
        _post_and_check(client, url, base, picks, model, obj, None, leaks, problems, where)

    for index, inline in enumerate(inlines):
        formset = inline.formset
        prefix = formset.prefix
        inline_fields = formset.empty_form.fields
        total = int(base.get(f"{prefix}-TOTAL_FORMS", ["0"])[0])
        initial = int(base.get(f"{prefix}-INITIAL_FORMS", ["0"])[0])
        for row, is_new in [(total, True)] + ([(0, False)] if initial else []):
            picks = []
            for name, model_field, target in _targets(
                formset.model, inline_fields, getattr(formset, "fk", None)
            ):
                theirs = _theirs(world, target)
                if _label(target) in UNOWNED:
                    continue
                if theirs is None:
                    problems.append(f"{where}: no 乙方 row of {_label(target)} in world.py")
                    continue
                key = f"{prefix}-{row}-{name}"
                picks.append((key, name, model_field, inline_fields.get(name), target, theirs))
            if not picks:
                continue
            data = dict(base)
            if is_new:
                data[f"{prefix}-TOTAL_FORMS"] = [str(total + 1)]
            inline_where = f"{where} inline {prefix} row {row}"
            _post_and_check(
                client,
                url,
                data,
                picks,
                formset.model,
                None,
                (index, row, is_new),
                leaks,
                problems,
                inline_where,
            )


def _post_and_check(client, url, data, picks, model, obj, inline, leaks, problems, where):
    data = dict(data)
    before = {}
    for key, _name, model_field, form_field, _target, theirs in picks:
        value = _value_for(model_field, theirs) if model_field is not None else str(theirs.pk)
        data[key] = _post_value(form_field, theirs, value)
        if model_field is not None:
            before[key] = _references(model, model_field, theirs)
    response = client.post(url, data)
    assert response.status_code in (200, 302, 403), (where, response.status_code)
    if response.status_code == 200 and not leaks.sees_all:
        found = leaks.found(response.content.decode())
        if found:
            problems.append(f"{where}: the re-rendered form shows 乙方: {found}")
    context = response.context if response.status_code == 200 else None
    for key, name, model_field, form_field, target, theirs in picks:
        if model_field is not None:
            saved = _references(model, model_field, theirs) != before[key] or (
                obj is not None and _saved(model, model_field, obj, theirs)
            )
            if saved and not leaks.sees_all:
                problems.append(f"{where}: POST {key} saved 乙方's row")
        if form_field is None or response.status_code == 403:
            continue  # read-only here: ignored (checked above: nothing saved)
        errors = _errors_of(context, inline, name)
        if leaks.sees_all:
            if errors and out_of_scope_message(target) in errors:
                problems.append(f"{where}: {key} refused a district admin's choice")
        elif errors is not None and out_of_scope_message(target) not in errors:
            problems.append(
                f"{where}: POST {key}=乙方 answered {response.status_code} "
                f"without the scope error (errors: {errors})"
            )


def _errors_of(context, inline, name):
    """The field's errors; None when the form was rightly not validated (an inline
    row the user may not add or change is ignored by Django)."""
    if context is None:
        return []  # a redirect: the form was accepted
    if inline is None:
        return _field_errors(context["adminform"].form, name)
    index, row, is_new = inline
    shown = context["inline_admin_formsets"][index]
    may_edit = shown.has_add_permission if is_new else shown.has_change_permission
    forms = shown.formset.forms
    if not may_edit or row >= len(forms):
        return None
    return _field_errors(forms[row], name)


def _check_actions(client, changelist_url, response, model, world, leaks, problems, where):
    action_form = response.context.get("action_form") if response.context else None
    if action_form is None:
        return
    theirs = world.theirs.get(_label(model))
    ours = world.ours.get(_label(model))
    snapshot = _snapshot(model, theirs) if theirs is not None else None
    for action, _text in action_form.fields["action"].choices:
        if not action:
            continue
        if theirs is not None and not leaks.sees_all:
            for extra in ({}, {"post": "yes", "apply": "1"}):
                result = client.post(
                    changelist_url,
                    {"action": action, "_selected_action": [str(theirs.pk)], **extra},
                )
                if result.status_code == 200 and leaks.found(result.content.decode()):
                    problems.append(f"{where}: action {action} named 乙方's row")
                if _snapshot(model, theirs) != snapshot:
                    problems.append(f"{where}: action {action} changed 乙方's row")
        if ours is None or leaks.sees_all:
            continue
        # An intermediate form (e.g. "add to alliance…"): its choices are scoped too.
        page = client.post(changelist_url, {"action": action, "_selected_action": [str(ours.pk)]})
        form = page.context.get("form") if page.status_code == 200 and page.context else None
        if form is None or not hasattr(form, "fields"):
            continue
        for name, form_field in form.fields.items():
            if not isinstance(form_field, ModelChoiceField):
                continue
            target = form_field.queryset.model
            choice = _theirs(world, target)
            if choice is None:
                problems.append(f"{where}: no 乙方 row of {_label(target)} in world.py")
                continue
            counts = _counts()
            data = {
                "action": action,
                "_selected_action": [str(ours.pk)],
                "apply": "1",
                "post": "yes",
                name: _post_value(form_field, choice, str(choice.pk)),
            }
            result = client.post(changelist_url, data)
            if _counts() != counts:
                problems.append(f"{where}: action {action} saved {name}=乙方")
            errors = _field_errors(result.context and result.context.get("form"), name)
            if result.status_code == 200 and not errors:
                problems.append(f"{where}: action {action} {name}=乙方 without an error")


def _snapshot(model, obj):
    row = model._default_manager.filter(pk=obj.pk).values().first()
    return row


def _counts():
    return {
        _label(m): m._default_manager.count()
        for m in apps.get_models()
        if _is_portal(m) and m._meta.model_name != "auditlog"
    }


@pytest.mark.parametrize(("role", "grant"), GRANTS, ids=[f"{r}-{g}" for r, g in GRANTS])
@pytest.mark.parametrize("admin_label", ADMINS)
def test_admin_pages_offer_and_accept_only_what_the_role_may_see(
    client, world, admin_label, role, grant
):
    # given a staff member of 甲方 in the admin, and 乙方 next door
    model = apps.get_model(admin_label)
    model_admin = admin.site._registry[model]
    user = _login(client, world, role, grant)
    leaks = Leaks(world, user)
    opts = model._meta
    problems: list[str] = []
    theirs_ids = {
        f.name: _value_for(f, _theirs_for(world, f))
        for f in _relations(model)
        if _theirs(world, f.related_model) is not None
    }

    # when the changelist, its search and its raw-id popup are opened
    changelist_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    changelist = client.get(changelist_url)
    assert changelist.status_code in (200, 403), changelist.status_code
    if changelist.status_code == 200:
        variants = [
            {SEARCH_VAR: MARKER},
            {IS_POPUP_VAR: "1", TO_FIELD_VAR: opts.pk.attname},
        ]
        # a popup opened by a picker narrows further; one asking field is enough
        asking = [
            f"{source._meta.app_label}.{source._meta.model_name}.{f.name}"
            for source in apps.get_models()
            if _is_portal(source)
            for f in _relations(source)
            if f.related_model is model
        ]
        if asking:
            variants.append(
                {IS_POPUP_VAR: "1", TO_FIELD_VAR: opts.pk.attname, PICKER_VAR: asking[0]}
            )
        for params in [{}, *variants]:
            page = changelist if not params else client.get(changelist_url, params)
            # an unknown _to_field is refused (400); anything else is a page
            assert page.status_code in (200, 302, 400), (params, page.status_code)
            found = leaks.found(page.content.decode())
            if found:
                problems.append(f"changelist {params}: {found}")

    # and the add page, with 乙方's ids in the query string
    add_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
    add = client.get(add_url, theirs_ids)
    assert add.status_code in (200, 403), add.status_code
    if add.status_code == 200:
        found = leaks.found(add.content.decode())
        if found:
            problems.append(f"add ?{theirs_ids}: {found}")
        form = add.context["adminform"].form
        if leaks.sees_all and _is_portal(model):
            # the control: a city admin is shown 乙方's rows
            for name, form_field in form.fields.items():
                if name in theirs_ids and not isinstance(form_field.widget, ManyToManyRawIdWidget):
                    label = str(_theirs_for(world, model._meta.get_field(name)))
                    if label not in add.content.decode():
                        problems.append(f"add: district admin not shown {name}={label}")
        clean = client.get(add_url)
        _check_form_posts(
            client,
            add_url,
            clean.content.decode(),
            clean.context["adminform"].form,
            clean.context["inline_admin_formsets"],
            model,
            None,
            world,
            leaks,
            problems,
            "add",
        )

    # and the change page of 甲方's row
    ours = world.ours.get(admin_label)
    if _is_portal(model) and ours is None:
        problems.append(f"no 甲方 row of {admin_label} in world.py")
    if ours is not None:
        change_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[ours.pk])
        change = client.get(change_url, theirs_ids)
        assert change.status_code in (200, 302, 403, 404), change.status_code
        if change.status_code == 200:
            found = leaks.found(change.content.decode())
            if found:
                problems.append(f"change ?{theirs_ids}: {found}")
            clean = client.get(change_url)
            _check_form_posts(
                client,
                change_url,
                clean.content.decode(),
                clean.context["adminform"].form,
                clean.context["inline_admin_formsets"],
                model,
                ours,
                world,
                leaks,
                problems,
                "change",
            )
        # and a 乙方 row is not reachable by its id
        theirs = world.theirs.get(admin_label)
        if theirs is not None and not leaks.sees_all and _is_portal(model):
            other = client.get(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[theirs.pk])
            )
            assert other.status_code in (302, 403, 404), other.status_code
            if other.status_code == 302:
                assert "/login/" not in other["Location"]

    # and every action, with 乙方's row selected
    if changelist.status_code == 200:
        _check_actions(client, changelist_url, changelist, model, world, leaks, problems, "action")

    # then nothing of 乙方 was shown or saved
    assert problems == [], "\n".join(problems)
    if isinstance(model_admin, PickerScopeMixin) is False:
        assert not _is_portal(model), f"{type(model_admin).__name__} lacks PickerScopeMixin"


@pytest.mark.parametrize(("role", "grant"), GRANTS, ids=[f"{r}-{g}" for r, g in GRANTS])
def test_autocomplete_answers_no_foreign_row_for_any_field(client, world, role, grant):
    # given every relation, of every installed model, whose target admin searches
    user = _login(client, world, role, grant)
    leaks = Leaks(world, user)
    problems = []
    asked = 0
    for source in apps.get_models():
        for field in _relations(source):
            target_admin = admin.site._registry.get(field.related_model)
            if target_admin is None or not target_admin.search_fields:
                continue
            if _is_shared(field.related_model):
                continue
            theirs = _theirs(world, field.related_model)
            if theirs is None:
                problems.append(f"no 乙方 row of {_label(field.related_model)} in world.py")
                continue
            for term in ("", MARKER):
                # when the autocomplete view is asked for this field
                response = client.get(
                    reverse("admin:autocomplete"),
                    {
                        "app_label": source._meta.app_label,
                        "model_name": source._meta.model_name,
                        "field_name": field.name,
                        "term": term,
                    },
                )
                asked += 1
                assert response.status_code in (200, 403, 404), response.status_code
                if response.status_code != 200:
                    continue
                ids = {r["id"] for r in response.json()["results"]}
                texts = [r["text"] for r in response.json()["results"]]
                # then no 乙方 row is among the answers
                if theirs is not None and not leaks.sees_all:
                    if _value_for(field, theirs) in ids or leaks.found(" ".join(texts)):
                        problems.append(f"{_label(source)}.{field.name} term={term!r}: {texts}")
                elif (
                    term == "" and _is_portal(source) and not response.json()["pagination"]["more"]
                ):
                    # the control: a city admin finds 乙方's rows
                    if _value_for(field, _theirs_for(world, field)) not in ids:
                        problems.append(f"district admin does not find 乙方 for {field}")
    assert asked > 20
    assert problems == [], "\n".join(problems)


def test_every_portal_admin_and_inline_scopes_its_pickers():
    # given every registered admin of the portal's apps
    missing = []
    for model, model_admin in _registered():
        if not _is_portal(model):
            continue
        # then it and each of its inlines use the one scoping mechanism
        if not isinstance(model_admin, PickerScopeMixin):
            missing.append(type(model_admin).__name__)
        missing += [i.__name__ for i in model_admin.inlines if not issubclass(i, PickerScopeMixin)]
    assert missing == []
