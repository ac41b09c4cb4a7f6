"""Errors that applicants, volunteers and coordinators see in the volunteer corps,
with their messages in one place. ``VolunteerError.field`` names the form field
(None: the whole form); codes ending ``_missing`` are a 404 on the pages."""

from django.utils.translation import gettext_lazy as _

MESSAGES = {
    "busy": _("现在操作的人较多，请稍后再试一次。"),
    "not_allowed": _("您没有权限进行这项操作。"),
    "centre_missing": _("请选择要加入的指导中心。"),
    "application_missing": _("没有找到这份申请，或您没有查看权限。"),
    "hour_missing": _("没有找到这条服务时长记录，或您没有查看权限。"),
    "instructor_missing": _("没有找到这位志愿者。"),
    "station_missing": _("请选择这位志愿者担任导师的指导站。"),
    "already_applied": _("您已经向这个中心提交过申请，正在等待审核。"),
    "already_volunteer": _("您已经是这个中心的志愿者了。"),
    "already_decided": _("这份申请已经处理过了。"),
    "hour_decided": _("这条服务时长已经核实过了。"),
    "own_entry": _("不能核实自己登记的服务时长，请由其他协调员核实。"),
    # application fields
    "name_required": _("请填写姓名。"),
    "name_too_long": _("姓名不能超过 %(n)s 个字。"),
    "background_required": _("请简单介绍您的专业背景。"),
    "background_too_long": _("专业背景不能超过 %(n)s 个字。"),
    "expertise_required": _("请填写您擅长的方向。"),
    "expertise_too_long": _("擅长方向不能超过 %(n)s 个字。"),
    "areas_required": _("请至少选择一个指导领域。"),
    "areas_invalid": _("指导领域只能从五大指导领域中选择。"),
    "availability_required": _("请填写您方便服务的时间。"),
    "availability_too_long": _("可服务时间不能超过 %(n)s 个字。"),
    # decision fields
    "tier_required": _("请为这位志愿者选择层级：专家、教研或讲师。"),
    "serves_as_required": _("请选择服务方式：授课讲师或指导站导师。"),
    "note_too_long": _("审核说明不能超过 %(n)s 个字。"),
    # manual hours
    "served_on_required": _("请填写服务日期。"),
    "served_on_future": _("服务日期不能晚于今天。"),
    "served_on_no_term": _("服务日期不在任何学期内，请核对日期。"),
    "hours_invalid": _("时长请填写 0.5 到 24 之间的数字，以半小时为单位。"),
    "description_required": _("请说明做了什么服务（例如：社区家庭教育讲座）。"),
    "description_too_long": _("说明不能超过 %(n)s 个字。"),
}


class VolunteerError(Exception):
    """A volunteer-corps rule was broken; ``message`` is ready to show, ``field`` names the field."""

    def __init__(self, code: str, field: str | None = None, **params):
        self.code = code
        self.field = field
        self.message = MESSAGES[code] % params if params else MESSAGES[code]
        super().__init__(code)
