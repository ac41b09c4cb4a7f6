"""Admin for the boards (docs/COMMUNITY.md, "Admin"), scoped by community.selectors.

- **敏感词** (the city's list): city administrators only. Adding, changing
  and deleting go through ``sensitive_word_save`` / ``sensitive_word_delete``
  (normalised, checked, audit-logged, the list's version bumped so every process
  rebuilds its matcher); a word list is imported from CSV or XLSX through
  ``sensitive_words_import`` (all or nothing, errors by row and column) and
  exported through the admin's one spreadsheet path (every cell through
  ``members.privacy.spreadsheet_safe``), audit-logged.
- **交流区**: the boards the user moderates (``boards_moderated_by``); only
  「新成员前几条先审后发」 is editable, through ``board_settings_update``.
- **主题帖 / 帖子 / 举报 / 审核决定 / 禁言**: read-only, the rows of the boards the
  user moderates. A post shows its real author (name and masked phone) to those
  moderators ("coordinators of that school can see who posted"); deciding is done
  in the portal's moderation queue, which tells the author.
- **交流区昵称**: read-only, administrators: a city administrator every family's, a
  district administrator those of the families of their district
  (``members.access.families_visible_to``).

An archived group board is not among anyone's moderated boards but its
facilitator's, so its threads stay out of every other admin list (district
administrators included), as on the pages. The word list's version, the notice
preferences and the digest entries have no admin page: the services own them.
"""

from __future__ import annotations

import tablib
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from members import access
from members.admin_scoping import (
    CityOnlyMixin,
    ScopedAdminMixin,
    ServiceForm,
    ServiceRowsReadOnlyMixin,
    ServiceSaveMixin,
    pick_rule_register,
)
from members.privacy import mask_phone, person_name
from members.resources import ChineseCSV, ChineseXLSX, ImportFileError
from members.services import audit_log_record

from . import selectors, services
from .errors import CommunityError
from .models import Board, BoardProfile, Decision, Mute, Post, Report, SensitiveWord, Thread

# -- pick rules: the rows a picker, a list filter or a popup may offer -------------


def _moderated_board_ids(user):
    return selectors.boards_moderated_by(user).order_by().values("pk")


def _city_only(model):
    # City-wide reference data (the word list has no district link): the city's to edit.
    def rule(user):
        return None if access.sees_every_district(user) else model._default_manager.none()

    return rule


def _profiles_visible(user):
    """Nicknames an administrator may look up: every one for the city, those of
    their district's families for a district administrator, none for anyone else
    (a coordinator meets nicknames on the boards, never whose they are)."""
    if access.sees_every_district(user):
        return None
    if not access.is_district_admin(user):
        return BoardProfile.objects.none()
    return BoardProfile.objects.filter(
        family__in=access.families_visible_to(user).order_by().values("pk")
    )


# Boards and everything on them: the boards the user moderates, for everyone
# (district administrators too: a dissolved group's board is its former members'
# and its facilitator's alone).
pick_rule_register(Board, lambda user: Board.objects.filter(pk__in=_moderated_board_ids(user)))
pick_rule_register(Thread, lambda user: Thread.objects.filter(board__in=_moderated_board_ids(user)))
pick_rule_register(Post, lambda user: Post.objects.filter(board__in=_moderated_board_ids(user)))
pick_rule_register(
    Report, lambda user: Report.objects.filter(post__board__in=_moderated_board_ids(user))
)
pick_rule_register(
    Decision, lambda user: Decision.objects.filter(board__in=_moderated_board_ids(user))
)
pick_rule_register(
    Mute, lambda user: Mute.objects.filter(decision__board__in=_moderated_board_ids(user))
)
pick_rule_register(SensitiveWord, _city_only(SensitiveWord))
pick_rule_register(BoardProfile, _profiles_visible)


def _client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")


def _person_label(user) -> str:
    """A poster, reporter or moderator as the school's moderators may see them:
    the name and the masked phone (never the whole number)."""
    if user is None:
        return gettext("已注销的账号")
    phone = mask_phone(getattr(user, "phone", "") or "")
    name = person_name(user)
    return f"{name} · {phone}" if phone and phone != name else name


