"""WeChat test helpers shared by the wechat, events and api tests.

Import the fixture into a test module or a conftest:
``from wechat.tests.support import wechat_server_fixture  # noqa: F401 - fixture``.
"""

import pytest

from tests.fakes import FakeWeChatServer


@pytest.fixture(name="wechat_server")
def wechat_server_fixture(settings):
    """The local fake WeChat server (tests/fakes.py), with the portal pointed at it;
    a short read timeout, so that a test of WeChat not answering stays short."""
    with FakeWeChatServer() as server:
        settings.WECHAT_BACKEND = "wechat.client.HttpWeChatClient"
        settings.WECHAT_API_BASE = server.url
        settings.WECHAT_APP_ID = server.app_id
        settings.WECHAT_APP_SECRET = server.app_secret
        settings.WECHAT_READ_TIMEOUT = 2.0
        yield server
