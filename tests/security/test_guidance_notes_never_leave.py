"""Done-when #2, the leak search: after a full flow (a booking with a need, the
three notes, a referral, a follow-up sent, the consultation held, its
satisfaction invitation), neither the need nor the private or restricted note
(nor, in messages, the summary) appears in:

- any Notice or Delivery row, nor in the text each delivery renders (in-site,
  email with its calendar attachment, SMS, WeChat values);
- any email sent (django's outbox, decoded part by part), any text the local SMS
  gateway received, any subscription message the fake WeChat server received;
- the family's .ics calendar feed;
- the reports exports (CSV and the workbook's XML);
- the my-data export (JSON and HTML) of the family, another family, and the
  mentors who wrote and read the notes;
- every admin changelist and change page of every model the guidance app
  registers, as the station's coordinator and as the district administrator;
- every GET answer of the guidance endpoints under /api/v1/ that exist, as the
  family, the mentor, the chief mentor and the coordinator.
"""

from __future__ import annotations

import datetime as dt
import email
import io
import zipfile

import pytest
from django.contrib import admin
from django.core import mail
from django.forms.models import model_to_dict
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from bookings.models import Offering
from events import services as event_services
from events.models import Delivery, Notice
from events.reminders import _Renderer, deliveries_kick, reminder_pass_run
from guidance import services
from guidance.models import Consultation, FollowUp
from guidance.tests.world import build_station_world
from notifications.models import NotificationPreference
from reports import exports
from surveys import services as survey_services
from surveys.models import Invitation, Survey
from tests.fakes import FakeWeChatServer, SmsGateway
from wechat.tests.factories import (
    SubscriptionGrantFactory,
    SubscriptionTemplateFactory,
    WeChatIdentityFactory,
)

pytestmark = pytest.mark.django_db

NEED = "孩子最近晚上睡不着，白天也不太愿意说话，担心是不是被同学欺负了"
SUMMARY = "本次咨询讨论了作息安排，建议每天固定时间陪孩子散步聊天。"
PRIVATE = "母亲提到家中长辈经常争吵，孩子夹在中间左右为难"
RESTRICTED = "孩子曾说过不想活了的话，需持续关注并联系学校心理老师"
SECRETS = (NEED, PRIVATE, RESTRICTED)
FIELDS = {"thing1": "title", "time2": "starts_at", "thing3": "venue", "thing4": "note"}


@pytest.fixture
def station_world(db):
    return build_station_world()


@pytest.fixture
def outside(settings):
    """The fake WeChat server and the local SMS gateway, with the portal pointed at them."""
    with FakeWeChatServer() as wechat, SmsGateway() as gateway:
        settings.WECHAT_BACKEND = "wechat.client.HttpWeChatClient"
        settings.WECHAT_API_BASE = wechat.url
        settings.WECHAT_APP_ID = wechat.app_id
        settings.WECHAT_APP_SECRET = wechat.app_secret
        settings.SMS_BACKEND = "members.sms.HttpApiSMSBackend"
        settings.SMS_OPTIONS = {"url": gateway.url, "api_key": "k"}
        yield wechat, gateway


def _every_channel(guardian, openid: str) -> None:
    """In-site, email, SMS and WeChat, without quiet hours; WeChat accepted for
    every kind of message, several times."""
    NotificationPreference.objects.update_or_create(
        user=guardian.user,
        defaults={
            "in_site": True,
            "by_email": True,
            "by_sms": True,
            "by_wechat": True,
            "quiet_start": dt.time(12, 0),
            "quiet_end": dt.time(12, 0),
        },
    )
    WeChatIdentityFactory(user=guardian.user, openid=openid)
    for kind in ("receipt", "reminder", "notice", "promotion", "cancellation", "time_change"):
        template = SubscriptionTemplateFactory(kind=kind, template_id=f"T-{kind}", field_map=FIELDS)
        for _n in range(6):
            SubscriptionGrantFactory(user=guardian.user, template_id=template.template_id)


