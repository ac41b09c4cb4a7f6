"""The coordinator's results and comparison pages on a 375×812 phone (issue 15):
a unit coordinator opens a session survey's results, the alliance coordinator the
comparison of two parent schools (one too small: 「样本不足，不显示」) and its
printable page. No sideways scroll of the page itself, every table scrolls in its
own named, focusable region, and axe finds no WCAG 2.1 AA violation."""

from __future__ import annotations

import pytest

from parent_school.tests.factories import ParentSchoolFactory
from surveys.tests.test_manage_pages import answer_sheet, school_term_survey
from surveys.tests.world import ANSWERS, session_survey, term_survey
from tests.phone import fits_and_is_accessible, signed_in_phone

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TABLE_REGIONS = """() => Array.from(document.querySelectorAll('main table')).map(t => {
    const region = t.closest('[role=region]');
    return region ? {named: Boolean(region.getAttribute('aria-label')
                                    || region.getAttribute('aria-labelledby')),
                     tabindex: region.tabIndex} : null;
})"""


def _settled(page, label: str) -> None:
    page.wait_for_load_state("networkidle")
    fits_and_is_accessible(page, label)
    for region in page.evaluate(TABLE_REGIONS):
        assert region == {"named": True, "tabindex": 0}, label


def test_the_results_and_the_comparison_read_well_on_a_phone(live_server, browser, tx_world):
    world = tx_world
    survey = session_survey(world)
    for value in (5, 4, 4, 3, 5):
        answer_sheet(survey, world.version, {**ANSWERS, "satisfaction": value})
    ours = term_survey(world)
    theirs = school_term_survey(
        world, ParentSchoolFactory(name="城东第二家长学校", host_unit=world.school)
    )
    for value in (5, 5, 4, 4, 3, 5):
        answer_sheet(ours, world.version, {**ANSWERS, "satisfaction": value})
    for _n in range(3):
        answer_sheet(theirs, world.version, ANSWERS)
    base = live_server.url

    context, page = signed_in_phone(browser, live_server, world.unit_coordinator)
    try:
        page.goto(f"{base}/surveys/manage/{survey.pk}/")
        assert "4.20" in page.content()
        assert page.locator("svg.chart").count() >= 1
        _settled(page, "results")
    finally:
        context.close()

    context, page = signed_in_phone(browser, live_server, world.alliance_coordinator)
    try:
        page.goto(f"{base}/surveys/manage/compare/?template={world.template.pk}&by=parent_school")
        # our school has the session's 5 answers and the term survey's 6
        body = page.content()
        assert "4.27" in body and "样本不足，不显示" in body
        assert page.get_by_role("button", name="导出比较结果（Excel）").is_visible()
        _settled(page, "comparison")
        page.get_by_role("link", name="打印版").click()
        page.wait_for_load_state("networkidle")
        assert "4.27" in page.content()
        _settled(page, "comparison print")
    finally:
        context.close()
