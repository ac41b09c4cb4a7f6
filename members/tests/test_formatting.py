import datetime
from zoneinfo import ZoneInfo

from django.template import Context, Template
from django.utils import timezone, translation

from members import formatting

UTC = datetime.UTC


def test_when_label_is_shanghai_time_with_weekday(settings):
    now = timezone.now()
    # 10:00 UTC on 3 December of the current year is 18:00 in Shanghai.
    moment = datetime.datetime(now.year, 12, 3, 10, 0, tzinfo=UTC)
    weekday = "周一 周二 周三 周四 周五 周六 周日".split()[moment.weekday()]
    with translation.override("zh-hans"):
        assert formatting.when_label(moment) == f"12月3日 {weekday} 18:00"


def test_other_years_carry_the_year():
    moment = datetime.datetime(2031, 1, 6, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    with translation.override("zh-hans"):
        assert formatting.date_label(moment) == "2031年1月6日 周一"


def test_duration_is_whole_minutes_rounded_up():
    with translation.override("zh-hans"):
        assert formatting.duration_label(900) == "15 分钟"
        assert formatting.duration_label(901) == "16 分钟"
        assert formatting.duration_label(30) == "1 分钟"
        assert formatting.duration_label(3900) == "1 小时 5 分钟"
        assert formatting.duration_label(0) == ""


def test_template_filters_use_the_same_rule():
    moment = datetime.datetime(2031, 1, 6, 4, 5, tzinfo=UTC)
    with translation.override("zh-hans"):
        rendered = Template(
            "{% load portal_format %}{{ m|when }}|{{ s|duration }}|{{ p|masked_phone }}"
        ).render(Context({"m": moment, "s": 900, "p": "13812341234"}))
        assert rendered == "2031年1月6日 周一 12:05|15 分钟|138****1234"
