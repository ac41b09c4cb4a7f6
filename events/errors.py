"""Errors that coordinators and families see on event pages, with their messages in one place."""

from django.utils.translation import gettext_lazy as _

MESSAGES = {
    "ends_before_start": _("结束时间须晚于开始时间。"),
    "closes_after_start": _("报名截止时间不能晚于活动开始时间。"),
    "closes_before_opens": _("报名截止时间须晚于报名开始时间。"),
    "needs_place": _("请填写活动地点或线上链接。"),
    "bad_capacity": _("名额须为正整数。"),
    "not_published": _("该活动尚未发布或已取消，不能报名。"),
    "already_cancelled": _("该活动已取消。"),
    "cannot_change_unit": _("您只能管理本单位（或本联盟成员单位）的活动。"),
    "no_family": _("请先完善家庭信息（监护人资料）后再报名。"),
    "bad_offsets": _("提醒时间请填写小时数，用逗号分隔，例如“24,2”。"),
    "checkin_closed": _("现在不在签到时间内（活动开始前 %(minutes)s 分钟至结束）。"),
    "checkin_bad_code": _("签到码无效，请扫描现场最新的二维码。"),
    "checkin_expired": _("这个签到二维码已过期，请扫描现场屏幕上最新的二维码。"),
    "ticket_bad_code": _("票号无效，请核对后重新输入或重新扫描。"),
    "ticket_other_event": _("这张票属于另一场活动（%(title)s），不能在本活动签到。"),
    "ticket_cancelled": _("这张票对应的报名已取消，不能签到。"),
    "ticket_waiting": _("这户家庭仍在候补名单中，尚未获得名额，不能签到。"),
    "not_registered": _("您的家庭没有该活动的已确认报名。"),
    "finished": _("活动已开始或已结束，不能修改时间。"),
}


class EventError(Exception):
    """An event rule was broken; ``message`` is ready to show to the user."""

    def __init__(self, code: str, **params):
        self.code = code
        # Messages that name a title or a number take them as ``params``.
        self.message = MESSAGES[code] % params if params else MESSAGES[code]
        super().__init__(code)
