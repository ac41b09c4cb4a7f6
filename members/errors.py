"""Errors that guardians and coordinators see in the members app, with their
messages in one place. Views turn a ``MembersError`` into a message, never a 500.

Other members-app features may append their own codes here.
"""

from django.utils.translation import gettext_lazy as _

MESSAGES = {
    # families
    "already_in_family": _("您已经是一个家庭的监护人了。"),
    "no_family": _("请先填写监护人信息，建立您的家庭。"),
    "consent_required": _("添加孩子信息前，请先阅读并同意《儿童个人信息保护规则》。"),
    "birth_year_out_of_range": _("请填写孩子的出生年份（最近20年内）。"),
    "not_a_school": _("请选择一所学校或幼儿园。"),
    "child_missing": _("找不到该孩子的信息。"),
    # invitations
    "invite_needs_one_contact": _("请填写手机号码或电子邮箱中的一项。"),
    "invite_already_guardian": _("该联系人已经是本家庭的监护人。"),
    "too_many_invitations": _("待接受的邀请太多了，请先撤回不用的邀请。"),
    "invitation_invalid": _("邀请链接无效、已过期或已被使用。"),
    "invitation_not_for_you": _("这份邀请发给了 %(contact)s，请用该手机号或邮箱登录后再接受。"),
    "invitation_own_family": _("您已经是这个家庭的监护人了。"),
    # accounts
    "account_has_duties": _("该账号仍担任讲师或协调员等角色，请联系管理员处理后再注销。"),
    # rosters: revealing a family's full phone number (members.services.guardian_phones_reveal)
    "phone_reveal_limit": _(
        "一小时内最多可查看 %(limit)s 个完整手机号，您已达到上限，请稍后再试。"
        "遮盖的号码仍可在名单上核对。"
    ),
    # API tokens (members.services.api_token_create / api_token_revoke)
    "token_bad_scopes": _("请至少选择一项权限：查看、报名与修改或签到。"),
    "token_device_scopes": _("签到设备令牌只能用于签到。"),
    "token_device_unit": _("请选择您管理的一个单位作为签到设备的单位。"),
    "token_too_many": _("有效的令牌最多 %(limit)s 个，请先撤销不用的令牌。"),
    "token_not_yours": _("您无权撤销这个令牌。"),
    "token_name_required": _("请给令牌起个名字，例如“家里的平板”。"),
    # admin pickers (members/admin_scoping.py)
    "pick_out_of_scope": _("所选的%(model)s不存在，或不在您的管理范围内。"),
}


class MembersError(Exception):
    """A members rule was broken; ``message`` is ready to show to the user."""

    def __init__(self, code: str, **params):
        self.code = code
        message = MESSAGES[code]
        self.message = message % params if params else message
        super().__init__(code)
