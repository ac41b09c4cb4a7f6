"""The local fake WeChat server (tests/fakes.py), with the portal pointed at it,
and texts in the in-memory SMS backend, for every test of the wechat app."""

from members.tests.family_support import sms_outbox_fixture  # noqa: F401 - fixture
from wechat.tests.support import wechat_server_fixture  # noqa: F401 - fixture
