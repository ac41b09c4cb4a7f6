"""Done-when: a coordinator, on a phone, opens the dashboard, recomputes it and
downloads the workbook for their units only."""

import pytest
from openpyxl import load_workbook

from reports.models import ReportJob
from reports.tests.workbook import table
from tests.a11y import axe_violations
from tests.phone import fits_without_horizontal_scroll, signed_in_phone

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_coordinator_recomputes_and_downloads_the_workbook_on_a_phone(
    live_server, browser, dataset, people, tmp_path
):
    # given: a unit coordinator of u1, signed in on a phone; nothing computed yet
    context, page = signed_in_phone(browser, live_server, people.u1, accept_downloads=True)

    # when: the dashboard link in the navigation
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="统计看板").click()
    page.wait_for_load_state()

    # then
    assert page.get_by_role("heading", level=1).inner_text().startswith("统计看板")
    assert "还没有统计快照" in page.content()
    assert fits_without_horizontal_scroll(page)

    # when: recompute (runs after the commit; tasks are eager in the test settings)
    page.get_by_role("button", name="立即重新计算").click()
    page.wait_for_load_state()

    # then: the job page says done, and the dashboard shows u1's figures only
    assert "已完成" in page.content()
    page.get_by_role("link", name="查看更新后的看板").click()
    page.wait_for_load_state()
    assert "第一小学" in page.content() and dataset.u2.name not in page.content()
    assert page.locator("svg.chart").count() >= 3
    assert fits_without_horizontal_scroll(page)
    assert axe_violations(page) == []
    # printable: the forms and navigation go, the charts and tables stay
    page.emulate_media(media="print")
    assert page.locator(".report-actions").is_hidden()
    assert page.locator("svg.chart").first.is_visible()
    page.emulate_media(media="screen")

    # when: download the workbook
    with page.expect_download() as download_info:
        page.get_by_role("button", name="导出").click()
    path = tmp_path / "report.xlsx"
    download_info.value.save_as(path)

    # then: it holds u1's parent schools only
    book = load_workbook(path)
    units = {row[0] for row in table(book["汇总"]).rows}
    assert units == {"第一小学"}
    assert ReportJob.objects.filter(requested_by=people.u1, status="done").count() == 1
    context.close()
