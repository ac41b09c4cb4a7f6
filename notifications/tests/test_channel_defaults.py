"""Channels follow what a person has: the defaults rule, the saved choice that
overrides it, the preferences page that explains both, and the one-off migration
of phone-only guardians to the rule."""

import datetime
import importlib

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from members.tests.factories import GuardianFactory, UserFactory
from notifications.models import NotificationPreference
from notifications.selectors import (
    notification_defaults_for,
    notification_preference_for,
    notification_sms_phone,
)

pytestmark = pytest.mark.django_db

migration = importlib.import_module(
    "notifications.migrations.0003_phone_only_guardians_follow_the_defaults_rule"
)


def _channels(preference):
    return (preference.in_site, preference.by_email, preference.by_sms)


def phone_only_user(phone="13812341234", **fields):
    return UserFactory(email="", phone=phone, phone_verified=True, **fields)


@pytest.mark.parametrize(
    ("email", "phone", "verified", "expected"),
    [
        # a parent who signed up with her phone only: SMS, not email
        ("", "13812341234", True, (True, False, True)),
        # email and a verified phone: email (with the calendar file), no texts
        ("ma@example.cn", "13812341234", True, (True, True, False)),
        # email only
        ("ma@example.cn", None, False, (True, True, False)),
        # a number never confirmed by a code is not texted by default
        ("", "13812341234", False, (True, False, False)),
        # nothing but the account: the portal's inbox
        ("", None, False, (True, False, False)),
    ],
)
def test_the_defaults_follow_the_persons_contacts(email, phone, verified, expected):
    user = UserFactory(email=email, phone=phone, phone_verified=verified)

    defaults = notification_defaults_for(user=user)

    assert (defaults["in_site"], defaults["by_email"], defaults["by_sms"]) == expected
    assert (defaults["quiet_start"], defaults["quiet_end"]) == (
        datetime.time(22, 0),
        datetime.time(7, 0),
    )
    # and the outbox's effective preference is the same rule, unsaved
    preference = notification_preference_for(user=user)
    assert preference.pk is None and _channels(preference) == expected


def test_a_saved_choice_is_respected_and_contacts_added_later_count_until_then():
    # given a phone-only parent who has not chosen: SMS
    user = phone_only_user()
    assert notification_preference_for(user=user).by_sms

    # when she adds an email address, the rule follows it at once (no row to update)
    user.email = "xiaoyu@example.cn"
    user.save(update_fields=["email"])
    user = type(user).objects.get(pk=user.pk)
    assert _channels(notification_preference_for(user=user)) == (True, True, False)

    # and once she saves her own choice, that is what applies
    NotificationPreference.objects.create(user=user, by_email=False, by_sms=True, in_site=False)
    user = type(user).objects.get(pk=user.pk)
    assert _channels(notification_preference_for(user=user)) == (False, False, True)


def test_texts_go_to_the_verified_number_first():
    guardian = GuardianFactory(user=phone_only_user(phone="13812341234"), phone="13900001111")
    assert notification_sms_phone(user=guardian.user) == "13812341234"
    # without a verified number, the family contact number the guardian gave
    other = GuardianFactory(user=UserFactory(phone=None), phone="13900002222")
    assert notification_sms_phone(user=other.user) == "13900002222"
    assert notification_sms_phone(user=UserFactory(phone=None)) == ""


# --- the preferences page -----------------------------------------------------------


def test_a_phone_only_parent_sees_sms_ticked_and_email_explained(client):
    # given a parent who signed up with her phone only, who has never saved settings
    user = phone_only_user(phone="13812341234")
    client.force_login(user)

    # when she opens the preferences page
    page = client.get(reverse("notifications:preferences")).content.decode()

    # then SMS is ticked and says what it brings, to her masked number, and when not
    form = client.get(reverse("notifications:preferences")).context["form"]
    assert form["by_sms"].value() is True and form["in_site"].value() is True
    assert "短信：开课前提醒、时间变更、取消、候补转正和报名回执，发到 138****1234" in page
    assert "晚上 22:00 到早上 7:00 不发" in page
    assert "13812341234" not in page
    # and email is off, cannot be ticked, and the page says why and how to add one
    assert form["by_email"].value() is False and form.fields["by_email"].disabled
    assert "您还没有登记邮箱，所以不会收到邮件。" in page
    assert f'href="{reverse("account_email")}"' in page
    assert "按您登记的联系方式推荐的设置" in page
    # the help text is tied to its checkbox for screen readers
    assert 'aria-describedby="id_by_sms_helptext"' in page and 'id="id_by_sms_helptext"' in page


