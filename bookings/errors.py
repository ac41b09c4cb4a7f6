"""Errors that families and coordinators see, with their messages in one place."""

from django.utils.translation import gettext_lazy as _

MESSAGES = {
    "offering_missing": _("找不到该场次或活动。"),
    "offering_cancelled": _("该场次已取消，不能报名。"),
    "offering_started": _("该场次已开始或已结束，不能报名。"),
    "booking_not_open": _("报名尚未开始。"),
    "booking_closed": _("报名已截止。"),
    "already_booked": _("您的家庭已报名（或在候补名单中），不能重复报名。"),
    "party_too_large": _("参加人数超过了该场次的总名额。"),
    "empty_party": _("请至少选择一位参加人。"),
    "not_family_member": _("只能为本家庭成员报名。"),
    "booking_missing": _("找不到该报名记录。"),
    "already_cancelled": _("该报名已取消。"),
    "cancel_closed": _("已过取消截止时间，如需取消请联系主办单位。"),
    "capacity_below_taken": _("新名额少于已确认人数，请先与已报名家庭沟通。"),
    "not_confirmed": _("只有已确认的报名才能签到。"),
    "busy": _("报名人数较多，系统繁忙，请稍后再试。"),
    "already_cancelled_offering": _("该场次已经取消。"),
    "offering_started_no_move": _("该场次已开始，不能再改时间。"),
    "ends_before_start": _("结束时间须晚于开始时间。"),
    "closes_before_opens": _("报名截止时间须晚于报名开始时间。"),
    "bad_capacity": _("名额须为正整数。"),
    "attendance_not_open": _(
        "签到和出席登记尚未开放：将于 %(opens)s（开始前 %(minutes)s 分钟）开放。"
    ),
    "attendance_closed": _(
        "签到和出席登记已于 %(closes)s 截止（结束后 %(days)s 天），不能再签到或修改出席记录。"
    ),
}


class BookingError(Exception):
    """A booking rule was broken; ``message`` is ready to show to the user."""

    def __init__(self, code: str, **params):
        self.code = code
        # Messages that name a time or a number take them as ``params``.
        self.message = MESSAGES[code] % params if params else MESSAGES[code]
        super().__init__(code)


class BookingBusy(BookingError):
    """The offering row stayed locked past the lock timeout: ask to try again."""

    def __init__(self):
        super().__init__("busy")
