"""Errors of the evaluation loop, with their messages in one place.

``EvaluationError.field`` names the form field the message belongs to (None: the
whole form). Codes ending ``_missing`` / ``_not_found`` mean "not there, or not
yours": pages answer them with 404.
"""

from django.utils.translation import gettext_lazy as _

MESSAGES = {
    # what the request names
    "unit_missing": _("没有找到这个单位，或您无权查看。"),
    "term_missing": _("没有找到这个学期。"),
    "responsibility_missing": _("请选择一项在用的工作职责。"),
    "feedback_missing": _("没有找到这条反馈，或您无权查看。"),
    "action_missing": _("没有找到这条改进措施，或您无权查看。"),
    # who may do it
    "not_target_setter": _("只有区级管理员或该单位所在联盟的协调员可以设定目标。"),
    "not_feedback_writer": _("只有区级管理员或该单位所在联盟的协调员可以填写考核反馈。"),
    "not_unit_coordinator": _("只有本单位的协调员可以确认反馈和填写改进措施。"),
    "not_district_admin": _("只有市级管理员可以修改工作职责清单。"),
    # 定标: values
    "value_missing": _("请填写目标值。"),
    "value_not_number": _("目标值须是数字。"),
    "value_not_whole": _("“%(name)s”的目标值须是整数。"),
    "value_out_of_range": _("“%(name)s”的目标值须在 %(low)s 到 %(high)s 之间。"),
    "value_one_decimal": _("目标值最多保留一位小数。"),
    # responsibilities
    "code_missing": _("请填写代码（字母、数字、短横线）。"),
    "code_bad": _("代码只能用小写字母、数字、短横线和下划线。"),
    "code_taken": _("已有同一代码的工作职责。"),
    "name_missing": _("请填写名称。"),
    "name_too_long": _("名称不能超过 %(n)s 个字。"),
    "description_too_long": _("说明不能超过 %(n)s 个字。"),
    "metric_bad": _("请选择衡量指标。"),
    "metric_fixed": _("这项职责已有单位目标，不能更换衡量指标；请新增一项职责。"),
    "position_bad": _("排序须为 0 到 32767 之间的整数。"),
    # 反馈
    "feedback_empty": _("请至少填写亮点或问题与不足中的一项。"),
    "strengths_too_long": _("亮点不能超过 %(n)s 个字。"),
    "problems_too_long": _("问题与不足不能超过 %(n)s 个字。"),
    "already_acknowledged": _("这条反馈已经确认过了（%(when)s）。"),
    "self_acknowledge": _("不能确认自己填写的反馈，请由本单位其他协调员确认。"),
    # 提升
    "what_missing": _("请填写改进措施。"),
    "what_too_long": _("改进措施不能超过 %(n)s 个字。"),
    "owner_missing": _("请填写负责人。"),
    "owner_too_long": _("负责人不能超过 %(n)s 个字。"),
    "due_missing": _("请填写完成期限（日期）。"),
    "due_past": _("完成期限不能早于今天（%(today)s）。"),
    "due_too_late": _("完成期限不能晚于 %(latest)s（本学期结束后一年内）。"),
    "feedback_other_unit": _("所选反馈不属于本单位本学期。"),
    "status_bad": _("请选择状态：计划中、进行中或已完成。"),
    "status_backwards": _("措施状态只能向前推进（计划中 → 进行中 → 已完成）。"),
    "status_done_already": _("这条措施已经完成，不能再修改。"),
    "status_unchanged": _("状态没有变化；如要记录进展，请填写说明。"),
    "evidence_required": _("标记为已完成时，请填写完成情况与佐证。"),
    "evidence_too_long": _("完成情况与佐证不能超过 %(n)s 个字。"),
    "note_too_long": _("说明不能超过 %(n)s 个字。"),
    "busy": _("系统正忙，请稍后再试。"),
}


class EvaluationError(Exception):
    """An evaluation rule was broken; ``message`` is ready to show, ``field`` names the field."""

    def __init__(self, code: str, field: str | None = None, **params):
        self.code = code
        self.field = field
        self.params = params
        self.message = MESSAGES[code] % params if params else MESSAGES[code]
        super().__init__(code)

    @property
    def is_not_found(self) -> bool:
        return self.code.endswith(("_missing", "_not_found")) and self.field is None
