"""/api/v1/notifications: the inbox by keyset cursor, unread count, marking read
(another person's notification is a 404), and the preferences, validated by the
preferences page's own form."""

import datetime
import json

import pytest
from django.test import Client
from django.utils import timezone

from members.tests.factories import ApiTokenFactory, MemberUnitFactory, UserFactory
from notifications.models import Notification, NotificationPreference
from notifications.services import notification_create

pytestmark = pytest.mark.django_db


def _bearer(raw):
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def _put(client, path, body, **extra):
    return client.put(path, data=json.dumps(body), content_type="application/json", **extra)


def _inbox(user, count):
    now = timezone.now()
    rows = [notification_create(user=user, title=f"通知{i}", body="内容") for i in range(count)]
    # Distinct, known times (newest = the last made), and two at the same moment,
    # so the primary key has to break the tie.
    for i, row in enumerate(rows):
        moment = now - datetime.timedelta(minutes=count - i)
        if i == 1:
            moment = now - datetime.timedelta(minutes=count)  # same as row 0
        Notification.objects.filter(pk=row.pk).update(created_at=moment)
    return rows


def test_the_inbox_pages_newest_first_and_is_stable_under_inserts(
    django_assert_max_num_queries,
):
    user = UserFactory()
    rows = _inbox(user, 7)
    notification_create(user=UserFactory(), title="别人的通知")
    _, raw = ApiTokenFactory.create(user=user, scopes=["read"])
    client = Client()

    with django_assert_max_num_queries(3):  # the token, its "last used", the page
        first = client.get("/api/v1/notifications?limit=3", **_bearer(raw)).json()
    expected = sorted(rows, key=lambda r: (Notification.objects.get(pk=r.pk).created_at, r.pk))
    expected = [r.pk for r in reversed(expected)]
    assert [n["id"] for n in first["items"]] == expected[:3]

    # a new notification arrives while the client is paging: no row twice or missed
    notification_create(user=user, title="新通知")
    seen = [n["id"] for n in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        with django_assert_max_num_queries(2):
            page = client.get(
                "/api/v1/notifications", {"limit": 3, "cursor": cursor}, **_bearer(raw)
            ).json()
        seen += [n["id"] for n in page["items"]]
        cursor = page["next_cursor"]
    assert seen == expected
    assert "别人的通知" not in json.dumps(first, ensure_ascii=False)


def test_a_forged_cursor_or_limit_is_refused_naming_the_field():
    user = UserFactory()
    client = Client()
    client.force_login(user)
    bad = client.get("/api/v1/notifications", {"cursor": "nonsense"})
    assert bad.status_code == 400 and "cursor" in bad.json()["fields"]
    too_many = client.get("/api/v1/notifications", {"limit": 1000})
    assert too_many.status_code == 422 and "limit" in too_many.json()["fields"]


def test_unread_count_mark_one_and_mark_all():
    user = UserFactory()
    rows = _inbox(user, 3)
    client = Client()
    client.force_login(user)
    assert client.get("/api/v1/notifications/unread-count").json() == {"unread": 3}

    answer = client.post(f"/api/v1/notifications/{rows[0].pk}/read")
    assert answer.status_code == 200 and answer.json() == {"marked": 1, "unread": 2}
    unread = client.get("/api/v1/notifications", {"unread": "true"}).json()["items"]
    assert {n["id"] for n in unread} == {rows[1].pk, rows[2].pk}
    # marking it again changes nothing
    assert client.post(f"/api/v1/notifications/{rows[0].pk}/read").json()["marked"] == 0

    assert client.post("/api/v1/notifications/read-all").json() == {"marked": 2, "unread": 0}
    assert not Notification.objects.filter(user=user, read_at__isnull=True).exists()


def test_another_persons_notification_is_not_found_and_stays_unread():
    theirs = notification_create(user=UserFactory(), title="别人的通知")
    client = Client()
    client.force_login(UserFactory())
    response = client.post(f"/api/v1/notifications/{theirs.pk}/read")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_a_read_token_cannot_mark_and_a_device_token_sees_no_inbox():
    user = UserFactory()
    row = notification_create(user=user, title="课程提醒")
    _, read_only = ApiTokenFactory.create(user=user, scopes=["read"])
    client = Client()
    response = client.post(f"/api/v1/notifications/{row.pk}/read", **_bearer(read_only))
    assert response.status_code == 403 and response.json()["code"] == "scope_missing"

    coordinator = UserFactory(is_superuser=True)
    _, device = ApiTokenFactory.create(
        user=coordinator, scopes=["checkin"], unit=MemberUnitFactory()
    )
    for path in ("/api/v1/notifications", "/api/v1/notifications/preferences"):
        assert client.get(path, **_bearer(device)).json()["code"] == "device_forbidden"


def test_preferences_show_the_defaults_then_save_through_the_form():
    # a parent with a verified phone and no email address
    user = UserFactory(email="", phone="13712345678", phone_verified=True)
    client = Client()
    client.force_login(user)

    shown = client.get("/api/v1/notifications/preferences").json()
    assert shown["saved"] is False
    assert (shown["in_site"], shown["by_email"], shown["by_sms"]) == (True, False, True)
    assert (shown["quiet_start"], shown["quiet_end"]) == ("22:00", "07:00")
    by_email = next(c for c in shown["channels"] if c["field"] == "by_email")
    assert by_email["available"] is False and by_email["action_label"]
    by_sms = next(c for c in shown["channels"] if c["field"] == "by_sms")
    assert "137****5678" in by_sms["description"]

    # email cannot reach her: asked for, it is stored off, as on the page
    body = dict(shown, by_email=True, by_sms=True, quiet_start="21:30", quiet_end="08:00")
    saved = _put(client, "/api/v1/notifications/preferences", body)
    assert saved.status_code == 200, saved.content
    preference = NotificationPreference.objects.get(user=user)
    assert (preference.by_email, preference.by_sms) == (False, True)
    assert preference.quiet_start == datetime.time(21, 30)
    assert saved.json()["saved"] is True and saved.json()["quiet_start"] == "21:30"

    # reset: the defaults apply again
    reset = client.delete("/api/v1/notifications/preferences")
    assert reset.status_code == 200 and reset.json()["saved"] is False
    assert not NotificationPreference.objects.filter(user=user).exists()


def test_bad_preferences_name_the_field_and_save_nothing():
    user = UserFactory()
    client = Client()
    client.force_login(user)
    body = {
        "in_site": True,
        "by_email": True,
        "by_sms": False,
        "quiet_start": "25:99",
        "quiet_end": "07:00",
    }
    response = _put(client, "/api/v1/notifications/preferences", body)
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["quiet_start"]
    assert response.json()["fields"]["quiet_start"]
    missing = _put(client, "/api/v1/notifications/preferences", {"in_site": True})
    assert missing.status_code == 422 and "quiet_end" in missing.json()["fields"]
    assert not NotificationPreference.objects.filter(user=user).exists()


def test_wechat_is_offered_only_to_someone_who_signed_in_through_the_mini_program():
    from wechat.tests.factories import WeChatIdentityFactory

    client = Client()
    body = {
        "in_site": True,
        "by_email": True,
        "by_sms": False,
        "quiet_start": "22:00",
        "quiet_end": "07:00",
    }

    # a parent of the mini-program: on by default, and she can turn it off
    mini = WeChatIdentityFactory().user
    client.force_login(mini)
    shown = client.get("/api/v1/notifications/preferences").json()
    assert shown["by_wechat"] is True
    assert "by_wechat" in [c["field"] for c in shown["channels"]]
    off = _put(client, "/api/v1/notifications/preferences", dict(body, by_wechat=False))
    assert off.status_code == 200 and off.json()["by_wechat"] is False
    assert NotificationPreference.objects.get(user=mini).by_wechat is False
    # a client that leaves it out keeps her choice
    _put(client, "/api/v1/notifications/preferences", dict(body, by_wechat=True))
    kept = _put(client, "/api/v1/notifications/preferences", body)
    assert kept.json()["by_wechat"] is True

    # anyone else: not offered, and asking for it changes nothing
    web = UserFactory()
    client.force_login(web)
    shown = client.get("/api/v1/notifications/preferences").json()
    assert "by_wechat" not in [c["field"] for c in shown["channels"]]
    _put(client, "/api/v1/notifications/preferences", dict(body, by_wechat=True))
    before = NotificationPreference.objects.get(user=web).by_wechat
    _put(client, "/api/v1/notifications/preferences", dict(body, by_wechat=False))
    assert NotificationPreference.objects.get(user=web).by_wechat == before
