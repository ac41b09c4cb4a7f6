"""Errors coordinators see on the report pages, with their messages in one place."""

from django.utils.translation import gettext_lazy as _

MESSAGES = {
    "no_term": _("还没有学期，请先在后台添加学期。"),
    "unknown_term": _("找不到该学期，请从列表中选择。"),
    "unknown_unit": _("找不到该单位，或您无权查看该单位。"),
    "bad_format": _("导出格式只能是 xlsx 或 csv。"),
    "rollup_running": _("统计正在重新计算中，请稍候。"),
    "job_failed": _("任务失败，请稍后重试或联系管理员。"),
    "no_units": _("您的账号还没有可查看的单位。"),
}


class ReportError(Exception):
    """A report rule was broken; ``message`` is ready to show to the user."""

    def __init__(self, code: str):
        self.code = code
        self.message = MESSAGES[code]
        super().__init__(code)
