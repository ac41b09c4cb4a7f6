"""Errors that families and staff see in the courses app, with their messages in one place."""

from django.utils.translation import gettext_lazy as _

MESSAGES = {
    "checkin_invalid": _("签到二维码无效，请重新扫描现场的二维码。"),
    "checkin_expired": _("签到二维码已过期，请重新扫描现场的二维码。"),
    "checkin_not_open": _("现在不在签到时间内（课程开始前 30 分钟至结束）。"),
    "checkin_not_booked": _("您的家庭没有该场次的正式报名，无法签到。"),
    "checkin_done": _("您的家庭已经签到过了。"),
    "no_family": _("请先完善家庭信息（监护人资料），再报名或签到。"),
    "already_reversed": _("这条学分记录已被冲正。"),
    "not_reversible": _("冲正记录本身不能再冲正。"),
    "bad_progress": _("观看进度无效。"),
    "session_not_editable": _("您无权管理该场次。"),
    "course_missing": _("找不到该课程。"),
    "course_not_editable": _("您无权发布或撤回该课程。"),
}


class CourseError(Exception):
    """A course rule was broken; ``message`` is ready to show to the user."""

    def __init__(self, code: str):
        self.code = code
        self.message = MESSAGES[code]
        super().__init__(code)
