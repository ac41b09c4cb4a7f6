"""Notices from apps above events (events.services.notice_send): one Notice per
key, one Delivery row per person and chosen channel, told once however often
(or however simultaneously) the app asks; the skip hook; every channel renders
the notice; a batch of notices costs the same queries whatever its size.
(PostgreSQL; eager Celery after the commit, locmem mail and SMS, the fake WeChat
server; the real worker at the end of this module.)"""

import datetime
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from events import reminders, services
from events.models import Delivery, Notice
from events.notices import NoticeError, notice_check_register, notice_check_unregister
from events.tests import worker_fixtures
from members.models import RoleAssignment
from members.tests.factories import (
    FamilyFactory,
    GuardianFactory,
    MemberUnitFactory,
    RoleAssignmentFactory,
    UserFactory,
)
from members.tests.family_support import sms_outbox_fixture  # noqa: F401 - fixture
from notifications.models import Notification, NotificationPreference
from tests.helpers import wait_for
from tests.integration import test_wechat_outbox_worker
from tests.races import run_together
from wechat.models import SubscriptionGrant
from wechat.tests.factories import (
    SubscriptionGrantFactory,
    SubscriptionTemplateFactory,
    WeChatIdentityFactory,
)
from wechat.tests.support import wechat_server_fixture  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
TOPIC = "handbook.learning_family"
decoded = worker_fixtures.decoded
# The fake WeChat server and SMS gateway the worker reaches (by its environment),
# and the worker whose mail goes to aiosmtpd: the fixtures of the other worker tests.
reminder_worker = worker_fixtures.reminder_worker
outside = test_wechat_outbox_worker.outside
FIELDS = {"thing1": "title", "time2": "starts_at", "thing4": "note", "phrase5": "status"}


def _choice(user, *, email=False, sms=False, wechat=False, inbox=True, quiet=None):
    """The person's saved choice; no quiet hours unless ``quiet`` (start, end)."""
    start, end = quiet or (datetime.time(12, 0), datetime.time(12, 0))
    return NotificationPreference.objects.create(
        user=user,
        in_site=inbox,
        by_email=email,
        by_sms=sms,
        by_wechat=wechat,
        quiet_start=start,
        quiet_end=end,
    )


def _send(**overrides):
    values = {
        "key": f"{TOPIC}:1:1",
        "topic": TOPIC,
        "subject": "恭喜您家被评为学习型家庭",
        "lead": "您的家庭在本学期被评为学习型家庭，感谢您的陪伴与坚持。",
        "path": "/handbook/",
        **overrides,
    }
    return services.notice_send(**values)


def _send_all(now=None):
    token, ids = reminders.deliveries_claim_batch(now=now or timezone.now(), limit=500)
    return reminders.delivery_send_batch(delivery_ids=ids, claim_token=str(token))


def _rows(**filters):
    return Counter(
        Delivery.objects.filter(purpose="notice", **filters).values_list("user_id", "channel")
    )


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    def run(change):
        with django_capture_on_commit_callbacks(execute=True):
            return change()

    return run


# --- rows ----------------------------------------------------------------------


def test_each_guardian_gets_a_row_per_chosen_channel_and_a_given_user_too():
    # given a family of two guardians (email + in-site; in-site only), a guardian
    # who left (inactive) and a teacher who is nobody's guardian
    family = FamilyFactory()
    mum = GuardianFactory(family=family)
    dad = GuardianFactory(family=family)
    gone = GuardianFactory(family=family, user__is_active=False)
    teacher = UserFactory()
    _choice(mum.user, email=True)
    _choice(dad.user)
    _choice(teacher, email=True)

    made = _send(family_ids=[family.pk], user_ids=[teacher.pk])

    assert made == 5
    assert _rows() == Counter(
        {
            (mum.user.pk, "inbox"): 1,
            (mum.user.pk, "email"): 1,
            (dad.user.pk, "inbox"): 1,
            (teacher.pk, "inbox"): 1,
            (teacher.pk, "email"): 1,
        }
    )
    assert not _rows(user=gone.user)
    notice = Notice.objects.get()
    assert (notice.key, notice.topic, notice.subject) == (
        f"{TOPIC}:1:1",
        TOPIC,
        "恭喜您家被评为学习型家庭",
    )


