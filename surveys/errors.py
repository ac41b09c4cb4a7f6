"""Errors that families and coordinators see in questionnaires, with their messages
in one place.

``SurveyError.field`` names the form field (or the question key) the message belongs
to (None: the whole form). The API maps codes ending ``_missing`` / ``_not_found``
to 404.
"""

from django.utils.translation import gettext_lazy as _

MESSAGES = {
    # who and what
    "no_family": _("请先完善家庭信息（监护人资料）后再填写问卷。"),
    "survey_missing": _("没有找到这份问卷。"),
    "template_missing": _("没有找到这个问卷模板。"),
    "section_missing": _("没有找到这个部分。"),
    "question_missing": _("没有找到这道题目。"),
    "target_missing": _("没有找到问卷所针对的%(what)s。"),
    "term_missing": _("请选择学期。"),
    "not_allowed": _("您没有管理这份问卷的权限。"),
    "template_not_allowed": _("您没有修改这个问卷模板的权限。"),
    # answering
    "not_eligible": _("这份问卷只请参加了相关课程或活动的家庭填写。"),
    "not_open": _("这份问卷还没有开始，开始时间为 %(opens)s。"),
    "closed": _("这份问卷已截止，感谢您的关注。"),
    "not_published": _("这份问卷尚未发布。"),
    "already_answered": _("您的家庭已经填写过这份问卷，每个家庭只能填写一次。"),
    "answer_required": _("请回答“%(question)s”。"),
    "answer_invalid": _("“%(question)s”的答案无效，请重新选择。"),
    "rating_invalid": _("“%(question)s”请选择 1 到 5 之间的分数。"),
    "nps_invalid": _("“%(question)s”请选择 0 到 10 之间的分数。"),
    "choice_invalid": _("“%(question)s”请从给出的选项中选择。"),
    "text_invalid": _("“%(question)s”请填写文字。"),
    "text_too_long": _("“%(question)s”不能超过 %(n)s 个字。"),
    "text_control_chars": _("“%(question)s”含有无法保存的特殊字符，请删除后重新填写。"),
    "question_unknown": _("问卷中没有代码为“%(key)s”的题目，请刷新页面后重新填写。"),
    "answers_invalid": _("答案格式不正确，请刷新页面后重新填写。"),
    "step_invalid": _("进度须为不小于 0 的整数。"),
    "busy": _("系统正忙，请稍后再试。"),
    # surveys (coordinators)
    "scope_invalid": _("请选择问卷对象（课程场次、活动、课程、家长学校学期或联盟学期）。"),
    "offering_not_session": _("所选场次不是课程场次，请选择一个课程场次。"),
    "offering_not_event": _("所选名额不是活动，请选择一个活动。"),
    "title_too_long": _("标题不能超过 %(n)s 个字。"),
    "window_invalid": _("截止时间须晚于开始时间。"),
    "window_required": _("请填写问卷的开始时间和截止时间。"),
    "delay_invalid": _("邀请延迟须为 0 到 10080 之间的分钟数。"),
    "answer_days_invalid": _("可作答天数须为 1 到 90 之间的整数。"),
    "template_empty": _("问卷模板“%(name)s”还没有题目，请先添加题目。"),
    "template_inactive": _("问卷模板“%(name)s”已停用。"),
    "already_published": _("这份问卷已经发布。"),
    "survey_duplicate": _("所选对象已经有一份使用问卷模板“%(name)s”的问卷，请勿重复添加。"),
    "series_not_answerable": _("课程问卷由每个场次分别填写，请选择具体场次的问卷。"),
    # templates
    "name_required": _("请填写模板名称。"),
    "name_too_long": _("模板名称不能超过 %(n)s 个字。"),
    "name_taken": _("已有同名的问卷模板“%(name)s”。"),
    "description_too_long": _("模板说明不能超过 %(n)s 个字。"),
    "section_title_required": _("请填写部分标题。"),
    "section_title_too_long": _("部分标题不能超过 %(n)s 个字。"),
    "section_not_empty": _("“%(title)s”中还有题目，请先删除或移走这些题目。"),
    "kind_invalid": _("请选择题型（单选、多选、评分、推荐度、简答或详答）。"),
    "label_required": _("请填写题目。"),
    "label_too_long": _("题目不能超过 %(n)s 个字。"),
    "help_text_too_long": _("提示不能超过 %(n)s 个字。"),
    "options_count": _("单选、多选题须有 %(min)s 到 %(max)s 个选项。"),
    "options_not_allowed": _("只有单选、多选题可以设置选项。"),
    "option_empty": _("第 %(n)s 个选项是空的，请填写或删除它。"),
    "option_too_long": _("第 %(n)s 个选项不能超过 %(max)s 个字。"),
    "option_duplicate": _("选项“%(option)s”重复了。"),
    "show_if_invalid": _("显示条件只能选择本题之前的单选、多选、评分或推荐度题目。"),
    "show_if_values_required": _("请选择显示条件的答案。"),
    "show_if_values_invalid": _("显示条件的答案不在“%(question)s”的可选范围内。"),
    "measure_needs_rating": _("只有评分（1–5）题可以计入满意度考核。"),
    "measure_invalid": _("请选择有效的考核指标。"),
    "direction_invalid": _("请选择上移或下移。"),
    "question_is_condition": _("“%(question)s”是其他题目的显示条件，请先修改那些题目。"),
    # results
    "anonymous_no_raw": _("匿名问卷不提供逐份答卷，只能查看和导出汇总结果。"),
}


class SurveyError(Exception):
    """A questionnaire rule was broken; ``message`` is ready to show, ``field``
    names the field or question key it belongs to."""

    def __init__(self, code: str, field: str | None = None, **params):
        self.code = code
        self.field = field
        self.params = params
        self.message = MESSAGES[code] % params if params else MESSAGES[code]
        super().__init__(code)

    def __str__(self) -> str:
        return str(self.message)
