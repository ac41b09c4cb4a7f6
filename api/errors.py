"""The API's one error shape, and the errors only the API has.

Every error answer is ``{"code": ..., "message": ..., "fields": {...}}``:
``code`` is stable and meant for programs, ``message`` is for people, in the
request's language (the same sentences as the pages: each app's ``MESSAGES``),
and ``fields`` names the request fields that were wrong (docs/API.md).
"""

from django.utils.translation import gettext_lazy as _

MESSAGES = {
    "unauthenticated": _("请先登录，或在 Authorization 头中提供有效的令牌。"),
    "token_invalid": _("令牌无效、已过期或已被撤销。"),
    "scope_missing": _("这个令牌没有“%(scope)s”权限。"),
    "device_forbidden": _("签到设备令牌只能用于签到。"),
    "device_other_unit": _("这台签到设备只能为本单位的场次和活动签到。"),
    "forbidden": _("您无权进行这项操作。"),
    "not_found": _("找不到您要的内容。"),
    "invalid": _("提交的内容有误，请检查标出的项目。"),
    "rate_limited": _("请求太频繁了，请 %(seconds)s 秒后再试。"),
    "bad_cursor": _("翻页参数无效，请从第一页重新开始。"),
    "idempotency_key_bad": _("Idempotency-Key 须为 1–100 个可见字符。"),
    "idempotency_key_reused": _("这个 Idempotency-Key 已用于另一项不同的请求，请换一个新的。"),
    "server_error": _("系统出了点问题，我们已记录下来，请稍后再试。"),
    "field_required": _("此项必填。"),
    "field_invalid": _("格式不正确。"),
    # staff and check-in kiosks (api/staff.py)
    "booking_not_on_roster": _("这个报名不在本场次或活动的名单上。"),
    "bulk_sessions_only": _("批量标记只适用于课程场次；活动请逐个家庭签到。"),
    "checkin_not_yours": _("这张票属于您不负责的场次或活动，不能在这里签到。"),
    # the family, notifications and tokens (api/family.py, api/notifications.py, api/tokens.py)
    "no_family": _("请先填写监护人信息，建立您的家庭。"),
    "consent_agree_required": _("请勾选“我已阅读并同意”后再继续。"),
    "token_cannot_mint": _("令牌不能用来创建新的令牌，请登录网站后在“应用与设备授权”中创建。"),
}


class ApiError(Exception):
    """An error only the API raises; ``status`` is its HTTP status."""

    def __init__(
        self, code: str, *, status: int = 400, field=None, fields=None, headers=None, **params
    ):
        self.code = code
        self.status = status
        self.headers = headers or {}
        self.message = MESSAGES[code] % params if params else MESSAGES[code]
        self.fields = dict(fields or {})
        if field is not None:  # the one field at fault, told with the same message
            self.fields[field] = str(self.message)
        super().__init__(code)
