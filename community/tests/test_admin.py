"""The boards' admin: the district's word list edited, imported and exported
through community.services (district administrators only), boards whose one
editable setting goes through board_settings_update, and read-only threads,
posts, reports, decisions and mutes of the boards the user moderates. Every
picker of these pages is walked by tests/security/test_admin_pickers.py."""

from __future__ import annotations

import io

import openpyxl
import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from community import filtering
from community.models import Board, Post, SensitiveWord, WordListVersion
from community.tests.factories import (
    BoardProfileFactory,
    DecisionFactory,
    MuteFactory,
    PostFactory,
    ReportFactory,
    SensitiveWordFactory,
    ThreadFactory,
)
from groups.models import Group, GroupMembership
from members.models import AuditLog

pytestmark = pytest.mark.django_db

WORDS = "admin:community_sensitiveword_changelist"
WORD_ADD = "admin:community_sensitiveword_add"
WORD_IMPORT = "admin:community_sensitiveword_import"


def _version() -> int:
    row = WordListVersion.objects.first()
    return row.version if row else 0


def _word_form(**overrides):
    data = {"word": "", "category": "ads", "match_pinyin": "on", "is_active": "on", "note": ""}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# -- the word list --------------------------------------------------------------------


def test_a_district_admin_adds_a_word_through_the_service_normalised_and_effective_at_once(
    client, board_world
):
    # given the district administrator in the admin
    client.force_login(board_world.district_admin)
    before = _version()

    # when she adds 「加 微 信」 with spaces and full-width letters around it
    response = client.post(reverse(WORD_ADD), _word_form(word=" 加 微 信 ", note="引流"))

    # then the word is stored as the service normalises it, audited, and the list's version moved
    assert response.status_code == 302, response.content.decode()[:2000]
    word = SensitiveWord.objects.get()
    assert word.word == "加微信" and word.category == "ads" and word.updated_by_id
    assert AuditLog.objects.filter(action="community.word.add").count() == 1
    assert _version() > before
    # and the next check already holds a post that contains it
    assert filtering.text_check("有需要的加微信聊").hit


def test_a_word_that_normalises_to_a_listed_one_is_refused_on_the_field_nothing_written(
    client, board_world
):
    SensitiveWordFactory(word="刷单", category="fraud")
    client.force_login(board_world.district_admin)
    version = _version()
    audits = AuditLog.objects.count()

    response = client.post(reverse(WORD_ADD), _word_form(word="刷 单", category="fraud"))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "已经在词表里了" in " ".join(errors["word"])
    assert SensitiveWord.objects.count() == 1
    assert AuditLog.objects.count() == audits and _version() == version


def test_an_empty_word_is_refused_with_the_services_message(client, board_world):
    client.force_login(board_world.district_admin)
    response = client.post(reverse(WORD_ADD), _word_form(word="！？。"))
    assert response.status_code == 200
    assert "请填写敏感词" in " ".join(response.context["adminform"].form.errors["word"])
    assert not SensitiveWord.objects.exists()