def _full_flow(w, committed):
    # a slot tomorrow (its 24-hour reminder is due now), booked for the child with a need
    starts = timezone.now() + dt.timedelta(hours=23)
    slot = committed(
        lambda: services.slot_create(
            user=w.psych.user,
            mentor_id=w.psych.pk,
            starts_at=starts,
            minutes=50,
            kind="one_to_one",
            capacity=1,
            mode="in_person",
            venue="海天舒工作站 2 号咨询室",
        )
    )
    consultation = committed(
        lambda: services.consultation_book(
            user=w.mum.user,
            slot_id=slot.pk,
            area="mental_health",
            for_whom="child",
            need=NEED,
            child_id=w.mum_child.pk,
        )
    )
    committed(reminder_pass_run)
    # the three notes, read back by the mentor and the chief (audit-logged reads)
    for level, body in (("summary", SUMMARY), ("private", PRIVATE), ("restricted", RESTRICTED)):
        committed(
            lambda level=level, body=body: services.note_write(
                user=w.psych.user, consultation_id=consultation.pk, level=level, body=body
            )
        )
    services.notes_panel(user=w.chief.user, consultation=consultation)
    services.need_read(user=w.psych.user, consultation=consultation)
    # a referral, a follow-up that falls due and is sent
    committed(
        lambda: services.referral_create(
            user=w.psych.user,
            consultation_id=consultation.pk,
            to_area="family_education",
            to_mentor_id=w.family_mentor.pk,
            message="建议再和郑老师聊聊亲子沟通",
        )
    )
    followup = committed(
        lambda: services.followup_schedule(
            user=w.psych.user,
            consultation_id=consultation.pk,
            due_at=timezone.now() + dt.timedelta(hours=1),
            message="两周后我们再聊聊孩子的作息",
        )
    )
    FollowUp.objects.filter(pk=followup.pk).update(due_at=timezone.now() - dt.timedelta(minutes=1))
    assert committed(services.followups_send) == 1
    # the consultation took place: marked held, its satisfaction survey invites the family
    Offering.objects.filter(pk=slot.offering_id).update(
        starts_at=timezone.now() - dt.timedelta(hours=4),
        ends_at=timezone.now() - dt.timedelta(hours=3),
    )
    committed(
        lambda: services.consultation_mark(
            user=w.psych.user, consultation_id=consultation.pk, held=True
        )
    )
    survey = Survey.objects.get(scope=Survey.Scope.CONSULTATION, offering_id=slot.offering_id)
    assert committed(lambda: survey_services.invitations_send(survey_id=survey.pk)) == 1
    assert Invitation.objects.filter(survey=survey, family=w.mum.family).exists()
    committed(deliveries_kick)
    consultation.refresh_from_db()
    assert consultation.status == Consultation.Status.HELD
    return consultation


def _email_text(data: bytes) -> str:
    """Every part of a MIME message decoded (headers and bodies, calendar files too)."""
    message = email.message_from_bytes(data)
    parts = [str(v) for _k, v in message.items()]
    for part in message.walk():
        payload = part.get_payload(decode=True)
        if payload:
            parts.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
    return "\n".join(parts)


def _assert_clean(where: str, text: str, secrets=SECRETS) -> None:
    for secret in secrets:
        assert secret not in text, f"{secret[:8]}… found in {where}"
        # a part of it is as bad (a message cut to fit)
        assert secret[:12] not in text, f"{secret[:8]}… (start) found in {where}"


def _admin_pages(client) -> list[tuple[str, str]]:
    pages = []
    for model in list(admin.site._registry):
        if model._meta.app_label != "guidance":
            continue
        info = (model._meta.app_label, model._meta.model_name)
        try:
            changelist = reverse("admin:{}_{}_changelist".format(*info))
        except NoReverseMatch:
            continue
        pages.append((changelist, client.get(changelist).content.decode()))
        for pk in model.objects.values_list("pk", flat=True)[:20]:
            url = reverse("admin:{}_{}_change".format(*info), args=[pk])
            pages.append((url, client.get(url).content.decode()))
    return pages


def _api_paths(client, values: dict) -> list[str]:
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200
    paths = []
    for template, operations in schema.json()["paths"].items():
        if "guidance" not in template or "get" not in operations:
            continue
        path = template
        for name, value in values.items():
            path = path.replace("{" + name + "}", str(value))
        if "{" not in path:
            paths.append(path)
    return paths