def test_the_same_key_twice_writes_nothing_new():
    guardian = GuardianFactory()
    _choice(guardian.user, email=True)
    assert _send(family_ids=[guardian.family_id]) == 2
    # (even asked again with other words and another family: told once)
    other = GuardianFactory()
    assert _send(family_ids=[guardian.family_id, other.family_id], subject="另一个标题") == 0
    assert Notice.objects.count() == 1
    assert Delivery.objects.filter(purpose="notice").count() == 2
    assert Notice.objects.get().subject == "恭喜您家被评为学习型家庭"


def test_a_text_in_the_quiet_hours_waits_for_their_end(monkeypatch):
    # given a parent texted only, quiet 22:00–07:00, and a notice at 23:00
    guardian = GuardianFactory(user__email="", user__phone_verified=True)
    _choice(guardian.user, sms=True, quiet=(datetime.time(22, 0), datetime.time(7, 0)))
    night = (timezone.now() + datetime.timedelta(days=1)).astimezone(SHANGHAI)
    night = night.replace(hour=23, minute=0, second=0, microsecond=0)

    _send(family_ids=[guardian.family_id], now=night)

    inbox = Delivery.objects.get(purpose="notice", channel="inbox")
    text = Delivery.objects.get(purpose="notice", channel="sms")
    assert inbox.due_at == night
    assert timezone.localtime(text.due_at, SHANGHAI).time() == datetime.time(7, 0)
    assert text.due_at.date() > night.date() or text.due_at > night
    assert text.status == "pending" and "免打扰时段" in text.note


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("key", "", "“key”不能为空"),
        ("topic", "Handbook Learning", "“topic”只能用小写字母"),
        ("subject", "  ", "“subject”不能为空"),
        ("path", "https://elsewhere.example/", "“path”须是本站的路径"),
        ("wechat_status", "学习型家庭获评", "“wechat_status”不能超过 5 个字符"),
    ],
)
def test_a_bad_field_is_refused_naming_it(field, value, said):
    with pytest.raises(NoticeError) as refused:
        _send(family_ids=[GuardianFactory().family_id], **{field: value})
    assert said in str(refused.value.message)
    assert not Notice.objects.exists()


def test_it_is_written_in_the_callers_transaction(django_capture_on_commit_callbacks):
    from django.db import transaction

    guardian = GuardianFactory()

    class Undo(Exception):
        pass

    with pytest.raises(Undo), transaction.atomic():
        _send(family_ids=[guardian.family_id])
        raise Undo
    assert not Notice.objects.exists() and not Delivery.objects.exists()
    # and the key is free again
    assert _send(family_ids=[guardian.family_id]) >= 1


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_first_calls_make_one_notice_and_one_set_of_rows():
    family = FamilyFactory()
    for _n in range(2):
        _choice(GuardianFactory(family=family).user, email=True)

    outcome = run_together(
        [lambda: _send(family_ids=[family.pk]), lambda: _send(family_ids=[family.pk])],
        meet_before_write=["events_notice"],
    )

    assert outcome.errors == []
    assert outcome.met == 2
    assert sorted(outcome.results) == [0, 4]
    assert Notice.objects.count() == 1
    assert Delivery.objects.filter(purpose="notice").count() == 4


# --- sending --------------------------------------------------------------------


