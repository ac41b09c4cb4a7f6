"""The local fake WeChat server (tests/fakes.py), with the portal pointed at it."""

import pytest

from tests.fakes import FakeWeChatServer


@pytest.fixture
def wechat_server(settings):
    with FakeWeChatServer() as server:
        settings.WECHAT_BACKEND = "wechat.client.HttpWeChatClient"
        settings.WECHAT_API_BASE = server.url
        settings.WECHAT_APP_ID = server.app_id
        settings.WECHAT_APP_SECRET = server.app_secret
        settings.WECHAT_READ_TIMEOUT = 2.0
        yield server


@pytest.fixture
def sms_outbox(settings):
    """Texts go to the in-memory SMS backend; yields its outbox (emptied first)."""
    from members.sms import LocmemSMSBackend

    settings.SMS_BACKEND = "members.sms.LocmemSMSBackend"
    settings.SMS_OPTIONS = {}
    LocmemSMSBackend.reset()
    yield LocmemSMSBackend.outbox
    LocmemSMSBackend.reset()
