"""A small client for WeChat's mini-program server APIs (docs/WECHAT.md).

The portal needs five of them, behind :class:`WeChatClient`:

- ``code2Session`` (``GET /sns/jscode2session``): a ``wx.login`` code → openid,
  unionid and session_key;
- ``getPhoneNumber`` (``POST /wxa/business/getuserphonenumber``): the phone
  button's code → the number;
- ``subscribeMessage.send`` (``POST /cgi-bin/message/subscribe/send``);
- ``msgSecCheck`` v2 (``POST /wxa/msg_sec_check``): the content-security check
  of a text a user wrote (the boards' optional cloud check, community/content_check.py);
- and the access token the last three need (``getStableAccessToken``,
  ``POST /cgi-bin/stable_token``, or the older ``GET /cgi-bin/token``).

Which backend answers is chosen by ``settings.WECHAT_BACKEND`` alone:

- :class:`HttpWeChatClient` talks to ``WECHAT_API_BASE`` (WeChat itself, or the
  local fake of tests/fakes.py) over one pooled ``requests`` session;
- :class:`ConsoleWeChatClient` (the embedded default for ``make run``) accepts
  codes ``demo-<anything>`` and logs the messages it would send.

The access token is shared by every process through the cache: it is stored
with its expiry, and when it is missing, stale or refused (40001, 40014,
42001) exactly one process refreshes it under a cache lock while the others
wait for the new one (WeChat: "access_token 使用说明" — one holder refreshes;
a fetch invalidates older tokens). A call refused for its token is retried
once with the fresh token.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.utils.module_loading import import_string

from .errors import (
    ACCESS_TOKEN_ERRORS,
    WeChatError,
    WeChatNoAnswer,
    WeChatUnreachable,
)

logger = logging.getLogger("wechat")

__all__ = [
    "ConsoleWeChatClient",
    "HttpWeChatClient",
    "SecCheck",
    "Session",
    "WeChatClient",
    "WeChatError",
    "WeChatNoAnswer",
    "WeChatUnreachable",
    "get_client",
]


@dataclass(frozen=True)
class Session:
    """What code2Session gives. ``session_key`` must never leave the server."""

    openid: str
    unionid: str
    session_key: str

    def __repr__(self) -> str:  # keeps the key out of logs and tracebacks
        return f"Session(openid={self.openid!r}, unionid={self.unionid!r})"


@dataclass(frozen=True)
class SecCheck:
    """What msgSecCheck v2 says of a text: ``suggest`` is "pass", "review" or
    "risky"; ``label`` WeChat's number (100 normal, 10001 ads, 20001 politics,
    20002 porn, 20003 abuse, 20006 crime, 20008 fraud, 20012 vulgar, 21000 other)."""

    suggest: str
    label: int = 100

    SCENE_PROFILE = 1
    SCENE_COMMENT = 2
    SCENE_FORUM = 3
    SCENE_SOCIAL_LOG = 4


class WeChatClient:
    """The interface: every backend answers these four, raising :class:`WeChatError`."""

    app_id: str = ""

    def code_to_session(self, js_code: str) -> Session:
        raise NotImplementedError

    def phone_number(self, code: str) -> str:
        """The phone button's code → the number without country code (``purePhoneNumber``)."""
        raise NotImplementedError

    def send_subscribe_message(
        self, *, openid: str, template_id: str, page: str, data: dict[str, str], state: str
    ) -> None:
        """Send one subscription message; ``data`` maps WeChat's keys to plain values."""
        raise NotImplementedError

    def msg_sec_check(self, *, openid: str, content: str, scene: int = 3) -> SecCheck:
        """WeChat's content-security check (v2) of ``content`` written by ``openid``
        (who must have opened the mini-program in the last two hours); ``scene``
        1 profile, 2 comment, 3 forum (论坛), 4 social log."""
        raise NotImplementedError


