"""Errors coordinators and families see on the learning-family and commendation
pages, with their messages in one place (the API answers them through
``api.core.register_rule_errors(RecognitionError)``; codes ending in
``_missing`` are 404s there)."""

from django.utils.translation import gettext_lazy as _

MESSAGES = {
    "alliance_missing": _("没有找到该联盟，或您无权管理它。"),
    "term_missing": _("没有找到该学期。"),
    "list_missing": _("没有找到该名单，或您无权查看它。"),
    "entry_missing": _("没有找到该家庭条目，或您无权调整它。"),
    "commendation_missing": _("没有找到该推荐，或您无权修改它。"),
    "guardian_missing": _("没有找到该家长，或该家长的孩子不在您的单位。"),
    "not_alliance_coordinator": _("只有本联盟的协调员或区管理员可以这样做。"),
    "no_rule": _("请先设置本联盟本学期的学习型家庭评选标准，再计算名单。"),
    "list_published": _("名单已发布，不能再重新计算或调整。"),
    "already_published": _("名单已经发布过了。"),
    "not_published": _("名单尚未发布。"),
    "reason_required": _("与计算结果不同的调整须填写理由。"),
    "reason_too_long": _("理由不能超过 %(n)s 个字。"),
    "bad_number": _("%(label)s须是不小于 0 的数字。"),
    "number_too_large": _("%(label)s不能超过 %(n)s。"),
    "bad_credits_step": _("%(label)s最多保留一位小数。"),
    "unit_not_member": _("推荐单位须是本联盟的在册成员单位。"),
    "unit_not_allowed": _("您只能以自己协调的单位推荐家长。"),
    "commendation_exists": _("该家长本学期已被推荐为优秀家长。"),
    "commendation_reason_required": _("请填写推荐理由。"),
    "not_computed": _("名单尚未计算，请先计算再发布。"),
    "busy": _("名单正在被其他人处理，请稍后再试。"),
}


class RecognitionError(Exception):
    """A learning-family or commendation rule was broken; ``message`` is ready to
    show, ``field`` names the form field at fault (or None)."""

    def __init__(self, code: str, *, field: str | None = None, **params):
        self.code = code
        self.field = field
        self.params = params
        self.message = MESSAGES[code] % params if params else MESSAGES[code]
        super().__init__(code)
