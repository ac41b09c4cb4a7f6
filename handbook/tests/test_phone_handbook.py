"""Done when (issue 14): a parent, tried as a new user would on a phone, claims
three at-home items (one with a photo) and sees them pending; a fourth claim of
the same item on the same day is refused with a clear message; the class
teacher approves two and rejects one with a reason; the parent sees 2 items
counted and the reason. Both on a 375×812 phone in Debian's Chromium, with axe
(WCAG 2.1 AA) on the handbook, the claim form and the review queue."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from handbook.demo import default_items
from handbook.models import Claim
from handbook.tests.conftest import current_term
from members.models import RoleAssignment
from members.tests.factories import (
    ChildFactory,
    GuardianFactory,
    MemberUnitFactory,
    RoleAssignmentFactory,
    UserFactory,
)
from tests.phone import fits_and_is_accessible, signed_in_phone

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _photo() -> dict:
    image = Image.new("RGB", (2000, 1500), (30, 120, 200))
    image.putpixel((0, 0), (200, 10, 10))
    out = io.BytesIO()
    image.save(out, format="JPEG")
    return {"name": "IMG_0001.jpg", "mimeType": "image/jpeg", "buffer": out.getvalue()}


def _settled(page, label: str) -> None:
    page.wait_for_load_state("networkidle")
    fits_and_is_accessible(page, label)


def _claim(page, base: str, item: str, note: str = "", photo: dict | None = None) -> None:
    page.goto(f"{base}/handbook/")
    page.get_by_role("link", name="申报", exact=True).click()
    page.wait_for_load_state("networkidle")
    page.locator(".handbook-item-choice label", has_text=item).click()
    page.get_by_label("小明", exact=True).check()
    if note:
        page.get_by_label("说明", exact=True).fill(note)
    if photo:
        page.get_by_label("照片", exact=True).set_input_files(photo)
    page.get_by_role("button", name="提交申报").click()
    page.wait_for_load_state("networkidle")


def test_a_parent_claims_on_a_phone_and_the_class_teacher_decides(
    live_server, browser, settings, tmp_path
):
    # given the district's default handbook, this term, a new parent whose son
    # 小明 goes to 溪口小学, and the school's class teacher (its unit coordinator)
    settings.MEDIA_ROOT = str(tmp_path / "media")
    default_items()
    current_term()
    school = MemberUnitFactory(name="溪口小学")
    mother = GuardianFactory(user=UserFactory(display_name="王妈妈"))
    ChildFactory(family=mother.family, nickname="小明", school=school)
    teacher = RoleAssignmentFactory(
        role=RoleAssignment.Role.UNIT_COORDINATOR,
        unit=school,
        user=UserFactory(display_name="李老师"),
    ).user
    base = live_server.url
    context, page = signed_in_phone(browser, live_server, mother.user)
    teacher_context, teacher_page = signed_in_phone(browser, live_server, teacher)

    try:
        # when she finds the handbook from 我的 and opens it
        page.goto(f"{base}/mine/")
        page.get_by_role("link", name="成长手册").click()
        page.wait_for_load_state("networkidle")
        assert "在家陪伴 已完成 0/10 项" in " ".join(
            page.locator(".handbook-kind").all_inner_texts()
        ).replace("\n", " ")
        _settled(page, "handbook (empty)")

        # and claims three at-home items, one with a photo
        page.get_by_role("link", name="申报", exact=True).click()
        page.wait_for_load_state("networkidle")
        _settled(page, "claim form")
        _claim(page, base, "亲子阅读", note="和小明一起读了《小王子》第一章")
        assert "已提交“亲子阅读”的申报" in page.content()
        _claim(page, base, "家务劳动", photo=_photo())
        assert "已提交“家务劳动”的申报" in page.content()
        _claim(page, base, "亲子游戏")
        assert "已提交“亲子游戏”的申报" in page.content()

        # then the three are pending on her handbook page
        pending = page.locator(".handbook-claim-pending")
        assert pending.count() == 3
        assert {"亲子阅读", "家务劳动", "亲子游戏"} == {
            pending.nth(i).locator("a").inner_text() for i in range(3)
        }
        _settled(page, "handbook (pending)")

        # when she claims 亲子阅读 again the same day
        _claim(page, base, "亲子阅读", note="又读了一章")

        # then she is told why, next to the date, and nothing is added
        date_row = page.locator(".form-row:has(#id_occurred_on)")
        assert "“亲子阅读”每户每天最多申报 1 次，今天已达上限。" in date_row.inner_text()
        assert page.get_by_label("日期").get_attribute("aria-invalid") == "true"
        assert Claim.objects.count() == 3
        _settled(page, "claim refused")

        # when the class teacher opens the queue on her phone
        teacher_page.goto(f"{base}/mine/")
        teacher_page.get_by_role("link", name="手册审核").click()
        teacher_page.wait_for_load_state("networkidle")
        queue = teacher_page.locator(".handbook-queue-item")
        assert queue.count() == 3
        assert "小明" not in teacher_page.locator(".handbook-queue").inner_text()
        _settled(teacher_page, "review queue")

        # and approves the first two (the photo is shown to her on the claim)
        for item in ("亲子阅读", "家务劳动"):
            teacher_page.get_by_role("link", name=item).click()
            teacher_page.wait_for_load_state("networkidle")
            assert "小明" in teacher_page.locator(".handbook-facts").inner_text()
            if item == "家务劳动":
                photo = teacher_page.locator(".handbook-photo img")
                assert photo.evaluate("img => img.complete && img.naturalWidth") > 0
            teacher_page.get_by_role("button", name="通过").click()
            teacher_page.wait_for_load_state("networkidle")
            assert f"已通过：{item}。" in teacher_page.content()

        # and rejects the third with a reason
        teacher_page.get_by_role("link", name="亲子游戏").click()
        teacher_page.get_by_role("button", name="退回").click()
        teacher_page.wait_for_load_state("networkidle")
        assert "请填写审核意见" in teacher_page.content()  # a reason is needed
        teacher_page.get_by_label("审核意见", exact=True).fill("请写明玩了什么游戏、玩了多久")
        teacher_page.get_by_role("button", name="退回").click()
        teacher_page.wait_for_load_state("networkidle")
        assert "已退回：亲子游戏" in teacher_page.content()

        # then the parent sees two items counted, their points, and the reason
        page.goto(f"{base}/handbook/")
        page.wait_for_load_state("networkidle")
        kinds = " ".join(page.locator(".handbook-kind").all_inner_texts()).replace("\n", " ")
        assert "在家陪伴 已完成 2/10 项" in kinds
        assert "已获积分 4 分" in page.content()  # 2 + 2 for the two approved items
        rejected = page.locator(".handbook-claim-rejected")
        assert rejected.count() == 1
        assert "亲子游戏" in rejected.inner_text()
        assert "原因：请写明玩了什么游戏、玩了多久" in rejected.inner_text()
        assert page.locator(".handbook-claim-pending").count() == 0
        _settled(page, "handbook (decided)")
    finally:
        context.close()
        teacher_context.close()