def test_every_channel_says_the_notice(settings, sms_outbox, committed):
    settings.PORTAL_BASE_URL = "https://portal.example.cn"
    guardian = GuardianFactory(user__first_name="", user__phone_verified=True)
    _choice(guardian.user, email=True, sms=True)

    committed(lambda: _send(family_ids=[guardian.family_id]))

    statuses = Counter(Delivery.objects.filter(purpose="notice").values_list("channel", "status"))
    assert statuses == Counter({("inbox", "sent"): 1, ("email", "sent"): 1, ("sms", "sent"): 1})
    (notification,) = Notification.objects.filter(user=guardian.user)
    assert (notification.title, notification.url, notification.kind) == (
        "恭喜您家被评为学习型家庭",
        "/handbook/",
        TOPIC,
    )
    assert notification.body.startswith("您的家庭在本学期被评为学习型家庭")
    (message,) = mail.outbox
    assert message.subject == "恭喜您家被评为学习型家庭"
    assert message.to == [guardian.user.email]
    assert f"{guardian.user}，您好" in message.body
    assert "您的家庭在本学期被评为学习型家庭" in message.body
    assert "https://portal.example.cn/handbook/" in message.body
    assert "https://portal.example.cn/notifications/preferences/" in message.body
    html = message.alternatives[0][0]
    assert 'href="https://portal.example.cn/handbook/"' in html
    assert not message.attachments  # no calendar file for a notice
    ((phone, text),) = [(m.phone, m.text) for m in sms_outbox]
    assert phone == guardian.user.phone
    assert text.startswith("【协同育人门户】恭喜您家被评为学习型家庭：您的家庭")
    assert text.endswith("https://portal.example.cn/handbook/")
    assert len(text) <= 134


def test_a_notice_of_its_own_text_is_texted_as_written(sms_outbox, committed):
    guardian = GuardianFactory(user__email="", user__phone_verified=True)
    _choice(guardian.user, sms=True, inbox=False)
    committed(lambda: _send(family_ids=[guardian.family_id], sms="您家已获评学习型家庭。"))
    assert [m.text for m in sms_outbox] == ["【协同育人门户】您家已获评学习型家庭。"]


def test_a_long_notice_is_texted_within_two_parts(sms_outbox, committed):
    guardian = GuardianFactory(user__email="", user__phone_verified=True)
    _choice(guardian.user, sms=True, inbox=False)
    committed(lambda: _send(family_ids=[guardian.family_id], lead="陪伴" * 200))
    (text,) = [m.text for m in sms_outbox]
    assert len(text) <= 134 and "…" in text


def test_the_skip_hook_skips_with_its_reason(committed):
    guardian = GuardianFactory()
    _choice(guardian.user, email=True)
    asked = []

    def check(notice):
        asked.append(notice.pk)
        return "名单已撤回" if notice.key.endswith(":withdrawn") else ""

    notice_check_register(TOPIC, check)
    try:
        committed(lambda: _send(key=f"{TOPIC}:withdrawn", family_ids=[guardian.family_id]))
        committed(lambda: _send(key=f"{TOPIC}:kept", family_ids=[guardian.family_id]))
    finally:
        notice_check_unregister(TOPIC)

    skipped = Delivery.objects.filter(notice__key=f"{TOPIC}:withdrawn")
    assert set(skipped.values_list("status", "note")) == {("skipped", "名单已撤回")}
    kept = Delivery.objects.filter(notice__key=f"{TOPIC}:kept")
    assert set(kept.values_list("status", flat=True)) == {"sent"}
    assert [n.title for n in Notification.objects.all()] == ["恭喜您家被评为学习型家庭"]
    assert len(mail.outbox) == 1
    # asked once per notice and send task (one task a channel here), not once per row
    assert sorted(Counter(asked).values()) == [2, 2]


