"""The layout's four tabs (首页 / 课程 / 活动 / 我的) and the 我的 page with the rest."""

import re

import pytest
from django.urls import reverse

from members.models import RoleAssignment
from members.tests.factories import GuardianFactory, RoleAssignmentFactory
from notifications.services import notification_create

pytestmark = pytest.mark.django_db

TAB = re.compile(r'<a href="([^"]+)" data-tab="(\w+)"( aria-current="(page|true)")?>')


def tabs(body: str) -> dict[str, tuple[str, str | None]]:
    """data-tab → (href, aria-current or None)."""
    return {name: (href, current or None) for href, name, _attr, current in TAB.findall(body)}


def test_four_tabs_on_every_page_and_nothing_else_in_the_bar(client):
    body = client.get(reverse("portal:home")).content.decode()
    nav = body[body.index('<nav class="tab-bar"') : body.index("</nav>", body.index("tab-bar"))]
    assert list(tabs(body)) == ["home", "courses", "events", "mine"]
    assert [label for label in re.findall(r'<span class="tab-label">([^<]+)</span>', nav)] == [
        "首页",
        "课程",
        "活动",
        "我的",
    ]
    # the skip link, the language switch and sign-in stay in the one-line top bar
    assert '<a class="skip-link" href="#main">' in body
    assert 'id="language-select"' in body
    assert f'href="{reverse("account_login")}"' in body


@pytest.mark.parametrize(
    ("url", "tab", "current"),
    [
        (reverse("portal:home"), "home", "page"),
        (reverse("courses:catalogue"), "courses", "page"),
        (reverse("parent_school:list"), "courses", "true"),
        (reverse("events:list"), "events", "page"),
        (reverse("portal:mine"), "mine", "page"),
        (reverse("portal:my_learning"), "mine", "true"),
        (reverse("members:family"), "mine", "true"),
        (reverse("notifications:inbox"), "mine", "true"),
    ],
)
def test_the_active_tab_carries_aria_current(client, url, tab, current):
    client.force_login(GuardianFactory().user)

    shown = tabs(client.get(url).content.decode())

    assert shown[tab][1] == current
    assert [name for name, (_href, cur) in shown.items() if cur] == [tab]


def test_signed_in_the_top_bar_signs_out_and_mine_badge_counts_unread(client):
    guardian = GuardianFactory()
    notification_create(user=guardian.user, title="新通知")
    client.force_login(guardian.user)

    body = client.get(reverse("courses:catalogue")).content.decode()

    assert f'action="{reverse("account_logout")}"' in body
    mine = body[body.index('data-tab="mine"') : body.index("</a>", body.index('data-tab="mine"'))]
    assert '<span class="badge" aria-hidden="true">1</span>' in mine
    assert "1 条未读" in mine


def test_mine_lists_the_family_pages(client):
    client.force_login(GuardianFactory().user)

    response = client.get(reverse("portal:mine"))

    body = response.content.decode()
    for name in (
        "portal:my_learning",
        "members:family",
        "members:my_data",
        "notifications:inbox",
        "notifications:preferences",
        "events:calendar",
    ):
        assert f'href="{reverse(name)}"' in body, name
    assert reverse("courses:staff_sessions") not in body
    assert reverse("reports:overview") not in body


def test_mine_adds_the_staff_pages_for_a_coordinator(client):
    client.force_login(RoleAssignmentFactory(role=RoleAssignment.Role.UNIT_COORDINATOR).user)

    body = client.get(reverse("portal:mine")).content.decode()

    for name in ("courses:staff_sessions", "events:manage_list", "reports:overview"):
        assert f'href="{reverse(name)}"' in body, name


def test_mine_needs_signing_in(client):
    response = client.get(reverse("portal:mine"))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
