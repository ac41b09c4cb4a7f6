"""The HTTP client against the local fake WeChat server: code2Session and its
errors, the shared access token (refresh, expiry, one refresher), sends."""

import threading
import time

import pytest
from django.core.cache import cache

from wechat.client import ConsoleWeChatClient, HttpWeChatClient, get_client
from wechat.errors import WeChatError, WeChatNoAnswer, WeChatUnreachable


def test_code_to_session_gives_openid_unionid_and_a_key_kept_out_of_its_repr(wechat_server):
    session = get_client().code_to_session("wx-alice")
    assert (session.openid, session.unionid) == ("o_alice", "u_alice")
    assert session.session_key == "sk-alice"
    assert "sk-alice" not in repr(session)


@pytest.mark.parametrize(
    ("code", "errcode", "message"),
    [
        ("bad-code", 40029, "登录凭证无效或已过期，请重新打开小程序。"),
        ("rate-limited", 45011, "操作太频繁，请稍后再试。"),
        ("risky-user", 40226, "该微信账号存在风险，暂不能登录。"),
        ("busy-now", -1, "微信服务繁忙，请稍后再试。"),
    ],
)
def test_code_to_session_errors_carry_their_chinese_message(wechat_server, code, errcode, message):
    with pytest.raises(WeChatError) as caught:
        get_client().code_to_session(code)
    assert caught.value.errcode == errcode
    assert str(caught.value.message) == message
    assert caught.value.code == ("busy" if errcode == -1 else f"wechat_{errcode}")


def test_a_reused_login_code_is_refused(wechat_server):
    wechat_server.one_time_codes = True
    get_client().code_to_session("wx-bob")
    with pytest.raises(WeChatError) as caught:
        get_client().code_to_session("wx-bob")
    assert caught.value.errcode == 40163


def test_wrong_secret_is_an_error_not_a_session(wechat_server, settings):
    settings.WECHAT_APP_SECRET = "not-the-secret"
    with pytest.raises(WeChatError) as caught:
        get_client().code_to_session("wx-alice")
    assert caught.value.errcode == 40125


def test_the_access_token_is_fetched_once_and_shared_through_the_cache(wechat_server):
    client = get_client()
    assert client.phone_number("phone-13812341234") == "13812341234"
    assert client.phone_number("phone-13912341234") == "13912341234"
    # a second process (another client object) reads the same stored token
    other = HttpWeChatClient(
        base_url=wechat_server.url, app_id=wechat_server.app_id, app_secret="x", read_timeout=2
    )
    assert other.access_token() == client.access_token()
    assert wechat_server.token_fetches == 1


def test_a_token_past_its_expiry_is_fetched_again(wechat_server):
    wechat_server.token_lifetime = 1
    client = get_client()
    first = client.access_token()
    time.sleep(1.2)
    wechat_server.token_lifetime = 7200  # (the next one outlives the test, however slow)
    second = client.access_token()
    assert second != first
    assert wechat_server.token_fetches == 2
    assert client.phone_number("phone-13812341234") == "13812341234"


def test_a_call_refused_for_an_expired_token_refreshes_and_is_retried_once(wechat_server):
    client = get_client()
    client.access_token()
    # given WeChat ended the token early (a fetch elsewhere, a change of its lifetime)
    wechat_server.expire_tokens()
    # when a call is made with the stored token: 42001, then a fresh token and one retry
    assert client.phone_number("phone-13812341234") == "13812341234"
    assert wechat_server.token_fetches == 2
    assert wechat_server.calls["token"] == 2


def test_an_unknown_token_answered_40001_is_replaced(wechat_server, settings):
    client = get_client()
    cache.set(
        f"wechat:access-token:{client.app_id}",
        {"token": "forged", "fresh_until": time.time() + 600},
        timeout=600,
    )
    assert client.phone_number("phone-13812341234") == "13812341234"
    assert client.access_token() != "forged"


