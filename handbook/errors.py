"""Errors that families and verifiers see in the handbook, with their messages in one place.

``HandbookError.field`` names the form field the message belongs to (None: the
whole form). The API maps codes ending ``_missing`` / ``_not_found`` to 404.
"""

from django.utils.translation import gettext_lazy as _

MESSAGES = {
    # who and what
    "no_family": _("请先完善家庭信息（监护人资料）后再使用成长手册。"),
    "no_term": _("当前没有进行中的学期，暂时不能申报。"),
    "item_missing": _("请选择本手册中的一个在用项目。"),
    "child_missing": _("请选择您家庭中的孩子，或不选择。"),
    "claim_missing": _("没有找到这条申报记录。"),
    "no_verifier": _("请先在家庭信息中填写孩子就读的学校，学校老师才能审核您的申报。"),
    # the date
    "date_missing": _("请填写日期。"),
    "date_future": _("日期不能晚于今天。"),
    "date_outside_term": _("日期须在本学期内（%(starts)s 至 %(ends)s）。"),
    # evidence
    "attendance_only": _("这个项目根据您参加活动或课程的签到记录自动生成，无需手动申报。"),
    "note_required": _("请填写说明（这个项目需要文字说明）。"),
    "note_too_long": _("说明不能超过 %(n)s 个字。"),
    "photo_required": _("请上传一张照片（这个项目需要照片）。"),
    "photo_too_large": _("照片不能超过 %(mb)s MB，请压缩后重新上传。"),
    "photo_not_image": _("照片无法识别，请上传 JPG、PNG 或 WebP 格式的图片。"),
    # limits (held in the database, per family)
    "limit_day": _("“%(item)s”每户每天最多申报 %(n)s 次，今天已达上限。"),
    "limit_week": _("“%(item)s”每户每周最多申报 %(n)s 次，本周已达上限。"),
    "limit_term": _("“%(item)s”每户每学期最多申报 %(n)s 次，本学期已达上限。"),
    # the family's changes
    "not_withdrawable": _("只有待审核或需补充的申报可以撤回。"),
    "not_awaiting_more": _("这条申报没有需要补充的内容。"),
    "respond_empty": _("请补充说明或上传照片。"),
    # verification
    "bad_decision": _("请选择通过、不通过或需补充。"),
    "reason_required": _("请填写审核意见（不通过或需补充时必须说明原因）。"),
    "reason_too_long": _("审核意见不能超过 %(n)s 个字。"),
    "self_decision": _("您不能审核自己家庭或自己提交的申报。"),
    "already_decided": _("这条申报已经审核过了（%(status)s）。"),
    "not_attendance": _("批量通过只适用于根据签到记录自动生成的申报。"),
    "attendance_undone": _(
        "这条申报所依据的签到记录已撤销（或报名已取消），不能通过；系统会自动撤回它。"
    ),
    "busy": _("系统正忙，请稍后再试。"),
    # items (coordinators)
    "not_coordinator": _("只有本联盟的协调员可以修改联盟的手册项目。"),
    "alliance_missing": _("没有找到这个联盟。"),
    "name_required": _("请填写项目名称。"),
    "name_taken": _("本手册中已有同类别、同名称的项目。"),
    "bad_kind": _("请选择项目类别（在家陪伴、在校陪伴或陪伴好行为）。"),
    "bad_evidence": _("请选择项目所需的凭证。"),
    "bad_points": _("积分须为 1 到 100 之间的整数。"),
    "bad_position": _("排序须为 0 到 32767 之间的整数。"),
    "description_too_long": _("项目说明不能超过 %(n)s 个字。"),
    "evidence_needs_match": _("“门户签到记录”凭证须同时选择自动关联签到的类型。"),
    "match_needs_attendance": _("自动关联签到的项目，所需凭证须为“门户签到记录”。"),
    "bad_limit": _("次数上限须为正整数，或留空表示不限。"),
    "bad_match": _("请选择自动关联签到的类型。"),
    "bad_event_kinds": _("请选择有效的活动类型。"),
    "match_needs_school": _("只有在校陪伴项目可以自动关联签到记录。"),
}


class HandbookError(Exception):
    """A handbook rule was broken; ``message`` is ready to show, ``field`` names the field."""

    def __init__(self, code: str, field: str | None = None, **params):
        self.code = code
        self.field = field
        # Messages that name an item, a number or a date take them as ``params``.
        self.message = MESSAGES[code] % params if params else MESSAGES[code]
        super().__init__(code)
