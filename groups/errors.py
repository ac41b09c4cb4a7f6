"""Errors that families and facilitators see in buddy groups, with their messages
in one place. ``GroupError.field`` names the form field (None: the whole form);
the API maps codes ending ``_missing`` to 404."""

from django.utils.translation import gettext_lazy as _

MESSAGES = {
    "no_family": _("请先完善家庭信息（监护人资料）后再加入小组。"),
    "group_missing": _("没有找到这个小组，或您没有查看权限。"),
    "group_full": _("这个小组已满员（最多 %(n)s 个）。"),
    "group_dissolved": _("这个小组已经解散。"),
    "quota_reached": _("每个家庭（或孩子）最多参加 %(n)s 个%(kind)s，已达上限。"),
    "not_allowed": _("您没有权限进行这项操作。"),
    # groups.services (helper 3)
    "busy": _("现在操作的人较多，请稍后再试一次。"),
    "school_missing": _("请选择一所您负责的家长学校。"),
    "kind_invalid": _("请选择小组类型：家伴小组或学伴小组。"),
    "joining_invalid": _("请选择加入方式。"),
    "name_required": _("请填写小组名称。"),
    "name_too_long": _("小组名称不能超过 %(n)s 个字。"),
    "description_too_long": _("小组介绍不能超过 %(n)s 个字。"),
    "size_invalid": _("请填写 1 到 %(n)s 之间的整数。"),
    "sizes_invalid": _("最少成员数不能大于最多成员数。"),
    "max_below_members": _("小组现在已有 %(n)s 个成员，最多成员数不能少于这个数。"),
    "facilitator_role_invalid": _("请选择带领人身份：讲师、导师或志愿者。"),
    "facilitator_invalid": _("带领人须是能看到这所家长学校的讲师或工作人员。"),
    "facilitator_only": _("这个小组由带领人添加成员，请联系带领人。"),
    "already_member": _("您（或这个孩子）已经在这个小组里了。"),
    "already_requested": _("您已经申请过了，请等待带领人处理。"),
    "child_required": _("学伴小组请选择参加的孩子。"),
    "child_invalid": _("请选择您家庭里的孩子。"),
    "child_not_wanted": _("家伴小组以家庭为单位参加，不需要选择孩子。"),
    "not_member": _("您不是这个小组的成员。"),
    "request_missing": _("没有找到这条加入申请，或它已经处理过了。"),
    "membership_missing": _("没有找到这位成员，或 TA 已经不在小组里了。"),
    "phone_invalid": _("请填写 11 位手机号码。"),
    "phone_unknown": _(
        "在您能看到的家庭里没有找到这个手机号的家长，请核对号码，或请家长先在本平台登记。"
    ),
    "reason_too_long": _("原因不能超过 %(n)s 个字。"),
    "already_dissolved": _("这个小组已经解散了。"),
    "session_missing": _("没有找到这次小组活动，或您没有查看权限。"),
    "session_title_required": _("请填写活动名称。"),
    "session_times_invalid": _("请填写开始和结束时间，结束时间要晚于开始时间。"),
    "session_capacity_invalid": _("名额请填写 1 到 500 之间的整数。"),
    "session_url_invalid": _("线上链接须以 https:// 或 http:// 开头。"),
    "booking_missing": _("没有找到这条预约。"),
    "child_ambiguous": _("这个家庭没有或有不止一个孩子的信息，请家长在小组页自己选择孩子加入。"),
}


class GroupError(Exception):
    """A group rule was broken; ``message`` is ready to show, ``field`` names the field."""

    def __init__(self, code: str, field: str | None = None, **params):
        self.code = code
        self.field = field
        self.message = MESSAGES[code] % params if params else MESSAGES[code]
        super().__init__(code)