def _real_name_label(obj, family_id, user) -> str:
    if not getattr(obj, "poster_visible", False):
        return gettext("（实名只有本校管理员可见）")
    return format_html("{} · {}", _family_label(family_id), _person_label(user))


def _family_label(family_id) -> str:
    if family_id is None:
        return "—"
    return gettext("家庭 #%(id)s") % {"id": family_id}


def _moderation_link():
    # Decisions are made in the queue, which tells the author; the admin only shows.
    return format_html(
        '<a href="{}">{}</a>', reverse("community:moderation"), gettext("到审核队列处理")
    )


class _ServiceForm(ServiceForm):
    """Saved by a community service (members.admin_scoping.ServiceForm): a typed
    word that normalises to a listed one is refused there, in its words."""

    service_error = CommunityError


# -- 敏感词 --------------------------------------------------------------------------

WORD_COLUMN = _("敏感词")
CATEGORY_COLUMN = _("类别")
PINYIN_COLUMN = _("按拼音匹配")
ACTIVE_COLUMN = _("启用")
NOTE_COLUMN = _("备注")


class SensitiveWordAdminForm(_ServiceForm):
    class Meta:
        model = SensitiveWord
        fields = ["word", "category", "match_pinyin", "is_active", "note"]

    def service_call(self, data):
        return services.sensitive_word_save(
            user=self.request.user,
            word=data.get("word") or "",
            category=data.get("category") or "",
            match_pinyin=bool(data.get("match_pinyin")),
            is_active=bool(data.get("is_active")),
            note=data.get("note") or "",
            word_id=self.instance.pk,
        )


class WordListImportForm(forms.Form):
    file = forms.FileField(
        label=_("词表文件"),
        help_text=_(
            "CSV（UTF-8 或 GBK 编码）或 XLSX。第一行为列标题：“敏感词”“类别”；"
            "类别可填中文名称（如“广告引流”）或代码（如 ads）。"
        ),
    )

    MAX_BYTES = 2 * 1024 * 1024


@admin.register(SensitiveWord)
class SensitiveWordAdmin(CityOnlyMixin, ServiceSaveMixin, ScopedAdminMixin, admin.ModelAdmin):
    form = SensitiveWordAdminForm
    list_display = [
        "word",
        "category",
        "match_pinyin",
        "is_active",
        "note",
        "updated_by_label",
        "updated_at",
    ]
    list_filter = ["category", "is_active", "match_pinyin"]
    search_fields = ["word", "note"]
    ordering = ["category", "word"]
    actions = ["export_xlsx", "export_csv"]
    change_list_template = "admin/community/sensitiveword/change_list.html"

    @admin.display(description=_("修改人"))
    def updated_by_label(self, obj):
        return person_name(obj.updated_by) if obj.updated_by_id else "—"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("updated_by")

    # City-wide reference data: the city's to edit. One list filters every board of
    # every district, so a district administrator neither sees nor changes it.
    def has_export_permission(self, request):
        return access.sees_every_district(request.user)

    def delete_model(self, request, obj):
        try:
            services.sensitive_word_delete(user=request.user, word_id=obj.pk)
        except CommunityError as error:
            self.service_refused(request, error.message)

    def delete_queryset(self, request, queryset):
        for word in queryset.order_by("pk"):
            try:
                services.sensitive_word_delete(user=request.user, word_id=word.pk)
            except CommunityError as error:
                self.service_refused(request, f"{word}: {error.message}")

    # -- import ---------------------------------------------------------------

    def get_urls(self):
        opts = self.model._meta
        own = [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name=f"{opts.app_label}_{opts.model_name}_import",
            )
        ]
        return own + super().get_urls()

    def import_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = WordListImportForm(request.POST or None, request.FILES or None)
        errors: list[str] = []  # the file as a whole
        row_errors: list[tuple[int, str, str]] = []  # (spreadsheet row, column, why)
        if request.method == "POST" and form.is_valid():
            try:
                rows = word_list_rows(form.cleaned_data["file"])
            except WordListFileError as error:
                errors = error.messages
            else:
                try:
                    with transaction.atomic():
                        count = services.sensitive_words_import(user=request.user, rows=rows)
                except CommunityError as error:
                    row_errors = list(getattr(error, "row_errors", None) or [])
                    errors = [] if row_errors else [error.message]
                else:
                    self.message_user(
                        request,
                        gettext("已导入 %(count)s 个敏感词，新的词表立即生效。") % {"count": count},
                        level=messages.SUCCESS,
                    )
                    opts = self.model._meta
                    return HttpResponseRedirect(
                        reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
                    )
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("导入敏感词表"),
            "opts": self.model._meta,
            "form": form,
            "import_errors": errors,
            "row_errors": row_errors,
            "columns": [str(WORD_COLUMN), str(CATEGORY_COLUMN)],
            "categories": SensitiveWord.Category.choices,
        }
        return TemplateResponse(request, "admin/community/sensitiveword/import.html", context)

    # -- export ---------------------------------------------------------------

    def _export(self, request, queryset, file_format, extension: str, content_type: str):
        words = list(queryset.order_by("category", "word"))
        dataset = tablib.Dataset(
            headers=[
                str(WORD_COLUMN),
                str(CATEGORY_COLUMN),
                str(PINYIN_COLUMN),
                str(ACTIVE_COLUMN),
                str(NOTE_COLUMN),
            ],
            title=gettext("敏感词"),
        )
        yes, no = gettext("是"), gettext("否")
        for word in words:
            dataset.append(
                [
                    word.word,
                    str(word.get_category_display()),
                    yes if word.match_pinyin else no,
                    yes if word.is_active else no,
                    word.note,
                ]
            )
        # The admin's export formats: every cell through spreadsheet_safe.
        content = file_format.export_data(dataset)
        audit_log_record(
            actor=request.user,
            action="community.word.export",
            data={"rows": len(words), "format": extension},
            ip_address=_client_ip(request),
        )
        response = HttpResponse(content, content_type=content_type)
        date = timezone.localdate().isoformat()
        response["Content-Disposition"] = (
            f'attachment; filename="sensitive-words-{date}.{extension}"'
        )
        return response

    @admin.action(description=_("导出所选敏感词（Excel）"), permissions=["export"])
    def export_xlsx(self, request, queryset):
        return self._export(
            request,
            queryset,
            ChineseXLSX(),
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )

    @admin.action(description=_("导出所选敏感词（CSV）"), permissions=["export"])
    def export_csv(self, request, queryset):
        return self._export(request, queryset, ChineseCSV(), "csv", "text/csv; charset=utf-8")


