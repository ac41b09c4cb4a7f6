"""Chinese labels for the audit log's actions (``<app>.<thing>.<verb>``).

The log stores the dotted code (stable, searchable, no migration per new action);
the admin shows these labels and filters by them. A code missing here is shown as
it is, so nothing is hidden; ``members/tests/test_audit_log_admin.py`` fails when
an action written in the code has no label.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

AUDIT_ACTION_LABELS = {
    # registry: units, regions, memberships, roles
    "members.unit.create": _("新增成员单位"),
    "members.unit.change": _("修改成员单位"),
    "members.unit.deactivate": _("停用成员单位"),
    "members.unit.import": _("导入成员单位"),
    "members.unit.export": _("导出成员单位"),
    "members.region.import": _("导入区域"),
    "members.region.export": _("导出区域"),
    "members.membership.add": _("单位加入联盟"),
    "members.membership.change": _("修改联盟成员关系"),
    "members.membership.import": _("导入联盟成员关系"),
    "members.membership.export": _("导出联盟成员关系"),
    "members.role.assign": _("授予角色"),
    "members.role.revoke": _("撤销角色"),
    # families, consent and accounts
    "members.consent.agree": _("同意规则"),
    "members.family.create": _("建立家庭"),
    "members.child.create": _("添加孩子"),
    "members.child.delete": _("删除孩子信息"),
    "members.invitation.create": _("邀请共同监护人"),
    "members.invitation.send": _("发送监护人邀请"),
    "members.invitation.accept": _("接受监护人邀请"),
    "members.invitation.withdraw": _("撤回监护人邀请"),
    "members.user.phone_change": _("更换手机号"),
    "members.user.deactivate": _("停用账号"),
    "members.account.delete": _("注销账号"),
    "members.family_data.export": _("下载家庭数据"),
    "members.guardian.phone_reveal": _("查看家长完整手机号"),
    # places: bookings and offerings
    "bookings.offering.create": _("开放名额"),
    "bookings.offering.update": _("修改名额设置"),
    "bookings.offering.capacity": _("调整名额数量"),
    "bookings.offering.move": _("调整时间"),
    "bookings.offering.cancel": _("取消场次或活动"),
    "bookings.booking.create": _("报名"),
    "bookings.booking.cancel": _("取消报名"),
    "bookings.booking.promote": _("候补转正"),
    "bookings.booking.attendance": _("登记出勤"),
    # courses
    "courses.course.publish": _("发布课程"),
    "courses.course.unpublish": _("下架课程"),
    "courses.session.create": _("新增课程场次"),
    "courses.session.update": _("修改课程场次"),
    "courses.session.cancel": _("取消课程场次"),
    "courses.session.checkin": _("现场签到"),
    "courses.lesson.complete": _("完成线上课程"),
    "courses.credit.reverse": _("冲销学分"),
    # events
    "events.event.create": _("新建活动"),
    "events.event.update": _("修改活动"),
    "events.event.cancel": _("取消活动"),
    "events.calendar_feed.revoke": _("重置日历订阅链接"),
    # the growth handbook (handbook/services.py)
    "handbook.claim.submit": _("申报成长手册项目"),
    "handbook.claim.withdraw": _("撤回成长手册申报"),
    "handbook.claim.respond": _("补充成长手册申报"),
    "handbook.claim.approve": _("通过成长手册申报"),
    "handbook.claim.reject": _("不通过成长手册申报"),
    "handbook.claim.more": _("要求补充成长手册申报"),
    "handbook.claim.propose": _("根据签到记录生成成长手册申报"),
    "handbook.claim.unpropose": _("签到记录撤销后撤回自动生成的成长手册申报"),
    "handbook.items.customise": _("建立联盟自己的成长手册项目"),
    "handbook.item.create": _("新增成长手册项目"),
    "handbook.item.change": _("修改成长手册项目"),
    # learning families and commendation (recognition/services.py)
    "recognition.rule.create": _("设置学习型家庭评选标准"),
    "recognition.rule.change": _("修改学习型家庭评选标准"),
    "recognition.list.compute": _("计算学习型家庭名单"),
    "recognition.entry.override": _("调整学习型家庭名单"),
    "recognition.list.publish": _("发布学习型家庭名单"),
    "recognition.commendation.add": _("推荐优秀家长"),
    "recognition.commendation.remove": _("撤回优秀家长推荐"),
    "recognition.export.xlsx": _("导出评先树优名单（Excel）"),
    # surveys: templates and surveys (surveys/services.py)
    "surveys.template.create": _("新建问卷模板"),
    "surveys.template.change": _("修改问卷模板信息"),
    "surveys.template.edit": _("编辑问卷模板题目"),
    "surveys.survey.create": _("新建问卷"),
    "surveys.survey.publish": _("发布问卷"),
    "surveys.survey.close": _("截止问卷"),
    "surveys.survey.deploy": _("向各家长学校发放问卷"),
    # surveys (coordinators' pages)
    "surveys.results.export": _("导出问卷结果（Excel）"),
    "surveys.results.print": _("打开问卷结果打印版"),
    "surveys.comparison.export": _("导出问卷比较结果（Excel）"),
    "surveys.comparison.print": _("打开问卷比较结果打印版"),
    # the evaluation loop 定标—考核—反馈—提升 (evaluation/services.py)
    "evaluation.responsibility.create": _("新增工作职责"),
    "evaluation.responsibility.change": _("修改工作职责"),
    "evaluation.target.set": _("设定单位目标"),
    "evaluation.target.default": _("按默认值填充单位目标"),
    "evaluation.feedback.write": _("填写考核反馈"),
    "evaluation.feedback.acknowledge": _("确认考核反馈"),
    "evaluation.action.add": _("添加改进措施"),
    "evaluation.action.update": _("更新改进措施进展"),
    # buddy groups 学伴/家伴小组 (groups/services.py)
    "groups.group.create": _("新建小组"),
    "groups.group.update": _("修改小组信息"),
    "groups.group.dissolve": _("解散小组"),
    "groups.membership.join": _("加入小组"),
    "groups.membership.request": _("申请加入小组"),
    "groups.membership.approve": _("同意入组申请"),
    "groups.membership.decline": _("拒绝入组申请"),
    "groups.membership.add": _("带领人添加小组成员"),
    "groups.membership.leave": _("退出小组"),
    "groups.membership.remove": _("移出小组成员"),
    "groups.session.create": _("新建小组活动"),
    # the boards 互助交流 (community/services.py, its admin)
    "community.board.settings": _("修改交流区审核设置"),
    "community.nickname.change": _("修改交流区昵称"),
    "community.thread.pin": _("置顶帖子"),
    "community.thread.unpin": _("取消置顶"),
    "community.thread.close": _("关闭帖子"),
    "community.thread.reopen": _("重新开放帖子"),
    "community.post.approve": _("审核通过帖子"),
    "community.post.hide": _("隐藏帖子"),
    "community.post.warn": _("警告发帖人"),
    "community.post.mute": _("禁言发帖人"),
    "community.post.dismiss": _("驳回举报"),
    "community.word.add": _("新增敏感词"),
    "community.word.change": _("修改敏感词"),
    "community.word.delete": _("删除敏感词"),
    "community.word.import": _("导入敏感词表"),
    "community.word.export": _("导出敏感词表"),
    # 三师联动 and brand programmes
    "courses.course.reviewer_assign": _("指定课程审阅专家"),
    "parent_school.brand.logo": _("上传品牌标志"),
    "parent_school.brand.logo_remove": _("删除品牌标志"),
    # growth guidance (guidance/): the reads of sealed texts are logged too
    "guidance.station.create": _("设立成长指导工作站"),
    "guidance.station.update": _("修改指导站设置"),
    "guidance.mentor.create": _("新增导师"),
    "guidance.mentor.update": _("修改导师资料"),
    "guidance.slot.create": _("发布咨询时段"),
    "guidance.pattern.create": _("发布每周咨询时段"),
    "guidance.slot.cancel": _("取消咨询时段"),
    "guidance.consultation.book": _("预约咨询"),
    "guidance.consultation.cancel": _("取消咨询预约"),
    "guidance.consultation.mark": _("登记咨询结果"),
    "guidance.referral.create": _("转介咨询"),
    "guidance.limit.lift": _("调整家庭预约上限"),
    "guidance.need.read": _("查看咨询需求"),
    "guidance.note.write": _("撰写咨询记录"),
    "guidance.note.read": _("查看咨询记录"),
    "guidance.followup.schedule": _("安排回访提醒"),
    "guidance.followup.cancel": _("取消回访提醒"),
    "guidance.followup.done": _("完成回访"),
    # the volunteer corps (volunteers/)
    "volunteers.application.submit": _("申请成为志愿者"),
    "volunteers.application.withdraw": _("撤回志愿者申请"),
    "volunteers.application.approve": _("通过志愿者申请"),
    "volunteers.application.decline": _("未通过志愿者申请"),
    "volunteers.hours.enter": _("登记志愿服务时长"),
    "volunteers.hours.verify": _("核实志愿服务时长"),
    "volunteers.hours.reject": _("驳回志愿服务时长"),
    # certificates
    # SECTION certificates audit (helpers add their actions here)
    "certificates.batch.start": _("发起证书发放批次"),
    "certificates.certificate.revoke": _("撤销证书"),
    "certificates.certificate.reissue": _("重新发放证书"),
    "certificates.rule.update": _("修改证书规则"),
    "certificates.design.update": _("修改证书样式（落款、印章）"),
    "certificates.transcript.export": _("下载学分银行成绩单数据（CSV/JSON）"),
    # END SECTION certificates audit
    # reports
    "reports.snapshot.rollup": _("重新计算统计"),
    "reports.export.xlsx": _("导出学期报表（Excel）"),
    "reports.export.csv": _("导出明细数据（CSV）"),
    "reports.export.download": _("下载报表文件"),
    # API tokens (the security page 应用与设备授权, the admin, the API)
    "members.api_token.create": _("生成 API 令牌"),
    "members.api_token.revoke": _("撤销 API 令牌"),
    # wechat (mini-program sign-in)
    "wechat.account.create": _("通过微信小程序注册"),
    "wechat.identity.bind": _("绑定微信"),
    "wechat.identity.replace": _("更换绑定的微信"),
    "wechat.identity.unbind": _("解除微信绑定"),
}


def audit_action_label(action: str) -> str:
    """The Chinese label of ``action``; the code itself when it has none."""
    label = AUDIT_ACTION_LABELS.get(action)
    return str(label) if label is not None else action


def audit_action_choices() -> list[tuple[str, str]]:
    """(code, label) for filters, grouped by app as listed above."""
    return [(code, str(label)) for code, label in AUDIT_ACTION_LABELS.items()]
