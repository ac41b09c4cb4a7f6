"""Errors of the wechat app, with their messages in one place.

- :class:`WeChatError`: WeChat's servers answered an ``errcode`` (or could not
  be reached); ``errcode`` is WeChat's number, ``code`` the API's stable code
  (``wechat_40029``; ``busy`` for -1 and network failures, answered 503).
- :class:`WeChatRuleError`: one of the portal's own rules around WeChat sign-in
  was broken (an expired binding ticket, a wrong SMS code …).

Both carry ``code`` and ``message`` (ready to show), like every app's errors, so
the API turns them into its one error shape.
"""

from django.utils.translation import gettext_lazy as _

# WeChat's error codes that a parent may see, in words for parents.
WECHAT_MESSAGES = {
    -1: _("微信服务繁忙，请稍后再试。"),
    40029: _("登录凭证无效或已过期，请重新打开小程序。"),
    40163: _("登录凭证已使用过，请重新打开小程序。"),
    45011: _("操作太频繁，请稍后再试。"),
    40226: _("该微信账号存在风险，暂不能登录。"),
    43101: _("用户拒绝接收或没有可用的订阅次数。"),
    40037: _("模板无效，请管理员检查订阅消息模板。"),
    47003: _("模板参数不正确，请管理员检查订阅消息模板的字段对应。"),
    41030: _("小程序页面路径不正确，请管理员检查订阅消息模板的页面。"),
    40003: _("接收者的微信身份无效。"),
}
WECHAT_OTHER = _("微信接口出错（错误码 %(errcode)s），请稍后再试。")

# Codes that mean "the access token is stale": fetch a fresh one and call again once.
ACCESS_TOKEN_ERRORS = frozenset({40001, 40014, 42001})
# Codes after which the same call may succeed later.
TRANSIENT_ERRORS = frozenset({-1, 45009, 45011})


class WeChatError(Exception):
    """WeChat answered ``errcode`` ≠ 0, or could not be asked (``errcode`` -1)."""

    def __init__(self, errcode: int, errmsg: str = ""):
        self.errcode = int(errcode)
        self.errmsg = errmsg or ""
        self.code = "busy" if self.errcode == -1 else f"wechat_{self.errcode}"
        message = WECHAT_MESSAGES.get(self.errcode)
        self.message = message if message is not None else WECHAT_OTHER % {"errcode": errcode}
        super().__init__(f"{self.errcode} {self.errmsg}".strip())

    @property
    def transient(self) -> bool:
        return self.errcode in TRANSIENT_ERRORS


class WeChatUnreachable(WeChatError):
    """No connection to WeChat: the request was never delivered (safe to retry)."""

    def __init__(self, errmsg: str = ""):
        super().__init__(-1, errmsg)


class WeChatNoAnswer(WeChatError):
    """The request went out but no answer came back: WeChat may have acted on it."""

    def __init__(self, errmsg: str = ""):
        super().__init__(-1, errmsg)


MESSAGES = {
    "ticket_invalid": _("绑定已超时，请重新打开小程序登录。"),
    "phone_invalid": _("请输入11位中国大陆手机号码，例如 13812341234。"),
    "phone_not_mainland": _("暂只支持中国大陆手机号，请改用短信验证码绑定。"),
    "sms_code_wait": _("验证码已发送，请 %(seconds)s 秒后再重新获取。"),
    "sms_code_expired": _("验证码已过期或已使用，请重新获取。"),
    "sms_code_wrong": _("验证码不正确，请核对短信中的6位数字。"),
    "sms_code_attempts": _("验证码输错次数太多，请重新获取。"),
    "proof_required": _("请填写短信验证码，或使用微信手机号快捷验证。"),
    "account_inactive": _("该账号已停用，请联系管理员。"),
    "results_too_many": _("一次最多上报 %(limit)s 个订阅结果。"),
}


class WeChatRuleError(Exception):
    """A portal rule around WeChat was broken; ``message`` is ready to show."""

    def __init__(self, code: str, *, field: str | None = None, **params):
        self.code = code
        message = MESSAGES[code]
        self.message = message % params if params else message
        self.fields = {field: str(self.message)} if field else {}
        super().__init__(code)
