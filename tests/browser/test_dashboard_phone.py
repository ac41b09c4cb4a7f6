"""Done when: the dashboards and the delivery log read well on a 375×812 phone.

On the demo data (``load_demo``: a term in progress), a coordinator opens the
alliance dashboard, a unit's and a parent school's dashboards and an event's
delivery log in Chromium at phone size. The page itself never scrolls sideways;
no table cell is squeezed below two characters (today's bug: one character per
line); each table scrolls sideways in its own region, which has a name, takes
keyboard focus and scrolls with the arrow keys, and keeps its first column in
view. axe-core finds no WCAG 2.1 AA violation.
"""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from events.models import Event
from members.models import MemberUnit, User
from parent_school.models import ParentSchool
from reports.selectors import KEY_FIGURES
from tests.a11y import axe_violations
from tests.phone import fits_without_horizontal_scroll, signed_in_phone

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Measured in the page: every cell's content box (its width less its padding)
# against its first two characters as drawn in the cell's own font (a canvas
# measures them with the same fonts and fallbacks as the page).
NARROW_CELLS = """() => {
    const ctx = document.createElement('canvas').getContext('2d');
    return Array.from(document.querySelectorAll('main td, main th'))
        .filter(c => c.innerText.trim().length >= 2)
        .map(c => {
            const s = getComputedStyle(c);
            ctx.font = s.font;
            const content = c.getBoundingClientRect().width
                - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
            const two = ctx.measureText(c.innerText.trim().slice(0, 2)).width;
            return {text: c.innerText.trim().slice(0, 12), content, two};
        })
        .filter(c => c.content + 0.5 < c.two);
}"""

REGIONS = """() => Array.from(document.querySelectorAll('main table')).map(t => {
    const region = t.closest('[role=region]');
    if (!region) return {caption: t.caption && t.caption.innerText, region: null};
    const label = (region.getAttribute('aria-labelledby') || '').split(' ')
        .map(id => document.getElementById(id)).filter(Boolean)
        .map(e => e.textContent.trim()).join(' ') || region.getAttribute('aria-label') || '';
    return {
        label, tabindex: region.tabIndex, overflow: getComputedStyle(region).overflowX,
        scrolls: region.scrollWidth > region.clientWidth,
        inside: region.getBoundingClientRect().right <= document.documentElement.clientWidth,
    };
})"""


def page_fits_a_phone(page) -> list[dict]:
    """Checks every table of the page; returns the regions that scroll sideways."""
    assert fits_without_horizontal_scroll(page), "the page itself scrolls sideways"
    assert page.evaluate(NARROW_CELLS) == []
    regions = page.evaluate(REGIONS)
    assert regions, "no table on the page"
    for region in regions:
        assert "label" in region, region  # every table is inside a region ...
        assert region["label"], region  # ... with a name ...
        assert region["tabindex"] == 0, region  # ... that takes keyboard focus
        assert region["overflow"] == "auto" and region["inside"], region
    assert axe_violations(page) == []
    return [r for r in regions if r["scrolls"]]


def test_dashboards_and_the_delivery_log_read_well_on_a_phone(live_server, browser):
    # given the demo, and the district administrator (every unit) on a phone
    call_command("load_demo", stdout=io.StringIO())
    admin = User.objects.get(username="demo_district_admin")
    context, page = signed_in_phone(browser, live_server, admin)
    unit = MemberUnit.objects.get(name="溪口镇成人文化技术学校")
    school = ParentSchool.objects.get(name="溪口镇社区家长学校")
    event = Event.objects.get(title="亲子实践：武岭公园秋季亲子徒步")
    pages = {
        "overview": "/reports/",
        "unit": f"/reports/units/{unit.pk}/",
        "school": f"/reports/parent-schools/{school.pk}/",
        "deliveries": f"/events/manage/{event.pk}/deliveries/",
    }

    scrolling = {}
    for name, path in pages.items():
        # when
        page.goto(live_server.url + path)
        page.wait_for_load_state()

        # then
        assert page.get_by_role("heading", level=1).is_visible(), name
        scrolling[name] = page_fits_a_phone(page)

    # the wide tables (units compared; the delivery log's eight columns) scroll in
    # their own region rather than squeezing
    assert scrolling["overview"] and scrolling["deliveries"]

    # when: the delivery log's table is scrolled with the keyboard
    page.goto(live_server.url + pages["deliveries"])
    region = page.get_by_role("region", name="明细")
    first_cell = region.locator("tbody tr").first.locator("th")
    left_before = first_cell.bounding_box()["x"]
    region.focus()
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.activeElement.scrollLeft > 0", timeout=5000)

    # then: it scrolled, and the recipient column stayed in view
    assert region.evaluate("r => r.scrollLeft") > 0
    assert abs(first_cell.bounding_box()["x"] - left_before) < 1
    assert page.evaluate("() => document.activeElement.getAttribute('role')") == "region"
    context.close()


def test_the_figures_and_their_notes_fit_a_phone(live_server, browser):
    # given
    call_command("load_demo", stdout=io.StringIO())
    coordinator = User.objects.get(username="demo_xikou_coordinator")
    context, page = signed_in_phone(browser, live_server, coordinator)

    # when
    page.goto(live_server.url + "/reports/")

    # then: every figure card shows its number, name and note inside the screen
    cards = page.locator("[data-figure]")
    assert cards.count() == len(KEY_FIGURES)
    for i in range(cards.count()):
        card = cards.nth(i)
        box = card.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 375, card.inner_text()
        assert card.locator(".report-figure-note").inner_text().strip()
    assert page.locator("[data-figure=person_times] .report-figure").inner_text() != "0"
    context.close()
