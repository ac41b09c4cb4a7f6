"""The optional cloud check (community/content_check.py) against the local fake of
WeChat's msgSecCheck v2 (tests/fakes.py)."""

import logging

import pytest

from community.content_check import (
    NullChecker,
    Verdict,
    WeChatChecker,
    get_checker,
)
from members.tests.factories import UserFactory
from wechat.client import ConsoleWeChatClient
from wechat.tests.factories import WeChatIdentityFactory
from wechat.tests.support import wechat_server_fixture  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def writer():
    identity = WeChatIdentityFactory(openid="o_writer")
    return identity.user


def test_risky_text_is_risky_with_wechats_label_in_words(wechat_server, writer):
    wechat_server.sec_verdicts["违规示例"] = ("risky", 20006)
    verdict = WeChatChecker().check(text="这里有违规示例内容", user=writer)
    assert verdict == Verdict("risky", "违法犯罪")
    assert verdict.holds
    # the documented v2 request: the text, version 2, scene 3 (论坛), the writer's openid
    (body,) = wechat_server.sec_checks
    assert body == {"content": "这里有违规示例内容", "version": 2, "scene": 3, "openid": "o_writer"}


def test_ordinary_text_passes(wechat_server, writer):
    wechat_server.sec_verdicts["违规示例"] = ("risky", 20006)
    verdict = WeChatChecker().check(text="孩子写作业拖拉怎么办？", user=writer)
    assert verdict == Verdict("pass")
    assert not verdict.holds
    assert wechat_server.calls["msg_sec_check"] == 1


def test_text_to_review_is_review(wechat_server, writer):
    wechat_server.sec_verdicts["需要人工看看"] = ("review", 10001)
    assert WeChatChecker().check(text="需要人工看看", user=writer) == Verdict("review", "广告")


def test_a_user_without_a_wechat_identity_passes_without_asking(wechat_server):
    assert WeChatChecker().check(text="随便说说", user=UserFactory()) == Verdict("pass")
    assert wechat_server.calls["msg_sec_check"] == 0


def test_a_server_that_is_down_lets_the_post_through_and_is_logged(
    wechat_server, writer, settings, caplog
):
    from tests.fakes import free_port

    settings.WECHAT_API_BASE = f"http://127.0.0.1:{free_port()}"  # nobody listens
    with caplog.at_level(logging.WARNING, logger="community"):
        assert WeChatChecker().check(text="违规示例", user=writer) == Verdict("pass")
    assert "msgSecCheck not answered" in caplog.text


def test_an_error_answer_lets_the_post_through(wechat_server, writer, caplog):
    # 61010: the user has not opened the mini-program in the last two hours
    wechat_server.sec_answers["o_writer"] = 61010
    wechat_server.sec_verdicts["违规示例"] = ("risky", 20001)
    with caplog.at_level(logging.WARNING, logger="community"):
        assert WeChatChecker().check(text="违规示例", user=writer) == Verdict("pass")
    assert "61010" in caplog.text


def test_the_console_client_passes_everything():
    answer = ConsoleWeChatClient().msg_sec_check(openid="o_x", content="任何内容")
    assert answer.suggest == "pass"


def test_get_checker_is_off_by_default_and_chosen_by_the_setting(settings):
    settings.COMMUNITY_CONTENT_CHECK = ""
    assert isinstance(get_checker(), NullChecker)
    assert get_checker().check(text="违规示例", user=None) == Verdict("pass")
    settings.COMMUNITY_CONTENT_CHECK = "wechat"
    assert isinstance(get_checker(), WeChatChecker)
    settings.COMMUNITY_CONTENT_CHECK = "community.content_check.NullChecker"
    assert isinstance(get_checker(), NullChecker)


def test_a_verdict_must_be_one_of_the_three():
    with pytest.raises(ValueError):
        Verdict("maybe")