def test_the_old_cgi_bin_token_endpoint_works_too(wechat_server, settings):
    settings.WECHAT_TOKEN_ENDPOINT = "token"
    assert get_client().phone_number("phone-13812341234") == "13812341234"
    assert wechat_server.token_fetches == 1


def test_one_process_refreshes_while_the_others_wait_for_its_token(wechat_server):
    # given eight workers that find no token at the same moment
    wechat_server.delay_seconds = 0.2  # a slow token fetch widens the window
    clients = [
        HttpWeChatClient(
            base_url=wechat_server.url,
            app_id=wechat_server.app_id,
            app_secret=wechat_server.app_secret,
            read_timeout=3,
        )
        for _ in range(8)
    ]
    tokens = []
    barrier = threading.Barrier(len(clients))

    def work(client):
        barrier.wait()
        tokens.append(client.access_token())

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then one fetch, one token for all
    assert wechat_server.calls["token"] == 1
    assert len(set(tokens)) == 1 and len(tokens) == 8


def test_send_posts_the_documented_body(wechat_server):
    get_client().send_subscribe_message(
        openid="o_alice",
        template_id="T1",
        page="pages/index",
        data={"thing1": "亲子沟通", "time2": "2026年03月01日 15:00"},
        state="trial",
    )
    (message,) = wechat_server.messages
    assert message == {
        "touser": "o_alice",
        "template_id": "T1",
        "page": "pages/index",
        "data": {"thing1": {"value": "亲子沟通"}, "time2": {"value": "2026年03月01日 15:00"}},
        "miniprogram_state": "trial",
        "lang": "zh_CN",
    }


def test_send_errors_come_back_with_their_codes(wechat_server):
    client = get_client()
    with pytest.raises(WeChatError) as caught:
        client.send_subscribe_message(
            openid="o_a", template_id="T1", page="", data={"thing1": "长" * 21}, state="formal"
        )
    assert caught.value.errcode == 47003
    wechat_server.answers["o_a"] = 43101
    with pytest.raises(WeChatError) as caught:
        client.send_subscribe_message(
            openid="o_a", template_id="T1", page="", data={"thing1": "短"}, state="formal"
        )
    assert caught.value.errcode == 43101
    assert "订阅" in str(caught.value.message)


def test_no_server_is_unreachable_and_a_slow_answer_is_no_answer(wechat_server, settings):
    settings.WECHAT_API_BASE = "http://127.0.0.1:9"  # nothing listens on discard
    with pytest.raises(WeChatUnreachable):
        get_client().code_to_session("wx-alice")
    settings.WECHAT_API_BASE = wechat_server.url
    settings.WECHAT_READ_TIMEOUT = 0.2
    wechat_server.delay_seconds = 0.6
    with pytest.raises(WeChatNoAnswer):
        get_client().code_to_session("wx-alice")


def test_the_console_backend_accepts_demo_codes_only():
    client = ConsoleWeChatClient()
    first = client.code_to_session("demo-wang")
    assert first == client.code_to_session("demo-wang")
    assert first.openid != client.code_to_session("demo-li").openid
    with pytest.raises(WeChatError) as caught:
        client.code_to_session("wx-real-code")
    assert caught.value.errcode == 40029
    assert client.phone_number("demo-13812341234") == "13812341234"
    client.send_subscribe_message(openid="x", template_id="T", page="", data={}, state="formal")


def test_the_http_backend_without_credentials_stops_at_the_system_check(settings):
    from wechat.apps import wechat_settings_check

    settings.WECHAT_BACKEND = "wechat.client.HttpWeChatClient"
    settings.WECHAT_APP_ID, settings.WECHAT_APP_SECRET = "wx-app", ""
    (error,) = wechat_settings_check()
    assert error.id == "wechat.E001" and "WECHAT_APP_SECRET" in error.msg
    settings.WECHAT_APP_SECRET = "secret"
    assert wechat_settings_check() == []
