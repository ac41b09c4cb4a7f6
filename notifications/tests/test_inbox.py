"""The in-site inbox, the unread badge and channel preferences."""

import pytest
from django.urls import reverse

from members.tests.factories import UserFactory
from notifications.models import Notification, NotificationPreference
from notifications.services import notification_create

pytestmark = pytest.mark.django_db


def test_the_header_shows_the_unread_count_and_opening_marks_read(
    client, django_assert_max_num_queries
):
    # given two unread notices for the user and one for someone else
    user, other = UserFactory(), UserFactory()
    first = notification_create(user=user, title="报名成功：亲子阅读", url="/events/")
    notification_create(user=user, title="【提醒】亲子阅读 明天开始")
    notification_create(user=other, title="别人的通知")
    client.force_login(user)

    for i in range(30):
        notification_create(user=user, title=f"旧通知 {i}")
    Notification.objects.filter(title__startswith="旧通知").update(read_at="2026-01-01T00:00Z")

    # when the inbox is read (a page of 20, in constant queries)
    with django_assert_max_num_queries(8):
        page = client.get(reverse("notifications:inbox")).content.decode()

    # then the badge says 2, and only the user's own notices are listed
    assert (
        '<span class="badge" aria-hidden="true">2</span><span class="visually-hidden">2 条未读</span>'
        in page
    )
    assert "别人的通知" not in page

    # when one is opened
    response = client.post(reverse("notifications:open", args=[first.pk]))
    assert response.status_code == 302 and response["Location"] == "/events/"
    assert Notification.objects.filter(user=user, read_at__isnull=True).count() == 1
    client.post(reverse("notifications:read_all"))
    assert not Notification.objects.filter(user=user, read_at__isnull=True).exists()


def test_someone_elses_notification_is_not_found(client):
    notice = notification_create(user=UserFactory(), title="私人通知")
    client.force_login(UserFactory())
    assert client.post(reverse("notifications:open", args=[notice.pk])).status_code == 404


def test_a_guardian_chooses_channels_and_quiet_hours(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post(
        reverse("notifications:preferences"),
        {"in_site": "on", "by_sms": "on", "quiet_start": "21:30", "quiet_end": "07:30"},
    )
    assert response.status_code == 302
    preference = NotificationPreference.objects.get(user=user)
    assert (preference.in_site, preference.by_email, preference.by_sms) == (True, False, True)
    assert preference.quiet_start.strftime("%H:%M") == "21:30"