def test_a_notice_goes_by_wechat_and_falls_back_to_a_text(wechat_server, sms_outbox, committed):
    SubscriptionTemplateFactory(kind="notice", template_id="T-notice", field_map=FIELDS)
    # given one WeChat parent who accepted a notice and one whose acceptance is spent
    reached = GuardianFactory(user__email="", user__phone_verified=True)
    spent = GuardianFactory(user__email="", user__phone_verified=True)
    for guardian, openid in ((reached, "o_mum"), (spent, "o_dad")):
        WeChatIdentityFactory(user=guardian.user, openid=openid)
        _choice(guardian.user, wechat=True, inbox=False)
        SubscriptionGrantFactory(user=guardian.user, template_id="T-notice")
    SubscriptionGrant.objects.filter(user=spent.user).update(spent_at=timezone.now())

    committed(
        lambda: _send(family_ids=[reached.family_id, spent.family_id], wechat_status="已获评")
    )

    (message,) = wechat_server.sent_to("o_mum")
    assert message["template_id"] == "T-notice"
    assert message["data"]["thing1"] == {"value": "恭喜您家被评为学习型家庭"}
    assert message["data"]["phrase5"] == {"value": "已获评"}
    assert message["data"]["thing4"]["value"].startswith("您的家庭在本学期")
    assert not wechat_server.sent_to("o_dad")
    row = Delivery.objects.get(user=spent.user, channel="wechat")
    assert (row.status, row.note) == ("skipped", "没有可用的微信订阅次数，已改发短信。")
    assert [m.phone for m in sms_outbox] == [spent.user.phone]
    text = Delivery.objects.get(user=spent.user, channel="sms")
    assert (text.notice_id, text.status) == (row.notice_id, "sent")


def _claimed_notices(families: int, key: str) -> tuple[str, list[int]]:
    """Two notices to ``families`` families, each guardian in-site and by text, claimed."""
    ids = []
    for _n in range(families):
        guardian = GuardianFactory(user__email="", user__phone_verified=True)
        _choice(guardian.user, sms=True)
        ids.append(guardian.family_id)
    _send(key=f"{key}:1", family_ids=ids)
    _send(key=f"{key}:2", family_ids=ids, subject="本学期陪伴积分已更新")
    token, claimed = reminders.deliveries_claim_batch(now=timezone.now(), limit=500)
    assert len(claimed) == 4 * families
    return str(token), claimed


def _queries_to_send(token: str, ids: list[int]) -> int:
    with CaptureQueriesContext(connection) as queries:
        by_channel: dict[str, list[int]] = {}
        for pk, channel in Delivery.objects.filter(pk__in=ids).values_list("pk", "channel"):
            by_channel.setdefault(channel, []).append(pk)
        for chunk in by_channel.values():
            outcome = reminders.delivery_send_batch(delivery_ids=chunk, claim_token=token)
            assert outcome == {"sent": len(chunk)}
    return len(queries) - 1


def test_sending_a_batch_of_notices_costs_the_same_queries_whatever_its_size(
    django_assert_max_num_queries, sms_outbox
):
    # given claimed in-site notices and texts of two notices to 3 families
    small = _queries_to_send(*_claimed_notices(3, "small"))
    # when the same is sent to 30 families: no more queries
    token, ids = _claimed_notices(30, "large")
    with django_assert_max_num_queries(small + 1):
        large = _queries_to_send(token, ids)
    assert large == small
    assert Notification.objects.count() == 2 * 33
    assert len(sms_outbox) == 2 * 33


# --- the delivery log ---------------------------------------------------------------


def test_the_delivery_log_shows_a_notices_subject_only_to_its_units_staff(client):

    mine, theirs = MemberUnitFactory(), MemberUnitFactory()
    _send(key="a", subject="甲方单位的通知", family_ids=[GuardianFactory().family_id], unit=mine)
    _send(key="b", subject="乙方单位的通知", family_ids=[GuardianFactory().family_id], unit=theirs)
    _send(key="c", subject="区里的通知", family_ids=[GuardianFactory().family_id])
    coordinator = RoleAssignmentFactory(role=RoleAssignment.Role.UNIT_COORDINATOR, unit=mine).user
    coordinator.is_staff = True
    coordinator.save()
    coordinator.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_delivery", "view_notice"])
    )
    client.force_login(coordinator)

    log = client.get(reverse("admin:events_delivery_changelist")).content.decode()
    notices = client.get(reverse("admin:events_notice_changelist")).content.decode()

    assert "甲方单位的通知" in log and "甲方单位的通知" in notices
    for other in ("乙方单位的通知", "区里的通知"):
        assert other not in log and other not in notices
    theirs_notice = Notice.objects.get(key="b")
    page = client.get(reverse("admin:events_notice_change", args=[theirs_notice.pk]))
    assert page.status_code == 404
    # read-only: no adding, the change page only shows
    assert client.get(reverse("admin:events_notice_add")).status_code == 403
    ours = client.get(reverse("admin:events_notice_change", args=[Notice.objects.get(key="a").pk]))
    assert ours.status_code == 200 and 'name="subject"' not in ours.content.decode()


