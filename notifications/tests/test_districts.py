"""Two districts (issue 19): the inbox and the preferences in admin belong to
accounts, which have no district link, so they stay the city's (read-only);
a district administrator does not see them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from members.models import RoleAssignment
from members.tests.districts import staff_user
from members.tests.factories import RegionFactory, UserFactory
from notifications.models import Notification

pytestmark = pytest.mark.django_db
Role = RoleAssignment.Role


@pytest.fixture
def admins():
    district = RegionFactory(name="渝中区", kind="district")
    district_admin = staff_user("渝中区教委陈老师", Role.DISTRICT_ADMIN, region=district)
    city_admin = staff_user("市教委周老师", Role.CITY_ADMIN)
    return district_admin, city_admin


def test_only_the_city_reads_inboxes_and_preferences_in_admin(client, admins):
    district_admin, city_admin = admins
    notice = Notification.objects.create(user=UserFactory(), title="课程提醒", body="明天上课")
    pages = [
        reverse("admin:notifications_notification_changelist"),
        reverse("admin:notifications_notification_change", args=[notice.pk]),
        reverse("admin:notifications_notificationpreference_changelist"),
    ]
    client.force_login(district_admin)
    for url in pages:
        assert client.get(url).status_code == 403, url
    assert pages[0] not in client.get(reverse("admin:index")).content.decode()

    client.force_login(city_admin)
    for url in pages:
        assert client.get(url).status_code == 200, url
    # read-only for the city too: no adding, changing or deleting
    assert client.get(reverse("admin:notifications_notification_add")).status_code == 403
    delete = reverse("admin:notifications_notification_delete", args=[notice.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert Notification.objects.filter(pk=notice.pk).exists()