def test_no_need_or_note_leaves_by_any_path(
    station_world, outside, client, django_capture_on_commit_callbacks
):
    wechat, gateway = outside
    w = station_world
    _every_channel(w.mum, "o_mum")

    def committed(change):
        with django_capture_on_commit_callbacks(execute=True):
            return change()

    consultation = _full_flow(w, committed)
    message_secrets = (*SECRETS, SUMMARY)

    # the outbox wrote and sent something on every channel
    channels = set(Delivery.objects.filter(user=w.mum.user).values_list("channel", flat=True))
    assert {"inbox", "email", "sms", "wechat"} <= channels
    assert mail.outbox and gateway.received and wechat.messages
    topics = set(Notice.objects.values_list("topic", flat=True))
    assert {
        "guidance.summary",
        "guidance.referral",
        "guidance.followup",
        "surveys.invite",
    } <= topics

    # Notice and Delivery rows, and what each delivery renders
    for notice in Notice.objects.all():
        _assert_clean(f"notice {notice.key}", str(model_to_dict(notice)), message_secrets)
    renderer = _Renderer()
    for delivery in Delivery.objects.select_related("notice", "user", "booking", "offering"):
        where = f"delivery {delivery.pk} ({delivery.purpose}/{delivery.channel})"
        _assert_clean(where, str(model_to_dict(delivery)), message_secrets)
        _assert_clean(where, str(renderer.texts(delivery)), message_secrets)
        _assert_clean(where, renderer.sms(delivery), message_secrets)
        if delivery.user_id and delivery.user.email:
            _sender, _to, data = renderer.envelope(delivery)
            _assert_clean(where + " email", _email_text(data), message_secrets)

    # what actually went out: emails, texts, WeChat subscription messages
    for message in mail.outbox:
        _assert_clean(
            f"email {message.subject}", _email_text(message.message().as_bytes()), message_secrets
        )
    _assert_clean("SMS gateway", str(gateway.received), message_secrets)
    _assert_clean("WeChat server", str(wechat.messages), message_secrets)

    # the family's calendar feed
    feed = event_services.calendar_feed_get_or_create(family=w.mum.family)
    ics = client.get(reverse("events:calendar_feed", kwargs={"token": feed.token}))
    assert ics.status_code == 200 and b"BEGIN:VCALENDAR" in ics.content
    _assert_clean(".ics feed", ics.content.decode(), message_secrets)

    # the reports exports
    csv_text = "".join(exports.csv_stream(term=w.term, unit_ids=None))
    _assert_clean("reports CSV", csv_text)
    workbook = zipfile.ZipFile(io.BytesIO(exports.xlsx_bytes(term=w.term, unit_ids=None)))
    _assert_clean(
        "reports workbook",
        " ".join(workbook.read(n).decode() for n in workbook.namelist() if n.endswith(".xml")),
    )

    # the my-data exports: the family, another family, the mentors
    for person in (w.mum.user, w.dad.user, w.psych.user, w.chief.user):
        client.force_login(person)
        for name in ("members:my_data_json", "members:my_data_html"):
            answer = client.get(reverse(name))
            assert answer.status_code == 200
            _assert_clean(f"{name} of {person}", answer.content.decode())

    # the admin, as the station's coordinator and as the district administrator
    for staff in (w.coordinator, w.district_admin):
        client.force_login(staff)
        pages = _admin_pages(client)
        assert pages, "no guidance admin registered"
        for url, text in pages:
            _assert_clean(f"admin {url} as {staff}", text)

    # the API's guidance answers
    values = {
        "station_id": w.station.pk,
        "mentor_id": w.psych.pk,
        "consultation_id": consultation.pk,
        "slot_id": consultation.slot_id,
    }
    for person in (w.mum.user, w.psych.user, w.chief.user, w.coordinator):
        client.force_login(person)
        paths = _api_paths(client, values)
        assert paths, "no guidance endpoint in the API schema"
        for path in paths:
            answer = client.get(path)
            _assert_clean(f"API {path} as {person}", answer.content.decode())

    # and the one place they are: the mentors' own page
    client.force_login(w.chief.user)
    page = client.get(reverse("guidance:consultation", args=[consultation.pk])).content.decode()
    assert PRIVATE in page and RESTRICTED in page and NEED in page
