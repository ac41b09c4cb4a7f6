"""The district's default list of responsibilities (工作职责) for 定标.

Idempotent (update_or_create by code) and reversible: the reverse removes the
defaults no unit target uses; used ones are switched off instead, since targets
protect their responsibility. ``evaluation.defaults.responsibilities_default()``
runs the same upsert (tests after a flush, ``load_demo``).
"""

from django.db import migrations

# (code, name, metric, default value, description)
DEFAULT_RESPONSIBILITIES = [
    ("sessions-held", "开课次数", "sessions_held", "10", "本学期各家长学校已开课的场次合计。"),
    ("events-held", "活动场次", "events_held", "2", "本学期举办的家庭教育活动场次。"),
    ("families", "覆盖家庭数", "families", "50", "本学期参加过课程或活动的家庭数。"),
    (
        "satisfaction",
        "学期问卷满意度",
        "satisfaction",
        "4.0",
        "学期问卷中满意度题的平均分（5 分制）。",
    ),
    ("response-rate", "问卷回收率", "response_rate", "30", "学期问卷的答卷数 ÷ 邀请家庭数（%）。"),
]


def responsibilities_upsert(apps, schema_editor=None) -> int:
    Responsibility = apps.get_model("evaluation", "Responsibility")
    for position, (code, name, metric, value, description) in enumerate(
        DEFAULT_RESPONSIBILITIES, start=1
    ):
        Responsibility.objects.update_or_create(
            code=code,
            defaults={
                "name": name,
                "metric": metric,
                "default_value": value,
                "description": description,
                "position": position * 10,
                "is_active": True,
            },
        )
    return len(DEFAULT_RESPONSIBILITIES)


def responsibilities_remove(apps, schema_editor):
    Responsibility = apps.get_model("evaluation", "Responsibility")
    UnitTarget = apps.get_model("evaluation", "UnitTarget")
    codes = [row[0] for row in DEFAULT_RESPONSIBILITIES]
    used = UnitTarget.objects.filter(responsibility__code__in=codes).values("responsibility_id")
    Responsibility.objects.filter(code__in=codes, pk__in=used).update(is_active=False)
    Responsibility.objects.filter(code__in=codes).exclude(pk__in=used).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("evaluation", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(responsibilities_upsert, responsibilities_remove),
    ]
