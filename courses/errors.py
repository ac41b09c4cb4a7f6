"""Errors that families and staff see in the courses app, with their messages in one place."""

from django.utils.translation import gettext_lazy as _

MESSAGES = {
    "checkin_invalid": _("签到二维码无效，请重新扫描现场的二维码。"),
    "checkin_expired": _("签到二维码已过期，请重新扫描现场的二维码。"),
    "checkin_not_open": _(
        "现在还不能签到：签到将于 %(opens)s（课程开始前 %(minutes)s 分钟）开放。"
    ),
    "checkin_ended": _(
        "扫码签到已于 %(closes)s（课程结束时）截止；如确实到场，请联系工作人员在签到名单上登记。"
    ),
    "checkin_not_booked": _("您的家庭没有该场次的正式报名，无法签到。"),
    "checkin_done": _("您的家庭已经签到过了。"),
    "no_family": _("请先完善家庭信息（监护人资料），再报名或签到。"),
    "already_reversed": _("这条学分记录已被冲正。"),
    "not_reversible": _("冲正记录本身不能再冲正。"),
    "bad_progress": _("观看进度无效。"),
    "lesson_not_tracked": _("这节微课是外部链接，本站无法统计观看时长，不计学分。"),
    "session_not_editable": _("您无权管理该场次。"),
    "course_missing": _("找不到该课程。"),
    "course_not_editable": _("您无权发布或撤回该课程。"),
}


class CourseError(Exception):
    """A course rule was broken; ``message`` is ready to show to the user."""

    def __init__(self, code: str, **params):
        self.code = code
        # Messages that name a time or a number take them as ``params``.
        self.message = MESSAGES[code] % params if params else MESSAGES[code]
        super().__init__(code)
