"""Errors that families, mentors and the station's staff see, with their messages
in one place. ``GuidanceError.field`` names the form field (None: the whole form);
the API maps codes ending ``_missing`` to 404."""

from django.utils.translation import gettext_lazy as _

MESSAGES = {
    "busy": _("现在预约的人较多，请稍后再试一次。"),
    "not_allowed": _("您没有权限进行这项操作。"),
    "no_family": _("请先完善家庭信息（监护人资料）后再预约。"),
    "station_missing": _("没有找到这个指导站。"),
    "unit_missing": _("请选择指导站所在的单位。"),
    "station_exists": _("这个单位已经有指导站了，一个单位只设一个指导站。"),
    "mentor_missing": _("没有找到这位导师。"),
    "slot_missing": _("没有找到这个咨询时段，或它已不能预约。"),
    "consultation_missing": _("没有找到这次咨询预约，或您没有查看权限。"),
    "note_missing": _("没有找到这条记录，或您没有查看权限。"),
    "referral_missing": _("没有找到这条转介，或它已经处理过了。"),
    "followup_missing": _("没有找到这条回访提醒。"),
    # limits per family (the database enforces them: guidance.models.GuidanceQuota)
    "open_limit": _(
        "每个家庭在本站同时最多有 %(n)s 个未完成的咨询预约，请先完成或取消已有的预约。"
    ),
    "term_limit": _(
        "每个家庭每学期在本站最多预约 %(n)s 次咨询，本学期已达上限。如确有需要，请联系首席导师。"
    ),
    # booking fields
    "area_invalid": _("请选择指导领域。"),
    "for_whom_invalid": _("请选择为谁预约：家长本人、孩子或教师。"),
    "child_required": _("为孩子预约时，请选择是哪个孩子。"),
    "child_invalid": _("请选择您家庭里的孩子。"),
    "need_required": _("请简单写几句想咨询的问题，方便导师提前准备。"),
    "need_too_long": _("咨询需求不能超过 %(n)s 个字。"),
    "area_not_served": _("这位导师不负责这个领域，请选择其他导师。"),
    "teacher_only": _("只有教师可以以教师身份预约。"),
    # stations, mentors, slots, booking, referrals, limits
    "text_too_long": _("这一项不能超过 %(n)s 个字。"),
    "name_required": _("请填写名称。"),
    "limit_invalid": _("预约上限请填写 1 到 99 之间的整数。"),
    "areas_invalid": _("请从五大指导领域中选择至少一项。"),
    "audiences_invalid": _("请选择服务对象：学生、家长或教师。"),
    "modes_invalid": _("请选择咨询方式：面谈、电话或线上。"),
    "stages_invalid": _("请选择有效的学段。"),
    "url_invalid": _("线上链接请以 http:// 或 https:// 开头。"),
    "login_invalid": _("没有找到这个登录账号。"),
    "instructor_invalid": _("没有找到这份讲师/志愿者档案。"),
    "chief_exists": _("本站已有首席导师，一个指导站只能有一位首席导师。"),
    "login_taken": _("这个登录账号已经是本站的导师。"),
    "minutes_invalid": _("时长请填写 %(low)s 到 %(high)s 分钟。"),
    "kind_invalid": _("请选择形式：一对一或小组。"),
    "capacity_invalid": _("名额请填写 1 到 %(n)s 之间的整数（一对一只能是 1）。"),
    "mode_invalid": _("请选择咨询方式：面谈、电话或线上。"),
    "venue_required": _("面谈请填写地点。"),
    "online_url_required": _("线上咨询请填写线上链接。"),
    "starts_at_invalid": _("请填写开始时间，例如 2026-03-05 15:00。"),
    "starts_at_past": _("开始时间已经过去，请选择以后的时间。"),
    "date_invalid": _("请填写日期，例如 2026-03-05。"),
    "time_invalid": _("请填写时间，例如 15:00。"),
    "weekday_invalid": _("请选择星期几。"),
    "last_date_invalid": _("结束日期不能早于起始日期。"),
    "referral_other_mentor": _("这条转介指定了另一位导师，请预约那位导师的时段。"),
    "consultation_closed": _("这次咨询已经结束或取消，不能再这样操作。"),
    "family_missing": _("没有找到这个家庭在本站的咨询记录。"),
    "lift_invalid": _("增加的次数请填写 0 到 20 之间的整数。"),
    "lift_empty": _("请至少增加一项次数。"),
    "no_term": _("当前没有设置学期，暂时不能调整上限。"),
    # notes, follow-ups
    "note_level_invalid": _("请选择记录级别：共享摘要、导师私密记录或限阅记录。"),
    "note_required": _("请填写记录内容。"),
    "note_too_long": _("记录内容不能超过 %(n)s 个字。"),
    "due_at_invalid": _("请填写回访提醒时间，例如 2026-03-05 15:00。"),
    "due_at_past": _("回访提醒时间已经过去，请选择以后的时间。"),
    "followup_closed": _("这条回访提醒已经发出、完成或取消，不能再这样操作。"),
}


class GuidanceError(Exception):
    """A station rule was broken; ``message`` is ready to show, ``field`` names the field."""

    def __init__(self, code: str, field: str | None = None, **params):
        self.code = code
        self.field = field
        self.message = MESSAGES[code] % params if params else MESSAGES[code]
        super().__init__(code)
