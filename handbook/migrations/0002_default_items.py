"""The district's default handbook (alliance empty): "10项在家陪伴 + 4种在校陪伴 +
N个陪伴好行为" of 《渝中智慧家长成长手册》.

Only that idea comes from the district's published case; no item's name does,
so every name here is a sample (``is_sample=True``) until a coordinator confirms
it. Idempotent (update_or_create by kind and name, alliance empty) and
reversible (the reverse removes the defaults no claim uses; used ones are
switched off instead, since claims protect their items).
``handbook.demo.default_items()`` runs the same upsert (tests, ``load_demo``).
"""

from django.db import migrations

# (kind, name, description, points, evidence, attendance_match, event_kinds,
#  per day, per week, per term)
DEFAULT_ITEMS = [
    ("home", "亲子阅读", "和孩子一起读书或听书至少 20 分钟。", 2, "note", "", [], 1, None, None),
    ("home", "共同运动", "和孩子一起运动，如跳绳、跑步、打球。", 2, "note", "", [], 1, None, None),
    ("home", "家务劳动", "和孩子一起做一件家务，拍一张照片。", 2, "photo", "", [], 1, None, None),
    ("home", "家庭会议", "全家人一起商量一件家里的事。", 2, "note", "", [], 1, 1, None),
    ("home", "亲子游戏", "和孩子玩一次不用手机的游戏。", 1, "none", "", [], 1, None, None),
    ("home", "户外探索", "带孩子去公园、博物馆或郊外走一走。", 2, "photo", "", [], 1, 2, None),
    ("home", "生活习惯", "陪孩子按时作息、整理房间。", 1, "none", "", [], 1, None, None),
    ("home", "情绪陪伴", "孩子有心事时耐心倾听、好好沟通。", 2, "note", "", [], 1, None, None),
    ("home", "学习陪伴", "陪伴孩子完成学习，不代做、不催骂。", 1, "none", "", [], 1, None, None),
    ("home", "家风传承", "给孩子讲一个家里的故事或家训。", 2, "note", "", [], 1, 1, None),
    ("school", "家长会", "参加孩子学校的家长会，由班主任确认。", 5, "cosign", "", [], None, None, 4),
    (
        "school",
        "家长开放日",
        "参加学校的家长开放日，由老师确认。",
        5,
        "cosign",
        "",
        [],
        None,
        None,
        2,
    ),
    (
        "school",
        "志愿服务",
        "参加门户上的志愿服务活动，签到后自动记录。",
        5,
        "attendance",
        "event",
        ["volunteer"],
        1,
        None,
        6,
    ),
    (
        "school",
        "家长课堂",
        "参加家长学校的课程场次，签到后自动记录。",
        5,
        "attendance",
        "course_session",
        [],
        1,
        None,
        10,
    ),
    ("behaviour", "耐心倾听", "认真听孩子把话说完，不打断。", 1, "note", "", [], 1, 3, None),
    ("behaviour", "放下手机", "陪孩子时放下手机，专心陪伴。", 1, "note", "", [], 1, 3, None),
    ("behaviour", "及时鼓励", "看见孩子的努力，具体地表扬。", 1, "note", "", [], 1, 3, None),
    ("behaviour", "尊重选择", "让孩子参与决定和他有关的事。", 1, "note", "", [], 1, 3, None),
    ("behaviour", "家校沟通", "主动和老师沟通孩子的情况。", 1, "note", "", [], 1, 3, None),
    ("behaviour", "以身作则", "做孩子的榜样，说到做到。", 1, "note", "", [], 1, 3, None),
]


def default_items_upsert(apps, schema_editor=None) -> int:
    HandbookItem = apps.get_model("handbook", "HandbookItem")
    for position, row in enumerate(DEFAULT_ITEMS, start=1):
        kind, name, description, points, evidence, match, kinds, day, week, term = row
        HandbookItem.objects.update_or_create(
            alliance=None,
            kind=kind,
            name=name,
            defaults={
                "description": description,
                "points": points,
                "evidence": evidence,
                "attendance_match": match,
                "event_kinds": kinds,
                "limit_per_day": day,
                "limit_per_week": week,
                "limit_per_term": term,
                "position": position,
                "is_active": True,
                "is_sample": True,
            },
        )
    return len(DEFAULT_ITEMS)


def default_items_remove(apps, schema_editor):
    HandbookItem = apps.get_model("handbook", "HandbookItem")
    Claim = apps.get_model("handbook", "Claim")
    names = [(kind, name) for kind, name, *_rest in DEFAULT_ITEMS]
    for kind, name in names:
        items = HandbookItem.objects.filter(alliance=None, kind=kind, name=name)
        used = Claim.objects.filter(item__in=items).exists()
        if used:
            items.update(is_active=False)
        else:
            items.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("handbook", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(default_items_upsert, default_items_remove),
    ]
