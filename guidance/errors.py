"""Errors that families, mentors and the station's staff see, with their messages
in one place. ``GuidanceError.field`` names the form field (None: the whole form);
the API maps codes ending ``_missing`` to 404."""

from django.utils.translation import gettext_lazy as _

MESSAGES = {
    "busy": _("现在预约的人较多，请稍后再试一次。"),
    "not_allowed": _("您没有权限进行这项操作。"),
    "no_family": _("请先完善家庭信息（监护人资料）后再预约。"),
    "station_missing": _("没有找到这个指导站。"),
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
}


class GuidanceError(Exception):
    """A station rule was broken; ``message`` is ready to show, ``field`` names the field."""

    def __init__(self, code: str, field: str | None = None, **params):
        self.code = code
        self.field = field
        self.message = MESSAGES[code] % params if params else MESSAGES[code]
        super().__init__(code)