class WordListFileError(ValueError):
    def __init__(self, messages_: list[str]):
        self.messages = messages_
        super().__init__("; ".join(messages_))


def word_list_rows(upload) -> list[tuple[int, str, str]]:
    """(spreadsheet row, word, category) of an uploaded word list; the header is row 1.

    Read with the admin's spreadsheet readers (UTF-8 or GBK CSV, XLSX from the
    selected sheet), so a merged cell, a short CSV row or a missing column is
    named by row and column before anything reaches the service.
    """
    if upload.size > WordListImportForm.MAX_BYTES:
        raise WordListFileError([gettext("文件太大：词表文件请不要超过 2 MB。")])
    content = upload.read()
    reader = ChineseXLSX() if content.startswith(b"PK\x03\x04") else ChineseCSV()
    try:
        dataset = reader.create_dataset(content)
    except ImportFileError as error:
        raise WordListFileError([error.message]) from error
    headers = [str(h or "").strip() for h in dataset.headers or []]
    wanted = [str(WORD_COLUMN), str(CATEGORY_COLUMN)]
    missing = [name for name in wanted if name not in headers]
    if missing:
        raise WordListFileError(
            [
                gettext("第 1 行缺少列标题：%(columns)s。第一行应为“敏感词”“类别”。")
                % {"columns": "、".join(missing)}
            ]
        )
    problems = [
        gettext("第 %(row)s 行（%(column)s）：%(message)s")
        % {"row": row, "column": column, "message": message}
        for row, column, message in getattr(dataset, "shape_problems", [])
    ]
    if problems:
        raise WordListFileError(problems)
    word_at, category_at = headers.index(wanted[0]), headers.index(wanted[1])
    rows = []
    for number, cells in enumerate(dataset, start=2):
        word = "" if cells[word_at] is None else str(cells[word_at]).strip()
        category = "" if cells[category_at] is None else str(cells[category_at]).strip()
        if not word and not category and not any(str(c or "").strip() for c in cells):
            continue  # an empty line between entries
        rows.append((number, word, category))
    if not rows:
        raise WordListFileError([gettext("文件里没有敏感词：请从第 2 行开始填写。")])
    return rows