def test_the_district_admin_sees_every_notice_in_the_log(client):

    _send(
        key="a",
        subject="甲方单位的通知",
        family_ids=[GuardianFactory().family_id],
        unit=MemberUnitFactory(),
    )
    _send(key="c", subject="区里的通知", family_ids=[GuardianFactory().family_id])
    admin = RoleAssignmentFactory(role=RoleAssignment.Role.CITY_ADMIN, unit=None).user
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.force_login(admin)

    log = client.get(reverse("admin:events_delivery_changelist")).content.decode()
    assert "甲方单位的通知" in log and "区里的通知" in log


# --- through the real parts -------------------------------------------------------


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_delivers_a_notice_once_on_every_channel(
    outside, reminder_worker, smtp_server
):
    wechat, gateway = outside
    SubscriptionTemplateFactory(kind="notice", template_id="T-notice", field_map=FIELDS)
    # given a family whose mother chose in-site, email and texts, whose father has
    # WeChat with one acceptance, and whose grandmother has WeChat with none left
    family = FamilyFactory()
    mum = GuardianFactory(family=family, user__phone="13812340001", user__phone_verified=True)
    _choice(mum.user, email=True, sms=True)
    dad = GuardianFactory(
        family=family, user__email="", user__phone="13812340002", user__phone_verified=True
    )
    gran = GuardianFactory(
        family=family, user__email="", user__phone="13812340003", user__phone_verified=True
    )
    for guardian, openid in ((dad, "o_dad"), (gran, "o_gran")):
        WeChatIdentityFactory(user=guardian.user, openid=openid)
        _choice(guardian.user, wechat=True, inbox=False)
    SubscriptionGrantFactory(user=dad.user, template_id="T-notice")

    # when the app tells the family (twice, and the worker is kicked again and again)
    assert _send(family_ids=[family.pk]) == 5
    assert _send(family_ids=[family.pk]) == 0
    wait_for(lambda: smtp_server.messages and gateway.texts("13812340003"), timeout=60)
    for _kick in range(3):
        reminders.deliveries_kick()
    wait_for(
        lambda: not Delivery.objects.filter(status__in=["pending", "claimed"]).exists(), timeout=60
    )

    # then each channel carried it once
    (notification,) = Notification.objects.filter(user=mum.user)
    assert (notification.title, notification.url) == ("恭喜您家被评为学习型家庭", "/handbook/")
    (message,) = smtp_server.messages
    subject, body = decoded(message)
    assert subject == "恭喜您家被评为学习型家庭"
    assert str(message["To"]) == mum.user.email
    assert "https://portal.example.cn/handbook/" in body
    (text,) = gateway.texts("13812340001")
    assert text.startswith("【协同育人门户】恭喜您家被评为学习型家庭：")
    (sent,) = wechat.sent_to("o_dad")
    assert sent["template_id"] == "T-notice"
    assert sent["data"]["thing1"] == {"value": "恭喜您家被评为学习型家庭"}
    assert sent["data"]["phrase5"] == {"value": "通知"}
    assert not wechat.sent_to("o_gran") and not gateway.texts("13812340002")
    # the grandmother had no acceptance left: one text instead
    assert len(gateway.texts("13812340003")) == 1
    row = Delivery.objects.get(user=gran.user, channel="wechat")
    assert (row.status, row.note) == ("skipped", "没有可用的微信订阅次数，已改发短信。")
    assert Notice.objects.count() == 1
