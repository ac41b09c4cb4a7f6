"""Errors that families and moderators see on the boards, with their messages in one place.

``CommunityError.field`` names the form field the message belongs to (None: the
whole form). The API maps codes ending ``_missing`` to 404. Add a code here with
its message; never build a message elsewhere.
"""

from django.utils.translation import gettext_lazy as _

MESSAGES = {
    # who
    "no_family": _("请先完善家庭信息（监护人资料）后再使用交流区。"),
    "phone_unverified": _(
        "按照网络发帖实名要求，请先验证手机号码后再发帖。其他家长只会看到您的交流区昵称。"
    ),
    "board_missing": _("没有找到这个交流区，或您没有查看权限。"),
    "thread_missing": _("没有找到这个帖子，或您没有查看权限。"),
    "post_missing": _("没有找到这条内容，或您没有查看权限。"),
    "board_archived": _("这个小组已经解散，交流区已归档，只能查看。"),
    "announcements_only": _("这里是联盟公告区，只有协调员可以发布。"),
    "not_allowed": _("您没有权限进行这项操作。"),
    "muted": _("您在这里暂时不能发言（至 %(until)s）。如有疑问，请联系家长学校。"),
    "thread_closed": _("这个帖子已关闭，不能再回复。"),
}


class CommunityError(Exception):
    """A board rule was broken; ``message`` is ready to show, ``field`` names the field."""

    def __init__(self, code: str, field: str | None = None, **params):
        self.code = code
        self.field = field
        self.message = MESSAGES[code] % params if params else MESSAGES[code]
        super().__init__(code)