def test_saving_without_an_email_address_stores_email_off(client):
    user = phone_only_user()
    client.force_login(user)

    # when she saves (a forged "by_email" is ignored: the box is disabled)
    response = client.post(
        reverse("notifications:preferences"),
        {
            "in_site": "on",
            "by_email": "on",
            "by_sms": "on",
            "quiet_start": "21:00",
            "quiet_end": "08:00",
        },
    )

    assert response.status_code == 302
    saved = NotificationPreference.objects.get(user=user)
    assert _channels(saved) == (True, False, True)
    page = client.get(reverse("notifications:preferences")).content.decode()
    assert "晚上 21:00 到早上 8:00 不发" in page
    assert "按您登记的联系方式推荐的设置" not in page

    # and "恢复推荐设置" forgets the choice: the rule applies again
    client.post(reverse("notifications:preferences"), {"reset": "1"})
    assert not NotificationPreference.objects.filter(user=user).exists()


def test_without_a_phone_sms_is_off_and_explained(client):
    user = UserFactory(phone=None, email="ma@example.cn")
    client.force_login(user)

    response = client.get(reverse("notifications:preferences"))
    page = response.content.decode()

    form = response.context["form"]
    assert form.fields["by_sms"].disabled and form["by_sms"].value() is False
    assert "您还没有验证手机号，所以不会收到短信。" in page
    assert "邮件：开课前提醒、时间变更、取消、候补转正和报名回执，发到 ma@example.cn" in page
    assert f'href="{reverse("account_change_phone")}"' in page


def test_an_unverified_contact_number_can_be_chosen_and_the_page_says_so(client):
    guardian = GuardianFactory(user=UserFactory(phone=None), phone="13900002222")
    client.force_login(guardian.user)

    page = client.get(reverse("notifications:preferences")).content.decode()

    assert "发到 139****2222" in page and "还没有用验证码验证过" in page
    assert "13900002222" not in page


# --- migrating existing guardians once -----------------------------------------------


def _row(user, **fields):
    return NotificationPreference.objects.create(user=user, **fields)


def test_the_migration_moves_phone_only_guardians_left_at_the_old_defaults_to_the_rule():
    # given rows saved under the old page (email + in-site pre-ticked, SMS off)
    untouched = _row(phone_only_user(phone="13800000001"))
    # a phone-only guardian who unticked the (meaningless) email box only
    email_unticked = _row(phone_only_user(phone="13800000002"), by_email=False)
    # real choices: the inbox off, custom quiet hours, or SMS already on
    inbox_off = _row(phone_only_user(phone="13800000003"), in_site=False)
    own_hours = _row(phone_only_user(phone="13800000004"), quiet_start=datetime.time(21, 0))
    with_email = _row(UserFactory(phone="13800000005", phone_verified=True))
    unverified = _row(UserFactory(email="", phone="13800000006"))

    # when the migration's function runs (in one statement)
    with CaptureQueriesContext(connection) as queries:
        migration.phone_only_guardians_follow_the_rule(django_apps, None)

    # then the two phone-only rows that said nothing are gone: those guardians get SMS
    assert len(queries) == 1 and queries[0]["sql"].startswith("DELETE")
    remaining = set(NotificationPreference.objects.values_list("pk", flat=True))
    assert remaining == {inbox_off.pk, own_hours.pk, with_email.pk, unverified.pk}
    for row in (untouched, email_unticked):
        user = type(row.user).objects.get(pk=row.user_id)
        assert _channels(notification_preference_for(user=user)) == (True, False, True)
    # and everyone else keeps exactly what they saved
    user = type(inbox_off.user).objects.get(pk=inbox_off.user_id)
    assert _channels(notification_preference_for(user=user)) == (False, True, False)
