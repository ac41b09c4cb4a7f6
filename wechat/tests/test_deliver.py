"""subscription_deliver and the ledger: one grant per send, spent before the call,
given back when nothing went, refused on 43101; values within WeChat's limits."""

import pytest

from members.tests.factories import UserFactory
from notifications.models import NotificationPreference
from tests.races import run_together
from wechat.models import SubscriptionGrant, SubscriptionTemplate
from wechat.selectors import grants_left, grants_left_by_kind, wechat_identity_for
from wechat.services import DeliverOutcome, subscription_deliver, subscription_results_record
from wechat.values import template_data

from .factories import SubscriptionTemplateFactory, WeChatIdentityFactory

pytestmark = pytest.mark.django_db

VALUES = {
    "title": "亲子沟通的艺术：如何倾听孩子的心声（第二讲）",
    "starts_at": "2026-03-01T07:30:00+00:00",
    "venue": "实验小学报告厅",
    "note": "您已从候补转为正式报名",
}


@pytest.fixture
def parent():
    identity = WeChatIdentityFactory(openid="o_mum")
    template = SubscriptionTemplateFactory(template_id="T-promo")
    return identity.user, template


def _deliver(user, reference="delivery:1"):
    return subscription_deliver(
        user=user, kind=SubscriptionTemplate.Kind.PROMOTION, values=VALUES, reference=reference
    )


def test_values_are_shaped_to_wechat_limits():
    data = template_data(
        {"thing1": "title", "time2": "starts_at", "phrase3": "status", "thing4": "note"},
        {**VALUES, "status": "已转正 (OK)", "note": ""},
    )
    assert data["thing1"] == "亲子沟通的艺术：如何倾听孩子的心声（第…"
    assert len(data["thing1"]) == 20
    assert data["time2"] == "2026年03月01日 15:30"  # Asia/Shanghai
    assert data["phrase3"] == "已转正"
    assert data["thing4"] == "无"


def test_one_acceptance_allows_exactly_one_send(wechat_server, parent):
    user, template = parent
    subscription_results_record(user=user, results={"T-promo": "accept"})
    assert grants_left(user, "promotion") == 1

    assert _deliver(user, "delivery:1") == DeliverOutcome.SENT
    assert _deliver(user, "delivery:2") == DeliverOutcome.NO_GRANT

    (message,) = wechat_server.sent_to("o_mum")
    assert message["template_id"] == "T-promo" and message["page"] == "pages/learning/index"
    assert message["data"]["time2"] == {"value": "2026年03月01日 15:30"}
    grant = SubscriptionGrant.objects.get()
    assert grant.spent_at is not None and grant.spent_for == "delivery:1"
    assert grants_left(user, "promotion") == 0


def test_two_acceptances_two_sends_oldest_first(wechat_server, parent):
    user, _template = parent
    subscription_results_record(user=user, results={"T-promo": "accept"})
    subscription_results_record(user=user, results={"T-promo": "accept"})
    assert [_deliver(user, f"d:{i}") for i in range(3)] == [
        DeliverOutcome.SENT,
        DeliverOutcome.SENT,
        DeliverOutcome.NO_GRANT,
    ]
    assert len(wechat_server.messages) == 2


def test_no_template_or_no_identity_is_no_grant(wechat_server):
    user = UserFactory()
    assert _deliver(user) == DeliverOutcome.NO_GRANT
    SubscriptionTemplateFactory(template_id="T-promo", is_active=False)
    WeChatIdentityFactory(user=user)
    SubscriptionGrant.objects.create(user=user, template_id="T-promo", answer="accept")
    assert _deliver(user) == DeliverOutcome.NO_GRANT
    assert wechat_server.messages == []
    assert wechat_identity_for(user) is not None


def test_43101_marks_the_grants_refused(wechat_server, parent):
    user, _template = parent
    subscription_results_record(user=user, results={"T-promo": "accept"})
    subscription_results_record(user=user, results={"T-promo": "accept"})
    wechat_server.answers["o_mum"] = 43101

    assert _deliver(user) == DeliverOutcome.REFUSED

    assert SubscriptionGrant.objects.filter(refused=True).count() == 2
    assert grants_left(user, "promotion") == 0
    assert _deliver(user) == DeliverOutcome.NO_GRANT
    # and the guardian's WeChat channel is off
    assert NotificationPreference.objects.get(user=user).by_wechat is False