def test_changing_and_deleting_a_word_go_through_the_service(client, board_world):
    word = SensitiveWordFactory(word="代购", category="ads")
    client.force_login(board_world.district_admin)

    change = reverse("admin:community_sensitiveword_change", args=[word.pk])
    response = client.post(change, _word_form(word="代购", category="fraud", is_active=None))
    assert response.status_code == 302
    word.refresh_from_db()
    assert word.category == "fraud" and word.is_active is False
    assert AuditLog.objects.filter(action="community.word.change").count() == 1

    delete = reverse("admin:community_sensitiveword_delete", args=[word.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 302
    assert not SensitiveWord.objects.exists()
    assert AuditLog.objects.filter(action="community.word.delete").count() == 1


def test_only_district_administrators_reach_the_word_list(client, board_world):
    SensitiveWordFactory(word="刷单", category="fraud")
    for user in (board_world.coordinator, board_world.alliance_coordinator):
        client.force_login(user)
        assert client.get(reverse(WORDS)).status_code == 403
        assert client.get(reverse(WORD_IMPORT)).status_code == 403
        assert client.post(reverse(WORD_ADD), _word_form(word="新词")).status_code == 403
    assert SensitiveWord.objects.count() == 1


def _csv(text: str, name="words.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")


def test_importing_a_word_list_uses_labels_or_codes_and_updates_listed_words(client, board_world):
    SensitiveWordFactory(word="代购", category="other")
    client.force_login(board_world.district_admin)
    before = _version()

    upload = _csv("敏感词,类别\n加微信,广告引流\n刷 单,fraud\n\n代购,ads\n")
    response = client.post(reverse(WORD_IMPORT), {"file": upload})

    assert response.status_code == 302
    assert dict(SensitiveWord.objects.values_list("word", "category")) == {
        "加微信": "ads",
        "刷单": "fraud",
        "代购": "ads",
    }
    assert AuditLog.objects.filter(action="community.word.import").count() == 1
    assert _version() > before
    page = client.get(response["Location"]).content.decode()
    assert "已导入 3 个敏感词" in page


def test_a_bad_word_list_names_each_row_and_column_and_writes_nothing(client, board_world):
    client.force_login(board_world.district_admin)
    upload = _csv("敏感词,类别\n加微信,广告引流\n,ads\n代购,不存在的类别\n加 微信,ads\n")

    response = client.post(reverse(WORD_IMPORT), {"file": upload})

    assert response.status_code == 200
    rows = response.context["row_errors"]
    assert [(row, column) for row, column, _why in rows] == [
        (3, "敏感词"),
        (4, "类别"),
        (5, "敏感词"),
    ]
    page = response.content.decode()
    assert "文件有错误，未写入任何数据" in page and "与第 2 行重复" in page
    assert not SensitiveWord.objects.exists()
    assert not AuditLog.objects.filter(action="community.word.import").exists()


def test_a_word_list_without_its_columns_is_refused_before_the_service(client, board_world):
    client.force_login(board_world.district_admin)
    response = client.post(reverse(WORD_IMPORT), {"file": _csv("词,分类\n加微信,ads\n")})
    assert response.status_code == 200
    assert "缺少列标题：敏感词、类别" in response.content.decode()
    assert not SensitiveWord.objects.exists()


def test_an_xlsx_word_list_imports_too(client, board_world):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["敏感词", "类别"])
    sheet.append(["刷单返利", "诈骗与违法"])
    buffer = io.BytesIO()
    book.save(buffer)
    client.force_login(board_world.district_admin)

    upload = SimpleUploadedFile("words.xlsx", buffer.getvalue())
    response = client.post(reverse(WORD_IMPORT), {"file": upload})

    assert response.status_code == 302
    assert SensitiveWord.objects.get().word == "刷单返利"


def test_the_export_escapes_formulae_and_is_audit_logged(client, board_world):
    word = SensitiveWordFactory(word="加微信", category="ads", note="=HYPERLINK(1)")
    client.force_login(board_world.district_admin)

    response = client.post(
        reverse(WORDS), {"action": "export_xlsx", ACTION_CHECKBOX_NAME: [word.pk]}
    )

    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:2] == ("敏感词", "类别")
    assert rows[1][:2] == ("加微信", "广告引流")
    assert rows[1][4] == "'=HYPERLINK(1)"
    entry = AuditLog.objects.get(action="community.word.export")
    assert entry.actor_id == board_world.district_admin.pk and entry.data["rows"] == 1

    # and the file imports again as it is
    SensitiveWord.objects.all().delete()
    upload = SimpleUploadedFile("again.xlsx", response.content)
    assert client.post(reverse(WORD_IMPORT), {"file": upload}).status_code == 302
    assert SensitiveWord.objects.get().category == "ads"


# -- boards ------------------------------------------------------------------------------


