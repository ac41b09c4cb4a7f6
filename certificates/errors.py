"""Errors that holders, coordinators and verifiers see about certificates, with
their messages in one place. ``CertificateError.field`` names the form field
(None: the whole form); codes ending ``_missing`` are a 404 on the pages."""

from django.utils.translation import gettext_lazy as _

MESSAGES = {
    "busy": _("现在操作的人较多，请稍后再试一次。"),
    "not_allowed": _("您没有权限进行这项操作。"),
    "certificate_missing": _("没有找到这份证书，或您没有查看权限。"),
    "batch_missing": _("没有找到这个发放批次，或您没有查看权限。"),
    # SECTION issuance (helper C)
    "alliance_missing": _("没有找到这个联盟，或您没有发放证书的权限。"),
    "term_missing": _("没有找到这个学期，请重新选择。"),
    "no_rules": _("这个联盟还没有启用的证书规则，请先在管理后台的「证书规则」里设置。"),
    "trigger_invalid": _("发起方式不正确。"),
    "reason_required": _("请填写原因。"),
    "reason_too_long": _("原因最多 %(max)s 个字。"),
    "not_valid": _("只有有效的证书才能撤销或重新发放，这份证书已撤销或已被替换。"),
    "kind_invalid": _("请选择证书类别。"),
    "attendance_percent_invalid": _("出席比例须是 1 到 100 之间的整数。"),
    "credits_min_invalid": _("学分门槛须大于 0，最多一位小数。"),
    "credits_min_required": _("启用学期学分达标证书须填写学分门槛。"),
    "hours_min_invalid": _("服务时长门槛须大于 0，最多一位小数。"),
    "hours_min_required": _("启用志愿服务证书须填写服务时长门槛。"),
    # END SECTION issuance
    # SECTION documents (helper B)
    "seal_invalid": _("印章图片：无法识别这个文件，请上传 PNG 或 JPG 图片（透明底的 PNG 最好）。"),
    "seal_too_large": _("印章图片：文件太大，请上传不超过 %(mb)s MB 的图片。"),
    "issuer_name_too_long": _("落款名称最多 %(max)s 个字。"),
    "signatory_too_long": _("签发人最多 %(max)s 个字。"),
    "footer_too_long": _("页脚说明最多 %(max)s 个字。"),
    # END SECTION documents
    # SECTION holder (helper D)
    "family_missing": _("请先完善家庭信息（监护人资料），再生成成绩单或设置证书偏好。"),
    "no_credits": _("您的家庭还没有学分记录。出席课程或完成线上微课后，就可以生成成绩单。"),
    "no_issuer": _("您的学分所在的家长学校还没有加入联盟，暂时不能出具成绩单。"),
    "transcript_revoked": _("内容相同的成绩单已被撤销，暂时不能再生成；如有疑问，请联系%(unit)s。"),
    "code_missing": _("没有找到这个验证码的证书，请核对证书上的验证码后再试。"),
    # END SECTION holder
    # SECTION credentials (helper A)
    # END SECTION credentials
}


class CertificateError(Exception):
    """A certificate rule was broken; ``message`` is ready to show, ``field`` names the field."""

    def __init__(self, code: str, field: str | None = None, **params):
        self.code = code
        self.field = field
        self.message = MESSAGES[code] % params if params else MESSAGES[code]
        super().__init__(code)
