"""Errors that families and moderators see on the boards, with their messages in one place.

``CommunityError.field`` names the form field the message belongs to (None: the
whole form). The API maps codes ending ``_missing`` to 404. Add a code here with
its message; never build a message elsewhere.
"""

from django.utils.translation import gettext_lazy as _

MESSAGES = {
    # who
    "no_family": _("请先完善家庭信息（监护人资料）后再使用交流区。"),
    "phone_unverified": _(
        "按照网络发帖实名要求，请先验证手机号码后再发帖。其他家长只会看到您的交流区昵称。"
    ),
    "board_missing": _("没有找到这个交流区，或您没有查看权限。"),
    "thread_missing": _("没有找到这个帖子，或您没有查看权限。"),
    "post_missing": _("没有找到这条内容，或您没有查看权限。"),
    "board_archived": _("这个小组已经解散，交流区已归档，只能查看。"),
    "announcements_only": _("这里是联盟公告区，只有协调员可以发布。"),
    "not_allowed": _("您没有权限进行这项操作。"),
    "muted": _("您在这里暂时不能发言（至 %(until)s）。如有疑问，请联系家长学校。"),
    "thread_closed": _("这个帖子已关闭，不能再回复。"),
    # posting (helper 2: community.services)
    "busy": _("交流区正忙，请稍后再试。"),
    "kind_invalid": _("请选择帖子类型：提问或分享。"),
    "announcement_moderators": _("只有管理员可以发布公告。"),
    "thread_held": _("这个帖子还在审核中，暂时不能回复。"),
    "title_length": _("标题请写 %(min)s 到 %(max)s 个字。"),
    "body_empty": _("请填写内容。"),
    "body_too_long": _("内容不能超过 %(max)s 个字。"),
    "control_chars": _("“%(label)s”里有无法显示的特殊字符，请删除后再提交。"),
    "too_many_images": _("每条帖子最多上传 %(max)s 张图片。"),
    "image_too_large": _("图片不能超过 %(mb)s MB，请压缩后重新上传。"),
    "image_not_image": _("图片无法识别，请上传 JPG、PNG 或 WebP 格式的图片。"),
    "post_not_answer": _("只能采纳这个提问下已发布的回复。"),
    # nicknames
    "nickname_length": _("昵称请写 %(min)s 到 %(max)s 个字。"),
    "nickname_digits": _("昵称里不能有连续 5 位以上的数字（以免像电话号码）。"),
    "nickname_reserved": _("昵称里不能有“%(word)s”，以免其他家长误以为是老师或管理员。"),
    "nickname_sensitive": _("这个昵称不合适，请换一个。"),
    "nickname_taken": _("这个昵称已经有人用了，请换一个。"),
    # reports and decisions
    "report_reason": _("请选择举报原因。"),
    "report_own": _("不能举报自己发的内容。"),
    "detail_too_long": _("补充说明不能超过 %(max)s 个字。"),
    "action_invalid": _("请选择处理方式：通过、隐藏、警告、禁言或驳回举报。"),
    "reason_required": _("请填写理由，会告知发帖人。"),
    "reason_too_long": _("理由不能超过 %(max)s 个字。"),
    "mute_days": _("禁言天数请填 1 到 %(max)s 之间的整数。"),
    "mute_family_only": _("只能对家长禁言。"),
    "hold_first_posts": _("“新成员前几条先审后发”请填 0 到 %(max)s 之间的整数。"),
    # the sensitive-word list
    "word_empty": _("请填写敏感词（只算文字和数字）。"),
    "word_too_long": _("敏感词不能超过 %(max)s 个字。"),
    "word_duplicate": _("敏感词“%(word)s”已经在词表里了。"),
    "word_missing": _("没有找到这个敏感词。"),
    "category_invalid": _("请选择敏感词类别。"),
    "note_too_long": _("备注不能超过 %(max)s 个字。"),
    "import_invalid": _("导入未完成，没有写入任何内容：%(errors)s"),
    "import_row": _("第 %(row)s 行“%(column)s”：%(why)s"),
}


class CommunityError(Exception):
    """A board rule was broken; ``message`` is ready to show, ``field`` names the field."""

    def __init__(self, code: str, field: str | None = None, **params):
        self.code = code
        self.field = field
        self.message = MESSAGES[code] % params if params else MESSAGES[code]
        super().__init__(code)