def test_a_coordinator_lists_the_boards_she_moderates_and_changes_only_the_hold_setting(
    client, board_world
):
    w = board_world
    client.force_login(w.coordinator)

    listed = client.get(reverse("admin:community_board_changelist"))
    assert set(listed.context["cl"].result_list) == {w.board, w.group_board}

    url = reverse("admin:community_board_change", args=[w.board.pk])
    response = client.post(url, {"hold_first_posts": "2", "title": "改掉的名称"})
    assert response.status_code == 302
    w.board.refresh_from_db()
    assert w.board.hold_first_posts == 2 and w.board.title == "溪口中心小学家长学校交流区"
    assert AuditLog.objects.filter(action="community.board.settings").count() == 1

    refused = client.post(url, {"hold_first_posts": "999"})
    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors["hold_first_posts"]
    w.board.refresh_from_db()
    assert w.board.hold_first_posts == 2

    # another school's board is not hers to open
    other = reverse("admin:community_board_change", args=[w.other_board.pk])
    assert client.get(other).status_code == 404
    assert client.get(reverse("admin:community_board_add")).status_code == 403


def test_a_facilitator_sees_only_the_group_board_and_can_moderate_its_settings(client, board_world):
    w = board_world
    client.force_login(w.instructor)
    listed = client.get(reverse("admin:community_board_changelist"))
    assert list(listed.context["cl"].result_list) == [w.group_board]
    url = reverse("admin:community_board_change", args=[w.board.pk])
    assert client.get(url).status_code == 404


# -- posts and their real authors -----------------------------------------------------------


def _posts(w):
    thread = ThreadFactory(board=w.board, title="孩子写作业拖拉怎么办", author_family=w.mum.family)
    post = PostFactory(
        thread=thread,
        is_opening=True,
        body="孩子每天写作业到十点",
        author_family=w.mum.family,
        author_user=w.mum.user,
        author_name="雨点妈妈",
        author_school=w.parent_school.name,
        status=Post.Status.HELD,
        held_for=Post.HeldFor.SENSITIVE,
        matched_categories="ads",
    )
    other_thread = ThreadFactory(board=w.other_board, title="渝中的帖子")
    other = PostFactory(
        thread=other_thread,
        is_opening=True,
        body="渝中家长的内容",
        author_family=w.outsider.family,
        author_user=w.outsider.user,
    )
    return post, other


def test_moderators_see_who_posted_with_a_masked_phone_and_nothing_of_other_schools(
    client, board_world
):
    w = board_world
    post, other = _posts(w)
    client.force_login(w.coordinator)

    page = client.get(reverse("admin:community_post_change", args=[post.pk]))
    body = page.content.decode()
    assert page.status_code == 200
    phone = w.mum.user.phone
    assert f"陈妈妈 · {phone[:3]}****{phone[-4:]}" in body
    assert phone not in body and "小雨点" not in body
    assert f"家庭 #{w.mum.family.pk}" in body
    # read-only: no save button, nothing to change
    assert 'name="_save"' not in body

    listed = client.get(reverse("admin:community_post_changelist"))
    assert list(listed.context["cl"].result_list) == [post]
    assert client.get(reverse("admin:community_post_change", args=[other.pk])).status_code == 404
    threads = client.get(reverse("admin:community_thread_changelist"))
    assert list(threads.context["cl"].result_list) == [post.thread]


def test_a_facilitator_s_admin_shows_posters_and_reporters_by_nickname_only(client, board_world):
    w = board_world
    thread = ThreadFactory(board=w.group_board, title="小组求助", author_family=w.mum.family)
    post = PostFactory(
        thread=thread,
        is_opening=True,
        author_family=w.mum.family,
        author_user=w.mum.user,
        author_name="雨点妈妈",
    )
    report = ReportFactory(post=post, reporter_family=w.dad.family, reporter_user=w.dad.user)
    masked = w.mum.user.phone[:3] + "****" + w.mum.user.phone[-4:]
    pages = (
        reverse("admin:community_post_change", args=[post.pk]),
        reverse("admin:community_thread_change", args=[thread.pk]),
        reverse("admin:community_report_change", args=[report.pk]),
        reverse("admin:community_report_changelist"),
    )
    client.force_login(w.instructor)
    for url in pages:
        body = client.get(url).content.decode()
        assert "实名只有本校管理员可见" in body, url
        for person in (w.mum, w.dad):
            assert person.user.display_name not in body, url
    assert masked not in client.get(pages[0]).content.decode()
    client.force_login(w.coordinator)
    assert masked in client.get(pages[0]).content.decode()
    assert w.dad.user.display_name in client.get(pages[2]).content.decode()