def test_busy_gives_the_grant_back_for_a_retry(wechat_server, parent):
    user, _template = parent
    subscription_results_record(user=user, results={"T-promo": "accept"})
    wechat_server.answers["o_mum"] = -1
    assert _deliver(user) == DeliverOutcome.RETRY
    assert grants_left(user, "promotion") == 1
    del wechat_server.answers["o_mum"]
    assert _deliver(user) == DeliverOutcome.SENT
    assert len(wechat_server.messages) == 1


def test_unreachable_wechat_gives_the_grant_back(wechat_server, parent, settings):
    user, _template = parent
    subscription_results_record(user=user, results={"T-promo": "accept"})
    get_token = SubscriptionGrant.objects.count()
    settings.WECHAT_API_BASE = "http://127.0.0.1:9"
    assert _deliver(user) == DeliverOutcome.RETRY
    assert grants_left(user, "promotion") == get_token


def test_no_answer_after_sending_keeps_the_grant_spent(wechat_server, parent, settings):
    # given WeChat takes the message but its answer never comes back in time
    user, _template = parent
    subscription_results_record(user=user, results={"T-promo": "accept"})
    from wechat.client import get_client

    get_client().access_token()  # the token fetch is not the slow part
    settings.WECHAT_READ_TIMEOUT = 0.2
    wechat_server.delay_seconds = 0.5
    # then the send counts as made: never twice
    assert _deliver(user) == DeliverOutcome.SENT
    assert grants_left(user, "promotion") == 0


def test_a_template_refusing_the_data_fails_and_keeps_the_grant(wechat_server, parent):
    user, template = parent
    template.field_map = {"number1": "title"}  # a title is not a number
    template.save()
    subscription_results_record(user=user, results={"T-promo": "accept"})
    assert _deliver(user) == DeliverOutcome.FAILED
    assert grants_left(user, "promotion") == 1


def test_refusals_are_recorded_and_unknown_templates_ignored(parent):
    user, _template = parent
    SubscriptionTemplateFactory(kind="reminder", template_id="T-remind")
    recorded = subscription_results_record(
        user=user, results={"T-promo": "reject", "T-remind": "accept", "T-unknown": "accept"}
    )
    assert (recorded.accepted, recorded.refused, recorded.ignored) == (1, 1, ["T-unknown"])
    assert SubscriptionGrant.objects.get(template_id="T-promo").refused is True
    assert grants_left_by_kind(user) == {"promotion": 0, "reminder": 1}
    assert NotificationPreference.objects.get(user=user).by_wechat is False


def test_acceptances_alone_leave_the_channel_as_it_was(parent):
    user, _template = parent
    subscription_results_record(user=user, results={"T-promo": "accept"})
    assert not NotificationPreference.objects.filter(user=user, by_wechat=False).exists()


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_sends_spend_one_grant_once(wechat_server, parent):
    # given one acceptance and two send tasks for it at the same moment
    user, _template = parent
    subscription_results_record(user=user, results={"T-promo": "accept"})

    outcome = run_together(
        [lambda: _deliver(user, "d:a"), lambda: _deliver(user, "d:b")],
        meet_before_write=["wechat_subscriptiongrant"],
    )

    assert outcome.errors == []
    assert sorted(outcome.results) == [DeliverOutcome.NO_GRANT, DeliverOutcome.SENT]
    assert len(wechat_server.messages) == 1
    assert outcome.met == 2


def test_a_token_fetch_without_answer_means_not_sent(wechat_server, parent, settings):
    # given no stored token and a WeChat too slow to hand one out
    user, _template = parent
    subscription_results_record(user=user, results={"T-promo": "accept"})
    settings.WECHAT_READ_TIMEOUT = 0.2
    wechat_server.delay_seconds = 0.5
    # then the message was never offered: retry later, the grant kept
    assert _deliver(user) == DeliverOutcome.RETRY
    assert grants_left(user, "promotion") == 1
