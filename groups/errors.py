"""Errors that families and facilitators see in buddy groups, with their messages
in one place. ``GroupError.field`` names the form field (None: the whole form);
the API maps codes ending ``_missing`` to 404."""

from django.utils.translation import gettext_lazy as _

MESSAGES = {
    "no_family": _("请先完善家庭信息（监护人资料）后再加入小组。"),
    "group_missing": _("没有找到这个小组，或您没有查看权限。"),
    "group_full": _("这个小组已满员（最多 %(n)s 个）。"),
    "group_dissolved": _("这个小组已经解散。"),
    "quota_reached": _("每个家庭（或孩子）最多参加 %(n)s 个%(kind)s，已达上限。"),
    "not_allowed": _("您没有权限进行这项操作。"),
}


class GroupError(Exception):
    """A group rule was broken; ``message`` is ready to show, ``field`` names the field."""

    def __init__(self, code: str, field: str | None = None, **params):
        self.code = code
        self.field = field
        self.message = MESSAGES[code] % params if params else MESSAGES[code]
        super().__init__(code)