def test_reports_decisions_and_mutes_are_read_only_lists_of_the_moderated_boards(
    client, board_world
):
    w = board_world
    post, other = _posts(w)
    report = ReportFactory(post=post, reporter_family=w.dad.family, reporter_user=w.dad.user)
    ReportFactory(post=other, reporter_family=w.outsider.family)
    decision = DecisionFactory(
        board=w.board, post=post, family=w.mum.family, decided_by=w.coordinator
    )
    DecisionFactory(board=w.other_board, post=other, decided_by=w.other_coordinator)
    mute = MuteFactory(
        family=w.mum.family,
        parent_school=w.parent_school,
        decision=DecisionFactory(board=w.board, post=post, action="mute"),
    )
    client.force_login(w.coordinator)

    for name, expected in (
        ("report", [report]),
        ("decision", [mute.decision, decision]),
        ("mute", [mute]),
    ):
        listed = client.get(reverse(f"admin:community_{name}_changelist"))
        assert listed.status_code == 200
        assert sorted(listed.context["cl"].result_list, key=lambda r: r.pk) == sorted(
            expected, key=lambda r: r.pk
        ), name
        assert client.get(reverse(f"admin:community_{name}_add")).status_code == 403
    page = client.get(reverse("admin:community_report_change", args=[report.pk])).content.decode()
    assert w.dad.user.phone not in page and "李爸爸" in page


def test_an_archived_group_boards_posts_leave_every_admin_list_but_the_facilitators(
    client, board_world
):
    w = board_world
    thread = ThreadFactory(board=w.group_board, title="小组里的话题")
    post = PostFactory(thread=thread, body="只给组员看的内容", author_family=w.mum.family)
    Group.objects.filter(pk=w.group.pk).update(status="dissolved", dissolved_at=timezone.now())
    GroupMembership.objects.filter(group=w.group).update(status="ended")
    Board.objects.filter(pk=w.group_board.pk).update(is_archived=True)

    for user in (w.coordinator, w.district_admin):
        client.force_login(user)
        listed = client.get(reverse("admin:community_post_changelist"))
        assert post not in listed.context["cl"].result_list
        url = reverse("admin:community_post_change", args=[post.pk])
        assert client.get(url).status_code == 404

    client.force_login(w.instructor)
    listed = client.get(reverse("admin:community_post_changelist"))
    assert list(listed.context["cl"].result_list) == [post]


def test_nicknames_are_the_district_admins_to_look_up(client, board_world):
    w = board_world
    BoardProfileFactory(family=w.mum.family, nickname="雨点妈妈")
    client.force_login(w.coordinator)
    assert client.get(reverse("admin:community_boardprofile_changelist")).status_code == 403
    client.force_login(w.district_admin)
    page = client.get(reverse("admin:community_boardprofile_changelist")).content.decode()
    assert "雨点妈妈" in page and f"家庭 #{w.mum.family.pk}" in page
    assert w.mum.user.phone not in page


def test_the_post_list_costs_the_same_queries_for_5_or_50_posts(
    client, board_world, django_assert_max_num_queries
):
    w = board_world
    client.force_login(w.coordinator)
    url = reverse("admin:community_post_changelist")

    def queries(count):
        PostFactory.create_batch(
            count - Post.objects.count(),
            thread=ThreadFactory(board=w.board),
            author_family=w.dad.family,
            author_user=w.dad.user,
        )
        client.get(url)  # warm the per-request caches the same way each time
        with django_assert_max_num_queries(100) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    assert queries(5) == queries(50)