class HttpWeChatClient(WeChatClient):
    """WeChat's HTTPS API (or anything that speaks it, such as tests/fakes.py)."""

    # Refresh this long before WeChat's expiry (at most; a tenth of a short life).
    REFRESH_MARGIN_SECONDS = 300

    def __init__(
        self,
        *,
        base_url: str,
        app_id: str,
        app_secret: str,
        connect_timeout: float = 3.0,
        read_timeout: float = 5.0,
        token_endpoint: str = "stable",
    ):
        import requests
        from requests.adapters import HTTPAdapter

        self.base_url = base_url.rstrip("/")
        self.app_id = app_id
        self._secret = app_secret
        self.timeout = (connect_timeout, read_timeout)
        # The others wait for a refresher as long as its fetch may take; the lock
        # outlives that, so a refresher that died frees it soon after.
        self.wait_seconds = connect_timeout + read_timeout + 1
        self.lock_seconds = int(2 * self.wait_seconds) + 1
        self.token_endpoint = token_endpoint
        self.http = requests.Session()
        # No automatic retries: a retried send could deliver twice; callers decide.
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=20, max_retries=0)
        self.http.mount("https://", adapter)
        self.http.mount("http://", adapter)
        self._token_key = f"wechat:access-token:{app_id}"
        self._lock_key = f"wechat:access-token-lock:{app_id}"

    # --- HTTP -----------------------------------------------------------------
    def _request(self, method: str, path: str, *, params=None, body=None) -> dict:
        import requests

        url = f"{self.base_url}{path}"
        try:
            response = self.http.request(
                method, url, params=params, json=body, timeout=self.timeout
            )
        except (requests.exceptions.ConnectTimeout, requests.exceptions.SSLError) as error:
            raise WeChatUnreachable(type(error).__name__) from None
        except requests.exceptions.ConnectionError as error:
            # A refused or unresolvable connection never carried the request;
            # a connection that broke after sending may have.
            text = repr(error)
            if "NewConnectionError" in text or "NameResolutionError" in text:
                raise WeChatUnreachable("connection refused") from None
            raise WeChatNoAnswer("connection broken") from None
        except requests.exceptions.Timeout:
            raise WeChatNoAnswer("read timeout") from None
        if response.status_code != 200:
            raise WeChatNoAnswer(f"HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError:
            raise WeChatNoAnswer("not JSON") from None
        errcode = int(answer.get("errcode") or 0)
        if errcode:
            raise WeChatError(errcode, str(answer.get("errmsg", "")))
        return answer

    # --- the access token -------------------------------------------------------
    def _fetch_token(self, *, force: bool = False) -> tuple[str, int]:
        if self.token_endpoint == "stable":
            body = {
                "grant_type": "client_credential",
                "appid": self.app_id,
                "secret": self._secret,
                "force_refresh": force,
            }
            answer = self._request("POST", "/cgi-bin/stable_token", body=body)
        else:
            params = {"grant_type": "client_credential", "appid": self.app_id}
            params["secret"] = self._secret
            answer = self._request("GET", "/cgi-bin/token", params=params)
        return str(answer["access_token"]), int(answer.get("expires_in") or 7200)

    def _stored_token(self, *, stale: str | None) -> str | None:
        entry = cache.get(self._token_key)
        if not entry or entry["token"] == stale or entry["fresh_until"] <= time.time():
            return None
        return entry["token"]

    def access_token(self, *, stale: str | None = None) -> str:
        """The shared token; ``stale`` is one WeChat just refused (get another)."""
        token = self._stored_token(stale=stale)
        if token is not None:
            return token
        owner = uuid.uuid4().hex
        deadline = time.monotonic() + self.wait_seconds
        while not cache.add(self._lock_key, owner, timeout=self.lock_seconds):
            # Another process is refreshing: wait for its token.
            time.sleep(0.05)
            token = self._stored_token(stale=stale)
            if token is not None:
                return token
            if time.monotonic() > deadline:
                raise WeChatUnreachable("access token refresh did not finish")
        try:
            # The holder before us may have refreshed while we asked for the lock.
            token = self._stored_token(stale=stale)
            if token is not None:
                return token
            token, expires_in = self._fetch_token()
            if token == stale:
                # The stable token's normal mode handed back the refused one.
                token, expires_in = self._fetch_token(force=True)
            margin = min(self.REFRESH_MARGIN_SECONDS, expires_in // 10)
            fresh_until = time.time() + expires_in - margin
            cache.set(
                self._token_key,
                {"token": token, "fresh_until": fresh_until},
                timeout=max(1, expires_in - margin),
            )
            logger.info("WeChat access token refreshed (expires in %ss)", expires_in)
            return token
        finally:
            if cache.get(self._lock_key) == owner:
                cache.delete(self._lock_key)

    def _token_for_call(self, *, stale: str | None = None) -> str:
        # A token fetch that got no answer is not the call: the call was never made.
        try:
            return self.access_token(stale=stale)
        except WeChatNoAnswer as error:
            raise WeChatUnreachable(f"access token: {error.errmsg}") from None

    def _with_token(self, path: str, body: dict) -> dict:
        token = self._token_for_call()
        try:
            return self._request("POST", path, params={"access_token": token}, body=body)
        except WeChatError as error:
            if error.errcode not in ACCESS_TOKEN_ERRORS:
                raise
            logger.info("WeChat refused the access token (%s); refreshing", error.errcode)
        token = self._token_for_call(stale=token)
        return self._request("POST", path, params={"access_token": token}, body=body)

    # --- the interface ----------------------------------------------------------
    def code_to_session(self, js_code: str) -> Session:
        params = {
            "appid": self.app_id,
            "secret": self._secret,
            "js_code": js_code,
            "grant_type": "authorization_code",
        }
        answer = self._request("GET", "/sns/jscode2session", params=params)
        return Session(
            openid=str(answer["openid"]),
            unionid=str(answer.get("unionid") or ""),
            session_key=str(answer.get("session_key") or ""),
        )

    def phone_number(self, code: str) -> str:
        answer = self._with_token("/wxa/business/getuserphonenumber", {"code": code})
        info = answer.get("phone_info") or {}
        return str(info.get("purePhoneNumber") or "")

    def send_subscribe_message(
        self, *, openid: str, template_id: str, page: str, data: dict[str, str], state: str
    ) -> None:
        body = {
            "touser": openid,
            "template_id": template_id,
            "data": {key: {"value": value} for key, value in data.items()},
            "miniprogram_state": state,
            "lang": "zh_CN",
        }
        if page:
            body["page"] = page
        self._with_token("/cgi-bin/message/subscribe/send", body)

    def msg_sec_check(self, *, openid: str, content: str, scene: int = 3) -> SecCheck:
        body = {"content": content, "version": 2, "scene": scene, "openid": openid}
        answer = self._with_token("/wxa/msg_sec_check", body)
        result = answer.get("result") or {}
        suggest = str(result.get("suggest") or "")
        if suggest not in ("pass", "review", "risky"):
            raise WeChatNoAnswer(f"msg_sec_check suggest {suggest!r}")
        try:
            label = int(result.get("label") or 100)
        except (TypeError, ValueError):
            label = 0
        return SecCheck(suggest=suggest, label=label)


class ConsoleWeChatClient(WeChatClient):
    """The embedded default: no WeChat needed.

    ``demo-<anything>`` is a valid login code (always the same openid for the
    same text), ``demo-13812341234`` a valid phone-button code; anything else
    is answered 40029, as WeChat answers a bad code. Sends are logged."""

    def __init__(self, **options):
        self.app_id = options.get("app_id") or "demo-app"

    def code_to_session(self, js_code: str) -> Session:
        if not js_code.startswith("demo-") or len(js_code) <= len("demo-"):
            raise WeChatError(40029, "invalid code")
        digest = hashlib.sha256(js_code[5:].encode("utf-8")).hexdigest()
        return Session(
            openid=f"demo-openid-{digest[:16]}",
            unionid=f"demo-unionid-{digest[:16]}",
            session_key=hashlib.sha256(f"key:{js_code}".encode()).hexdigest()[:24],
        )

    def phone_number(self, code: str) -> str:
        number = code[5:] if code.startswith("demo-") else ""
        if not (len(number) == 11 and number.isdigit()):
            raise WeChatError(40029, "invalid code")
        return number

    def send_subscribe_message(
        self, *, openid: str, template_id: str, page: str, data: dict[str, str], state: str
    ) -> None:
        logger.info(
            "WeChat subscription message to %s (template %s, page %s, %s): %s",
            openid,
            template_id,
            page or "-",
            state,
            data,
        )

    def msg_sec_check(self, *, openid: str, content: str, scene: int = 3) -> SecCheck:
        # Nothing to ask: the local word list is the check when WeChat is not there.
        logger.info("WeChat msgSecCheck skipped for %s (%s characters)", openid, len(content))
        return SecCheck(suggest="pass")


_clients: dict[tuple, WeChatClient] = {}


def get_client() -> WeChatClient:
    """The configured client, one per process and configuration (its pooled
    connections are reused by every call)."""
    options = (
        settings.WECHAT_BACKEND,
        settings.WECHAT_API_BASE,
        settings.WECHAT_APP_ID,
        settings.WECHAT_APP_SECRET,
        settings.WECHAT_CONNECT_TIMEOUT,
        settings.WECHAT_READ_TIMEOUT,
        settings.WECHAT_TOKEN_ENDPOINT,
    )
    client = _clients.get(options)
    if client is None:
        backend = import_string(settings.WECHAT_BACKEND)
        client = backend(
            base_url=settings.WECHAT_API_BASE,
            app_id=settings.WECHAT_APP_ID,
            app_secret=settings.WECHAT_APP_SECRET,
            connect_timeout=settings.WECHAT_CONNECT_TIMEOUT,
            read_timeout=settings.WECHAT_READ_TIMEOUT,
            token_endpoint=settings.WECHAT_TOKEN_ENDPOINT,
        )
        _clients[options] = client
    return client