# -- 交流区 --------------------------------------------------------------------------


class BoardAdminForm(_ServiceForm):
    class Meta:
        model = Board
        fields = ["hold_first_posts"]

    def service_call(self, data):
        return services.board_settings_update(
            user=self.request.user,
            board_id=self.instance.pk,
            hold_first_posts=data.get("hold_first_posts") or 0,
        )


class _ModeratedRowsAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Rows on the boards the user moderates; staff and facilitators reach them."""

    board_path = "board"
    # Rows that name people (posters, reporters) carry ``poster_visible``: the
    # real-name rule lets the school's coordinators see who posted, not a
    # facilitator who moderates only their group's board.
    names_people = False

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        rows = rows.filter(**{f"{self.board_path}__in": _moderated_board_ids(request.user)})
        if self.names_people:
            rows = rows.annotate(
                poster_visible=Exists(
                    selectors.boards_showing_posters_to(request.user).filter(
                        pk=OuterRef(self.board_path)
                    )
                )
            )
        return rows

    def _reaches(self, request) -> bool:
        user = request.user
        return access.is_staff_member(user) or selectors.boards_moderated_by(user).exists()

    def has_module_permission(self, request):
        return self._reaches(request)

    def has_view_permission(self, request, obj=None):
        return self._reaches(request)


@admin.register(Board)
class BoardAdmin(ServiceSaveMixin, _ModeratedRowsAdmin):
    form = BoardAdminForm
    board_path = "pk"
    list_display = ["title", "kind", "unit", "hold_first_posts", "is_archived", "created_at"]
    list_filter = ["kind", "is_archived"]
    search_fields = ["title"]
    list_select_related = ["unit"]
    readonly_fields = [
        "title",
        "kind",
        "parent_school",
        "group",
        "alliance",
        "unit",
        "is_archived",
        "archived_at",
        "created_at",
    ]
    fields = [*readonly_fields[:6], "hold_first_posts", *readonly_fields[6:]]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("unit", "group", "parent_school", "alliance")
        )

    def has_add_permission(self, request):
        return False  # boards are made by the services, one per school, group and alliance

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        if obj is None:
            # Coordinators moderate their units' boards (each row is checked below);
            # asked without a query, as the admin's app list asks it on every page.
            if access.is_coordinator(request.user):
                return True
            return selectors.boards_moderated_by(request.user).exists()
        return selectors.can_moderate(request.user, obj)


# -- threads and posts (read-only) ---------------------------------------------------


class _PostFieldsMixin:
    @admin.display(description=_("发帖人（实名）"))
    def author_label(self, obj):
        return _real_name_label(obj, obj.author_family_id, obj.author_user)

    @admin.display(description=_("图片"))
    def image_count(self, obj):
        return obj.images.count()


@admin.register(Thread)
class ThreadAdmin(_PostFieldsMixin, ServiceRowsReadOnlyMixin, _ModeratedRowsAdmin):
    names_people = True
    list_display = [
        "title",
        "board",
        "kind",
        "status_label",
        "is_pinned",
        "is_closed",
        "reply_count",
        "last_activity_at",
    ]
    list_filter = ["kind", "is_pinned", "is_closed"]
    search_fields = ["title"]
    list_select_related = ["board"]
    show_full_result_count = False
    fields = [
        "title",
        "board",
        "kind",
        "status_label",
        "author_label",
        "is_pinned",
        "is_closed",
        "accepted_post",
        "accepted_at",
        "reply_count",
        "published_at",
        "last_activity_at",
        "first_staff_reply_at",
        "created_at",
        "moderation_link",
    ]
    readonly_fields = fields

    @admin.display(description=_("状态"))
    def status_label(self, obj):
        return Post.Status(obj.status).label if obj.status in Post.Status.values else obj.status

    @admin.display(description=_("处理"))
    def moderation_link(self, obj):
        return _moderation_link()

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author_user", "board")


@admin.register(Post)
class PostAdmin(_PostFieldsMixin, ServiceRowsReadOnlyMixin, _ModeratedRowsAdmin):
    names_people = True
    list_display = [
        "short_body",
        "thread",
        "board",
        "author_name",
        "author_role",
        "status",
        "held_for",
        "report_count",
        "created_at",
    ]
    list_filter = ["status", "held_for", "author_role", "is_opening"]
    search_fields = ["body", "author_name"]
    list_select_related = ["thread", "board"]
    show_full_result_count = False
    ordering = ["-created_at", "-pk"]
    fields = [
        "thread",
        "board",
        "is_opening",
        "body",
        "author_label",
        "author_role",
        "author_name",
        "author_school",
        "status",
        "held_for",
        "matched_categories",
        "report_count",
        "image_count",
        "created_at",
        "published_at",
        "decided_at",
        "moderation_link",
    ]
    readonly_fields = fields

    @admin.display(description=_("内容"))
    def short_body(self, obj):
        return obj.body if len(obj.body) <= 40 else obj.body[:40] + "…"

    @admin.display(description=_("处理"))
    def moderation_link(self, obj):
        return _moderation_link()

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("author_user", "thread", "board")


@admin.register(Report)
class ReportAdmin(ServiceRowsReadOnlyMixin, _ModeratedRowsAdmin):
    board_path = "post__board"
    names_people = True
    list_display = ["post", "reason", "reporter_label", "created_at", "resolved_at"]
    search_fields = ["post__body", "detail"]
    list_select_related = ["post", "reporter_user"]
    show_full_result_count = False
    ordering = ["-created_at", "-pk"]
    fields = ["post", "reason", "detail", "reporter_label", "created_at", "resolved_at"]
    readonly_fields = fields

    @admin.display(description=_("举报人"))
    def reporter_label(self, obj):
        return _real_name_label(obj, obj.reporter_family_id, obj.reporter_user)


@admin.register(Decision)
class DecisionAdmin(ServiceRowsReadOnlyMixin, _ModeratedRowsAdmin):
    list_display = ["created_at", "board", "action", "family_label", "decided_by_label"]
    search_fields = ["reason", "board__title"]
    list_select_related = ["board", "decided_by"]
    show_full_result_count = False
    fields = [
        "board",
        "post",
        "family_label",
        "action",
        "reason",
        "mute_until",
        "decided_by_label",
        "created_at",
    ]
    readonly_fields = fields

    @admin.display(description=_("家庭"))
    def family_label(self, obj):
        return _family_label(obj.family_id)

    @admin.display(description=_("审核人"))
    def decided_by_label(self, obj):
        return _person_label(obj.decided_by)


@admin.register(Mute)
class MuteAdmin(ServiceRowsReadOnlyMixin, _ModeratedRowsAdmin):
    board_path = "decision__board"
    list_display = ["family_label", "scope_label", "until", "decision"]
    list_select_related = ["parent_school", "group", "decision"]
    show_full_result_count = False
    ordering = ["-until", "-pk"]
    fields = ["family_label", "parent_school", "group", "until", "decision"]
    readonly_fields = fields

    @admin.display(description=_("家庭"))
    def family_label(self, obj):
        return _family_label(obj.family_id)

    @admin.display(description=_("范围"))
    def scope_label(self, obj):
        return obj.group or obj.parent_school


@admin.register(BoardProfile)
class BoardProfileAdmin(ServiceRowsReadOnlyMixin, ScopedAdminMixin, admin.ModelAdmin):
    """Nicknames and whose they are: the administrators' to look up (a district
    administrator: their district's families), changed only by the family
    (nickname_set, audit-logged)."""

    list_display = ["nickname", "family_label", "updated_at"]
    search_fields = ["nickname"]
    show_full_result_count = False
    fields = ["nickname", "family_label", "updated_at"]
    readonly_fields = fields

    @admin.display(description=_("家庭"))
    def family_label(self, obj):
        return _family_label(obj.family_id)

    def get_queryset(self, request):
        profiles = super().get_queryset(request)
        allowed = _profiles_visible(request.user)
        return profiles if allowed is None else profiles.filter(pk__in=allowed.values("pk"))

    # A gate on scoped rows: get_queryset above keeps a district administrator to
    # their district's families (another's profile answers 404).
    def has_module_permission(self, request):
        return access.is_district_admin(request.user)

    def has_view_permission(self, request, obj=None):
        return access.is_district_admin(request.user)
