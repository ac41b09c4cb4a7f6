"""The audit log in admin: who acted by display name and masked phone, actions in
Chinese, filters by action, actor and date, Beijing time, read-only, and the same
few queries for any page."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from members import registry
from members.audit_actions import AUDIT_ACTION_LABELS
from members.models import AuditLog, RoleAssignment
from members.tests.factories import AllianceFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/admin/members/auditlog/"
UTC = datetime.UTC


@pytest.fixture
def district_admin(client):
    user = UserFactory(username="district", display_name="区教育局")
    registry.role_assign(actor=None, user=user, role=RoleAssignment.Role.CITY_ADMIN)
    client.force_login(user)
    return user


def _entry(actor, action, when):
    return AuditLog.objects.create(
        actor=actor,
        actor_label=actor.get_username() if actor else "system",
        action=action,
        target_type="members.MemberUnit",
        target_id="1",
        target_repr="溪口中学",
        created_at=when,
    )


def _rows(response) -> list[AuditLog]:
    return list(response.context["cl"].result_list)


def test_the_changelist_names_people_actions_and_times_for_readers(client, district_admin):
    # given an entry by 李老师 at 16:30 UTC, which is 00:30 the next day in Beijing
    teacher = UserFactory(username="u6eebf07aa0fb", display_name="李老师", phone="13912345678")
    _entry(teacher, "members.role.assign", datetime.datetime(2026, 3, 1, 16, 30, tzinfo=UTC))

    # when the district administrator opens the audit log
    page = client.get(URL).content.decode()

    # then the actor is 「李老师 · 139****5678」, the action 「授予角色」, the time Beijing's
    assert "李老师 · 139****5678" in page and "13912345678" not in page
    assert "u6eebf07aa0fb" not in page
    assert "授予角色" in page and ">members.role.assign<" not in page
    assert "2026-03-02 00:30:00" in page
    assert "时间（北京时间）" in page
    # and the target's type is the model's Chinese name
    assert "成员单位" in page
    # and the action filter lists Chinese labels
    assert 'href="?action=members.guardian.phone_reveal"' in page
    assert "查看家长完整手机号" in page


def test_filters_by_action_actor_and_beijing_dates(client, district_admin):
    # given entries by two people on either side of midnight in Beijing
    li = UserFactory(display_name="李老师", phone="13911110000")
    wang = UserFactory(display_name="王老师", phone="13922220000", email="wang@example.cn")
    late = _entry(li, "members.role.assign", datetime.datetime(2026, 3, 1, 15, 59, tzinfo=UTC))
    early = _entry(wang, "members.unit.export", datetime.datetime(2026, 3, 1, 16, 1, tzinfo=UTC))

    # then by action
    assert _rows(client.get(URL, {"action": "members.unit.export"})) == [early]
    # by actor: display name, phone, e-mail or user name
    assert _rows(client.get(URL, {"actor": "李老师"})) == [late]
    assert _rows(client.get(URL, {"actor": "13922220000"})) == [early]
    assert _rows(client.get(URL, {"actor": "WANG@example.cn"})) == [early]
    assert _rows(client.get(URL, {"actor": li.username})) == [late]
    # by date, as days in Beijing: 23:59 on 1 March and 00:01 on 2 March
    assert _rows(client.get(URL, {"created_to": "2026-03-01"})) == [late]
    day_after = {"created_from": "2026-03-02", "created_to": "2026-03-02"}
    assert _rows(client.get(URL, day_after)) == [early]
    both = {"created_from": "2026-03-01", "created_to": "2026-03-02"}
    assert set(_rows(client.get(URL, both))) == {late, early}
    # an unreadable date filters nothing and fails nothing
    response = client.get(URL, {"created_from": "3月1日", "created_to": "2026-03-02"})
    assert response.status_code == 200 and set(_rows(response)) == {late, early}


def test_an_entry_of_a_deleted_account_keeps_the_name_it_had(client, district_admin):
    gone = UserFactory(username="zhang_old", display_name="张老师")
    _entry(gone, "members.unit.change", datetime.datetime(2026, 3, 1, 8, 0, tzinfo=UTC))
    gone.delete()

    page = client.get(URL).content.decode()

    assert "zhang_old" in page  # the actor_label written at the time


def test_the_entry_page_is_read_only_in_beijing_time(client, district_admin):
    teacher = UserFactory(display_name="李老师", phone="13912345678")
    entry = _entry(
        teacher, "members.role.assign", datetime.datetime(2026, 3, 1, 16, 30, tzinfo=UTC)
    )

    page = client.get(reverse("admin:members_auditlog_change", args=[entry.pk])).content.decode()
    changelist = client.get(URL).content.decode()

    assert "2026-03-02 00:30:00" in page and "授予角色" in page and "李老师 · 139****5678" in page
    assert 'name="_save"' not in page and "deletelink" not in page
    assert reverse("admin:members_auditlog_add") not in changelist


def test_a_page_of_the_log_costs_the_same_queries_for_5_or_100_people(
    client, district_admin, django_assert_max_num_queries
):
    when = datetime.datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    for n in range(5):
        _entry(UserFactory(display_name=f"老师{n}"), "members.unit.change", when)
    with django_assert_max_num_queries(20) as few:
        assert client.get(URL).status_code == 200
    for n in range(95):
        _entry(UserFactory(display_name=f"志愿者{n}"), "members.role.assign", when)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(URL)
    assert len(_rows(response)) == 100


def test_coordinators_do_not_see_the_log(client):
    coordinator = UserFactory()
    registry.role_assign(
        actor=None,
        user=coordinator,
        role=RoleAssignment.Role.ALLIANCE_COORDINATOR,
        alliance=AllianceFactory(),
    )
    client.force_login(coordinator)

    assert client.get(URL).status_code == 403


# Actions built from a variable: every value they take.
DYNAMIC_ACTIONS = {
    "members.{self.audit_thing}.import": ["members.region.import", "members.unit.import"],
    "members.{self.audit_thing}.export": ["members.region.export", "members.unit.export"],
    "reports.export.{fmt}": ["reports.export.xlsx", "reports.export.csv"],
    "reports.export.{export.fmt}": ["reports.export.xlsx", "reports.export.csv"],
}
ACTION = re.compile(r"""action=(f?)"([a-z_{}.]+)"(?:\s+if\s+\w+\s+else\s+"([a-z_.]+)")?""")


def test_every_action_written_by_the_code_has_a_chinese_label():
    # given every audit action the portal's code writes (tests and migrations aside)
    written = set()
    apps = ("members", "notifications", "parent_school", "bookings", "courses", "events")
    for app in (*apps, "reports", "portal"):
        for path in (Path(settings.BASE_DIR) / app).rglob("*.py"):
            if {"tests", "migrations"} & set(path.parts):
                continue
            for is_f, action, alternative in ACTION.findall(path.read_text(encoding="utf-8")):
                if "." not in action:
                    continue
                written.update(DYNAMIC_ACTIONS.get(action, [action]) if is_f else [action])
                if alternative:
                    written.add(alternative)
    written.add("members.guardian.phone_reveal")  # written through PHONE_REVEAL_ACTION

    # then each has a label
    assert len(written) > 40
    assert sorted(written - set(AUDIT_ACTION_LABELS)) == []
