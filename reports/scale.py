"""City-scale test data, built inside PostgreSQL.

Every big table is filled by one ``INSERT … SELECT … FROM generate_series(…)``:
the rows never travel through Python, so district-large (200,000 parents,
2,000,000 enrolments, 1,000,000 registrations) builds in minutes on two cores.
Pseudo-random choices come from ``hashint8extended(i, seed)``: the same preset and
seed always give the same rows. Dates are fixed (not "now"), so the data is the
same whatever day it is built.

PostgreSQL only (COPY-speed bulk inserts and the hash functions are PostgreSQL's).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.contrib.auth.hashers import make_password
from django.db import connection, models, transaction

from bookings.models import Booking, BookingAttendee, Offering
from courses.models import (
    Course,
    CourseSession,
    CreditEntry,
    LessonProgress,
    OnlineLesson,
    Stage,
    Theme,
)
from courses.services import course_next_session_refresh
from events.models import Event
from handbook.models import Claim, ClaimTally, HandbookItem, ItemKind
from members.models import (
    Alliance,
    Child,
    Family,
    Guardian,
    Membership,
    MemberUnit,
    Region,
    RoleAssignment,
    User,
)
from parent_school.models import Instructor, ParentSchool, Target, Term
from parent_school.selectors import term_window
from recognition.models import LearningFamilyRule

SHANGHAI = ZoneInfo("Asia/Shanghai")
# The data's own "today": sessions before it are held, with attendance marked.
REFERENCE = dt.datetime(2026, 11, 15, 12, 0, tzinfo=SHANGHAI)
SCALE_PASSWORD = "scale-data-password"


@dataclass(frozen=True)
class Preset:
    parents: int
    units: int
    alliances: int
    parent_schools: int
    instructors: int
    courses: int
    sessions: int
    enrolments: int
    events: int
    registrations: int
    lessons_every: int = 4  # every this many courses is an online (blended) course
    # Micro-courses (微课): lessons per online course; at district-large 5,000 online
    # courses hold 30,000 lessons, the Yuzhong platform's 1,800+ many times over.
    lessons_per_course: int = 6
    progress_per_lesson: int = 20  # families that watched each uploaded lesson
    # The growth handbook in the current term: this share of the families claims,
    # each this many claims by hand (statuses mixed); every present booking of the
    # term's sessions and events also proposes its at-school item (attendance-backed).
    # district-large: 150,000 families × 10 = 1.5 million claims, ~0.2 million more
    # from attendance.
    handbook_active_percent: int = 75
    handbook_claims_per_family: int = 10


PRESETS = {
    "small": Preset(
        parents=2_000,
        units=30,
        alliances=2,
        parent_schools=40,
        instructors=100,
        courses=200,
        sessions=1_000,
        enrolments=20_000,
        events=500,
        registrations=10_000,
    ),
    "district-large": Preset(
        parents=200_000,
        units=300,
        alliances=10,
        parent_schools=400,
        instructors=2_000,
        courses=20_000,
        sessions=100_000,
        enrolments=2_000_000,
        events=50_000,
        registrations=1_000_000,
    ),
}

TERMS = [
    # code, school year, semester, starts, ends, current
    ("2025-2026-2", "2025–2026", 2, dt.date(2026, 2, 23), dt.date(2026, 7, 10), False),
    ("2026-2027-1", "2026–2027", 1, dt.date(2026, 9, 1), dt.date(2027, 1, 22), True),
]


def marker_name(preset: str, seed: int) -> str:
    return f"规模测试区-{preset}-{seed}"


def already_generated(preset: str, seed: int) -> bool:
    return Region.objects.filter(name=marker_name(preset, seed), parent=None).exists()


def _table(model) -> str:
    return model._meta.db_table


def _missing_defaults(model, given: list[str]) -> list[tuple[str, object]]:
    """NOT NULL columns the generator does not name (fields other apps may add): their default."""
    extra = []
    for field in model._meta.concrete_fields:
        if field.column in given or field.null or field.primary_key:
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = REFERENCE
        else:
            value = field.get_default()
        if isinstance(field, models.JSONField):
            value = json.dumps(value)
        else:
            value = field.get_db_prep_save(value, connection)
        extra.append((field.column, value))
    return extra


def _base(model) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {_table(model)}")
        return cursor.fetchone()[0]


def _reset_sequence(model) -> None:
    table = _table(model)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"GREATEST((SELECT MAX(id) FROM {table}), 1))"
        )


def _rnd(expr: str, salt: int) -> str:
    """A deterministic pseudo-random 0–99 from an integer expression and the seed."""
    return f"(abs(hashint8extended(({expr})::bigint, %(seed)s + {salt})) % 100)"


# --- realistic catalogue texts, themes and stages ------------------------------------
# A generated course is first titled 规模测试课程N with no text, theme or stage, which
# no parent would search or filter for; catalogue_enrich() gives it a title, summary
# and body about one of these topics, one or two themes and one or two stages.
CATALOGUE_TOPICS = [
    ("亲子沟通", "倾听", "表达", "冲突"),
    ("青春期", "叛逆", "情绪", "自我认同"),
    ("隔代教养", "祖辈", "分歧", "合作"),
    ("幼小衔接", "入学准备", "习惯", "专注力"),
    ("学习习惯", "作业", "时间管理", "拖延"),
    ("手机管理", "网络沉迷", "屏幕时间", "约定"),
    ("心理健康", "压力", "焦虑", "睡眠"),
    ("法治教育", "校园欺凌", "自我保护", "规则"),
    ("家庭阅读", "绘本", "亲子阅读", "书香家庭"),
    ("劳动教育", "家务", "责任感", "独立"),
    ("科学与AI", "编程", "好奇心", "探究"),
    ("生涯规划", "中考", "志愿填报", "兴趣"),
]
_FORMS = ["工作坊", "讲座", "训练营", "家长课堂", "沙龙", "微课", "读书会", "案例研讨"]
_VERBS = ["如何", "学会", "掌握", "理解", "陪伴孩子走过", "和孩子一起面对"]
_SKILLS = ["的技巧", "的方法", "五步法", "实用指南", "常见误区", "十个问题"]
_STAGES = ["preschool", "primary", "junior", "senior"]
GENERATED_TITLE = "规模测试课程"


def course_text(i: int) -> tuple[str, str, str]:
    """Course i's title (about 20 characters), summary (about 50) and body (about 400)."""
    topic = CATALOGUE_TOPICS[i % len(CATALOGUE_TOPICS)]
    other = CATALOGUE_TOPICS[(i // len(CATALOGUE_TOPICS)) % len(CATALOGUE_TOPICS)]
    form = _FORMS[(i // 7) % len(_FORMS)]
    title = f"{topic[0]}{_SKILLS[i % len(_SKILLS)]}{form}（第{i % 40 + 1}期）"
    summary = (
        f"{_VERBS[i % len(_VERBS)]}{topic[1]}与{topic[2]}：面向家长的{form}，"
        f"结合{other[0]}中的真实案例，帮助家庭找到适合自己的做法。"
    )
    body = "\n\n".join(
        f"第{n + 1}讲：{t}。本讲从家庭教育的日常场景出发，讨论{topic[(n + 1) % 4]}"
        f"和{other[(n + 2) % 4]}之间的关系，讲师会分享社区家长学校的经验，"
        "家长分组练习，课后完成一次亲子实践并在群里交流。"
        for n, t in enumerate(topic)
    )
    return title, summary, body


def course_theme_indexes(i: int) -> list[int]:
    """Course i's themes (indexes into CATALOGUE_TOPICS): its topic's, and for every
    third course the other topic its text mentions."""
    first = i % len(CATALOGUE_TOPICS)
    second = (i // len(CATALOGUE_TOPICS)) % len(CATALOGUE_TOPICS)
    return [first, second] if i % 3 == 0 and second != first else [first]


def course_stage_codes(i: int) -> list[str]:
    """Course i's school stages: one, or two neighbouring ones for every other course."""
    first = (i // 2) % len(_STAGES)
    return _STAGES[first : first + 2] if i % 2 and first < 3 else [_STAGES[first]]


def catalogue_enrich(*, log: Callable[[str], None] = print, chunk: int = 2000) -> int:
    """Give every generated course (still titled 规模测试课程N) its realistic title,
    summary, body, themes and stages from course N's text; returns how many.

    Idempotent: a course once enriched has its new title, so a second call finds
    nothing to do. ``generate`` calls it; `make bench` calls it on a data set built
    before it existed, so no one has to build the 3M bookings again. The text
    UPDATE also fills the search's bigram index (courses/0006), about a millisecond
    a course. Each chunk is committed on its own."""
    pattern = re.compile(rf"^{GENERATED_TITLE}(\d+)$")
    rows = [
        (pk, int(match.group(1)))
        for pk, title in Course.objects.filter(title__startswith=GENERATED_TITLE)
        .order_by("pk")
        .values_list("pk", "title")
        if (match := pattern.match(title))
    ]
    if not rows:
        return 0
    themes = []
    for order, topic in enumerate(CATALOGUE_TOPICS):
        theme, _ = Theme.objects.get_or_create(name=topic[0], defaults={"sort_order": order})
        themes.append(theme.pk)
    stages = {
        code: Stage.objects.get_or_create(code=code, defaults={"sort_order": n + 1})[0].pk
        for n, code in enumerate(_STAGES)
    }
    started = time.perf_counter()
    for offset in range(0, len(rows), chunk):
        part = rows[offset : offset + chunk]
        texts = [(pk, *course_text(i)) for pk, i in part]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {_table(Course)} AS c SET title = v.title, summary = v.summary, "
                "body = v.body FROM (SELECT unnest(%s::bigint[]) AS id, "
                "unnest(%s::text[]) AS title, unnest(%s::text[]) AS summary, "
                "unnest(%s::text[]) AS body) AS v WHERE c.id = v.id",
                [list(column) for column in zip(*texts, strict=True)],
            )
            Course.themes.through.objects.bulk_create(
                [
                    Course.themes.through(course_id=pk, theme_id=themes[t])
                    for pk, i in part
                    for t in course_theme_indexes(i)
                ],
                ignore_conflicts=True,
            )
            Course.stages.through.objects.bulk_create(
                [
                    Course.stages.through(course_id=pk, stage_id=stages[code])
                    for pk, i in part
                    for code in course_stage_codes(i)
                ],
                ignore_conflicts=True,
            )
        log(f"  catalogue texts: {offset + len(part):,} of {len(rows):,} courses")
    # VACUUM too when it may run (not inside a transaction): it marks the pages
    # all-visible, so the catalogue's counting query reads the index alone.
    analyze = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
    with connection.cursor() as cursor:
        for model in (Course, Course.themes.through, Course.stages.through):
            cursor.execute(f"{analyze} {_table(model)}")
    log(
        f"  catalogue texts, themes and stages: {len(rows):,} courses in "
        f"{time.perf_counter() - started:.1f} s"
    )
    return len(rows)


def generate(*, preset_name: str, seed: int, log: Callable[[str], None] = print) -> dict:
    if connection.vendor != "postgresql":
        raise RuntimeError("generate_scale_data needs PostgreSQL")
    p = PRESETS[preset_name]
    counts: dict[str, int] = {}
    started = time.perf_counter()

    def step(label: str, fn):
        t0 = time.perf_counter()
        with transaction.atomic():
            with connection.cursor() as cursor:
                # Rows are consistent by construction: skip per-row FK triggers.
                cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
                if cursor.fetchone()[0]:
                    cursor.execute("SET LOCAL session_replication_role = replica")
            n = fn()
        counts[label] = n
        log(f"  {label}: {n:,} rows in {time.perf_counter() - t0:.1f} s")

    # --- the registry: regions, units, alliances, terms, parent schools (ORM: small) ---
    with transaction.atomic():
        district = Region.objects.create(name=marker_name(preset_name, seed), kind="district")
        streets = Region.objects.bulk_create(
            [
                Region(name=f"第{i + 1}街道", kind=Region.Kind.STREET, parent=district)
                for i in range(20)
            ]
        )
        kinds = [
            MemberUnit.Kind.PRIMARY_SCHOOL,
            MemberUnit.Kind.MIDDLE_SCHOOL,
            MemberUnit.Kind.KINDERGARTEN,
            MemberUnit.Kind.COMMUNITY,
            MemberUnit.Kind.HOSPITAL,
            MemberUnit.Kind.LEARNING_CENTRE,
        ]
        units = MemberUnit.objects.bulk_create(
            [
                MemberUnit(
                    code=f"S{seed}-{preset_name}-U{i + 1}",
                    name=f"规模测试单位{i + 1:04d}",
                    kind=kinds[i % len(kinds)],
                    region=streets[i % 20],
                )
                for i in range(p.units)
            ]
        )
        alliances = Alliance.objects.bulk_create(
            [
                Alliance(
                    name=f"规模测试协同育人联盟{seed}-{preset_name}-{a + 1}",
                    short_name=f"联盟{a + 1}",
                    region=district,
                )
                for a in range(p.alliances)
            ]
        )
        Membership.objects.bulk_create(
            [
                Membership(alliance=alliances[i % p.alliances], unit=unit)
                for i, unit in enumerate(units)
            ]
        )
        terms = []
        for code, year, semester, starts, ends, _current in TERMS:
            term, _ = Term.objects.get_or_create(
                code=code,
                defaults={
                    "school_year": year,
                    "semester": semester,
                    "starts_on": starts,
                    "ends_on": ends,
                },
            )
            terms.append(term)
        if not Term.objects.filter(is_current=True).exists():
            Term.objects.filter(pk=terms[-1].pk).update(is_current=True)
        schools = ParentSchool.objects.bulk_create(
            [
                ParentSchool(
                    name=f"规模测试家长学校{i + 1:04d}",
                    kind=ParentSchool.Kind.SCHOOL if i % 3 else ParentSchool.Kind.COMMUNITY,
                    host_unit=units[i % p.units],
                    region=streets[i % 20],
                )
                for i in range(p.parent_schools)
            ]
        )
        Target.objects.bulk_create(
            [
                Target(parent_school=s, term=t, sessions_required=10 + (i % 3) * 2)
                for i, s in enumerate(schools)
                for t in terms
            ]
        )
        instructors = Instructor.objects.bulk_create(
            [
                Instructor(
                    name=f"讲师{i + 1:05d}",
                    tier=[
                        Instructor.Tier.EXPERT,
                        Instructor.Tier.RESEARCH,
                        Instructor.Tier.LECTURER,
                    ][i % 3],
                    unit=units[i % p.units],
                    is_volunteer=i % 5 < 2,
                )
                for i in range(p.instructors)
            ]
        )
        # Coordinators to sign in with: a district admin, one per alliance, one per first unit.
        password = make_password(SCALE_PASSWORD, salt="scaledata")
        admin = User.objects.create(username=f"scale_admin_{seed}", password=password)
        RoleAssignment.objects.create(user=admin, role=RoleAssignment.Role.CITY_ADMIN)
        for a, alliance in enumerate(alliances):
            user = User.objects.create(username=f"scale_alliance{a + 1}_{seed}", password=password)
            RoleAssignment.objects.create(
                user=user, role=RoleAssignment.Role.ALLIANCE_COORDINATOR, alliance=alliance
            )
        unit_user = User.objects.create(username=f"scale_unit1_{seed}", password=password)
        RoleAssignment.objects.create(
            user=unit_user, role=RoleAssignment.Role.UNIT_COORDINATOR, unit=units[0]
        )
    log(f"  registry: {p.units} units, {p.parent_schools} parent schools, {len(terms)} terms")

    unit0 = units[0].pk
    school0 = schools[0].pk
    instructor0 = instructors[0].pk
    term_ids = [t.pk for t in terms]
    term_starts = [dt.datetime.combine(t.starts_on, dt.time(0), tzinfo=SHANGHAI) for t in terms]
    term_days = [(t.ends_on - t.starts_on).days - 6 for t in terms]

    user0 = _base(User)
    family0 = _base(Family)
    guardian0 = _base(Guardian)
    child0 = _base(Child)
    course0 = _base(Course)
    offering0 = _base(Offering)
    session0 = _base(CourseSession)
    event0 = _base(Event)
    booking0 = _base(Booking)
    lesson0 = _base(OnlineLesson)
    P = p.parents
    args = {
        "seed": seed,
        "ref": REFERENCE,
        "password": make_password(SCALE_PASSWORD, salt="scaledata"),
    }

    def run(model, columns, source, extra=None):
        # %(name)s parameters: merge the shared ones with this statement's.
        params = {**args, **(extra or {})}
        names = list(columns)
        expressions = list(columns.values())
        for column, value in _missing_defaults(model, names):
            key = f"default_{column}"
            names.append(column)
            expressions.append(f"%({key})s")
            params[key] = value
        sql = (
            f"INSERT INTO {_table(model)} ({', '.join(names)}) "
            f"SELECT {', '.join(expressions)} FROM {source}"
        )
        # SQL's modulo operator is written %; the driver needs it doubled.
        sql = re.sub(r"%(?!\()", "%%", sql)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount

    # --- parents: users, families, guardians, children ---
    step(
        "users",
        lambda: run(
            User,
            {
                "id": f"{user0} + i",
                "password": "%(password)s",
                "is_superuser": "false",
                "username": "'scale_p' || i",
                "first_name": "''",
                "last_name": "''",
                "email": "''",
                "is_staff": "false",
                "is_active": "true",
                "date_joined": "%(ref)s",
                "phone": "'13' || lpad((i + %(phone_base)s)::text, 9, '0')",
                "phone_verified": "true",
                "display_name": "'家长' || i",
            },
            "generate_series(1, %(n)s) AS i",
            {"n": P, "phone_base": seed * 1_000_000 % 100_000_000},
        ),
    )
    step(
        "families",
        lambda: run(
            Family,
            {"id": f"{family0} + i", "created_at": "%(ref)s", "home_community_id": "NULL"},
            "generate_series(1, %(n)s) AS i",
            {"n": P},
        ),
    )
    step(
        "guardians",
        lambda: run(
            Guardian,
            {
                "id": f"{guardian0} + i",
                "user_id": f"{user0} + i",
                "family_id": f"{family0} + i",
                "relation": "CASE WHEN i % 2 = 0 THEN 'mother' ELSE 'father' END",
                "phone": "'13' || lpad((i + %(phone_base)s)::text, 9, '0')",
            },
            "generate_series(1, %(n)s) AS i",
            {"n": P, "phone_base": seed * 1_000_000 % 100_000_000},
        ),
    )
    # Every family has a first child (id child0 + i); every third a second one
    # (id child0 + P + i / 3).
    step(
        "children",
        lambda: run(
            Child,
            {
                "id": f"CASE WHEN k = 1 THEN {child0} + i ELSE {child0} + %(n)s + i / 3 END",
                "family_id": f"{family0} + i",
                "nickname": "'孩子' || i || '-' || k",
                "birth_year": f"2010 + {_rnd('i * 2 + k', 1)} % 12",
                "stage": "(ARRAY['preschool','primary','junior','senior'])"
                f"[1 + {_rnd('i * 2 + k', 2)} % 4]",
                "school_id": f"{unit0} + i % %(units)s",
            },
            "generate_series(1, %(n)s) AS i CROSS JOIN generate_series(1, 2) AS k "
            "WHERE k = 1 OR i % 3 = 0",
            {"n": P, "units": p.units},
        ),
    )

    # --- courses, sessions (offerings), instructors ---
    step(
        "courses",
        lambda: run(
            Course,
            {
                "id": f"{course0} + c",
                "title": "'规模测试课程' || c",
                "summary": "''",
                "body": "''",
                "audience": "(ARRAY['parents','students','parent_child'])[1 + c % 3]",
                "level": "(ARRAY['general','basic','customised','online_quality'])[1 + c % 4]",
                "mode": "CASE WHEN c % %(every)s = 0 THEN 'blended' ELSE 'offline' END",
                "parent_school_id": f"{school0} + c % %(schools)s",
                "term_id": "(%(terms)s::bigint[])[1 + (c / %(every)s) % 2]",
                "brand_id": "NULL",
                "credits": "1.0",
                "is_published": "true",
                "created_at": "%(ref)s",
            },
            "generate_series(0, %(n)s - 1) AS c",
            {
                "n": p.courses,
                "schools": p.parent_schools,
                "terms": term_ids,
                "every": p.lessons_every,
            },
        ),
    )
    step(
        "course instructors",
        lambda: run(
            Course.instructors.through,
            {"course_id": f"{course0} + c", "instructor_id": f"{instructor0} + c % %(ins)s"},
            "generate_series(0, %(n)s - 1) AS c",
            {"n": p.courses, "ins": p.instructors},
        ),
    )
    counts["catalogue texts"] = catalogue_enrich(log=log)
    # Course c is in term 1 + (c / 4) % 2 (so that online courses, every 4th, fall in
    # both terms). Session s belongs to course s % C; its day is spread over that term.
    session_start = (
        "((%(starts)s::timestamptz[])[1 + ((s % %(c)s) / %(every)s) % 2] "
        "+ make_interval(days => (abs(hashint8extended(s::bigint, %(seed)s)) "
        "% (%(days)s::int[])[1 + ((s % %(c)s) / %(every)s) % 2])::int) "
        "+ make_interval(hours => 9 + (s % 3) * 4))"
    )
    session_extra = {
        "n": p.sessions,
        "c": p.courses,
        "starts": term_starts,
        "days": term_days,
        "schools": p.parent_schools,
        "units": p.units,
        "every": p.lessons_every,
    }
    step(
        "session offerings",
        lambda: run(
            Offering,
            {
                "id": f"{offering0} + 1 + s",
                "kind": "'course_session'",
                "title": "'规模测试课程' || (s % %(c)s)",
                # The parent school's host unit: school c % S is hosted by unit (c % S) % U.
                "unit_id": f"{unit0} + ((s % %(c)s) % %(schools)s) % %(units)s",
                "starts_at": session_start,
                "ends_at": f"{session_start} + interval '90 minutes'",
                "capacity": "80",
                "places_taken": "0",
                "waiting_families": "0",
                "status": f"CASE WHEN {_rnd('s', 3)} < 2 THEN 'cancelled' ELSE 'open' END",
                "booking_opens_at": "NULL",
                "booking_closes_at": "NULL",
                "cancel_closes_hours": "NULL",
            },
            "generate_series(0, %(n)s - 1) AS s",
            session_extra,
        ),
    )
    step(
        "course sessions",
        lambda: run(
            CourseSession,
            {
                "id": f"{session0} + 1 + s",
                "course_id": f"{course0} + s % %(c)s",
                "offering_id": f"{offering0} + 1 + s",
                "venue": "'多功能厅'",
                "online_url": "''",
            },
            "generate_series(0, %(n)s - 1) AS s",
            {"n": p.sessions, "c": p.courses},
        ),
    )
    event_offering0 = offering0 + p.sessions
    event_start = (
        "(%(start)s::timestamptz + make_interval(days => (e % 330)::int) "
        "+ make_interval(hours => 9 + (e % 2) * 5))"
    )
    step(
        "event offerings",
        lambda: run(
            Offering,
            {
                "id": f"{event_offering0} + 1 + e",
                "kind": "'event'",
                "title": "'规模测试活动' || e",
                "unit_id": f"{unit0} + e % %(units)s",
                "starts_at": event_start,
                "ends_at": f"{event_start} + interval '2 hours'",
                "capacity": "100",
                "places_taken": "0",
                "waiting_families": "0",
                "status": "'open'",
                "booking_opens_at": "NULL",
                "booking_closes_at": "NULL",
                "cancel_closes_hours": "NULL",
            },
            "generate_series(0, %(n)s - 1) AS e",
            {"n": p.events, "units": p.units, "start": term_starts[0]},
        ),
    )
    step(
        "events",
        lambda: run(
            Event,
            {
                "id": f"{event0} + 1 + e",
                "title": "'规模测试活动' || e",
                "kind": "(ARRAY['lecture','workshop','parent_child','seminar'])[1 + e % 4]",
                "description": "''",
                "organiser_alliance_id": "NULL",
                "organiser_unit_id": f"{unit0} + e % %(units)s",
                "audience": "'parents'",
                "venue": "'报告厅'",
                "online_url": "''",
                "offering_id": f"{event_offering0} + 1 + e",
                "status": "'published'",
                "created_at": "%(ref)s",
                "updated_at": "%(ref)s",
            },
            "generate_series(0, %(n)s - 1) AS e",
            {"n": p.events, "units": p.units},
        ),
    )

    # --- bookings: b-th booking of offering o is family (o*7919 + k*104729) mod P.
    # 104729 is prime and shares no factor with P (powers of 2 and 5), so the
    # families of one offering are distinct.
    def bookings(label, offset, offerings, total, first_booking):
        per = total // offerings
        party_children = f"LEAST({_rnd('b', 5)} % 3, CASE WHEN (fam + 1) % 3 = 0 THEN 2 ELSE 1 END)"
        return run(
            Booking,
            {
                "id": f"{first_booking} + 1 + b",
                "offering_id": "o.id",
                "family_id": f"{family0} + 1 + fam",
                "booked_by_id": f"{user0} + 1 + fam",
                "status": f"CASE WHEN {_rnd('b', 4)} < 4 THEN 'cancelled' "
                f"WHEN {_rnd('b', 4)} < 7 THEN 'waiting' ELSE 'confirmed' END",
                "party_size": f"1 + {party_children}",
                "children_count": party_children,
                "created_at": "o.starts_at - interval '7 days'",
                "confirmed_at": f"CASE WHEN {_rnd('b', 4)} >= 7 THEN o.starts_at - interval '7 days' END",
                "promoted_at": "NULL",
                "cancelled_at": f"CASE WHEN {_rnd('b', 4)} < 4 THEN o.starts_at - interval '3 days' END",
                "attendance": f"CASE WHEN {_rnd('b', 4)} >= 7 AND o.starts_at < %(ref)s "
                f"AND o.status <> 'cancelled' THEN "
                f"(CASE WHEN {_rnd('b', 6)} < 80 THEN 'present' ELSE 'absent' END) "
                "ELSE 'unknown' END",
                "checked_in_at": f"CASE WHEN {_rnd('b', 4)} >= 7 AND o.starts_at < %(ref)s "
                f"AND o.status <> 'cancelled' AND {_rnd('b', 6)} < 80 THEN o.starts_at END",
            },
            f"(SELECT b, ((b % {offerings}) * 7919 + (b / {offerings}) * 104729) % %(parents)s AS fam "
            f"FROM generate_series(0, {per * offerings} - 1) AS b) g "
            f"JOIN {_table(Offering)} o ON o.id = {offset} + 1 + g.b % {offerings}",
            {"parents": P},
        )

    step(
        "enrolments",
        lambda: bookings("enrolments", offering0, p.sessions, p.enrolments, booking0),
    )
    registration0 = booking0 + p.enrolments
    step(
        "registrations",
        lambda: bookings(
            "registrations", event_offering0, p.events, p.registrations, registration0
        ),
    )
    step(
        "attendees",
        lambda: run(
            BookingAttendee,
            {
                "booking_id": "b.id",
                "guardian_id": f"CASE WHEN k = 0 THEN {guardian0} + (b.family_id - {family0}) END",
                "child_id": f"CASE WHEN k = 1 THEN {child0} + (b.family_id - {family0}) "
                f"WHEN k = 2 THEN {child0} + %(parents)s + (b.family_id - {family0}) / 3 END",
                "is_child": "k > 0",
            },
            f"{_table(Booking)} b CROSS JOIN generate_series(0, 2) AS k "
            f"WHERE b.id > {booking0} AND k <= b.children_count",
            {"parents": P},
        ),
    )

    def places():
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {_table(Offering)} o SET places_taken = x.taken, waiting_families = x.waiting "
                f"FROM (SELECT offering_id, "
                f"COALESCE(SUM(party_size) FILTER (WHERE status = 'confirmed'), 0) AS taken, "
                f"COUNT(*) FILTER (WHERE status = 'waiting') AS waiting "
                f"FROM {_table(Booking)} WHERE id > %s GROUP BY offering_id) x "
                "WHERE o.id = x.offering_id",
                [booking0],
            )
            return cursor.rowcount

    step("places taken", places)
    # Bulk rows bypass the session service: set the catalogue order in one UPDATE.
    step("catalogue order", lambda: course_next_session_refresh())
    step(
        "credits",
        lambda: run(
            CreditEntry,
            {
                "key": "'scale:' || %(seed)s || ':att:' || b.id",
                "family_id": "b.family_id",
                "guardian_id": "NULL",
                "child_id": "NULL",
                "term_id": "c.term_id",
                "course_id": "c.id",
                "amount": "c.credits",
                "reason": "'attendance'",
                "booking_id": "b.id",
                "lesson_progress_id": "NULL",
                "reverses_id": "NULL",
                "note": "''",
                "created_by_id": "NULL",
                "created_at": "o.starts_at + interval '2 hours'",
            },
            f"{_table(Booking)} b JOIN {_table(Offering)} o ON o.id = b.offering_id "
            f"JOIN {_table(CourseSession)} cs ON cs.offering_id = o.id "
            f"JOIN {_table(Course)} c ON c.id = cs.course_id "
            f"WHERE b.id > {booking0} AND b.attendance = 'present'",
        ),
    )
    # Every 5th lesson of a course is an outside link (not tracked, not credited);
    # the others are uploaded files (one shared test video path: nothing is read).
    step(
        "online lessons",
        lambda: run(
            OnlineLesson,
            {
                "id": f"{lesson0} + 1 + (c / %(every)s) * %(per)s + j",
                "course_id": f"{course0} + c",
                "title": "'微课' || c || '-' || (j + 1)",
                "video_url": "CASE WHEN j % 5 = 4 THEN 'https://video.example.cn/' || c || '/' "
                "|| j ELSE '' END",
                "video_file": "CASE WHEN j % 5 = 4 THEN '' ELSE 'lessons/scale-lesson.webm' END",
                "poster": "CASE WHEN j % 5 = 4 THEN '' ELSE 'lessons/posters/scale-lesson.png' END",
                # 3 to 30 minutes
                "duration_seconds": f"180 + {_rnd('c * 16 + j', 8)} * 17",
                "sort_order": "j",
            },
            "generate_series(0, %(n)s - 1) AS c CROSS JOIN generate_series(0, %(per)s - 1) AS j "
            "WHERE c % %(every)s = 0",
            {"n": p.courses, "every": p.lessons_every, "per": p.lessons_per_course},
        ),
    )
    progress0 = _base(LessonProgress)
    # Lesson l is watched by families (l * 7919 + k * 104729) mod P: distinct for one
    # lesson (see bookings). 60 % finished it (in the lesson's term), the rest a third.
    finished = f"{_rnd('l.id * 100 + k', 7)} < 60"
    step(
        "lesson progress",
        lambda: run(
            LessonProgress,
            {
                "lesson_id": "l.id",
                "family_id": f"{family0} + 1 + (l.id * 7919 + k * 104729) % %(parents)s",
                "seconds_watched": f"CASE WHEN {finished} THEN l.duration_seconds "
                "ELSE l.duration_seconds / 3 END",
                "percent": f"CASE WHEN {finished} THEN 100 ELSE 33 END",
                "position_seconds": f"CASE WHEN {finished} THEN l.duration_seconds "
                "ELSE l.duration_seconds / 3 END",
                "completed_at": f"CASE WHEN {finished} THEN "
                "t.starts_on::timestamp AT TIME ZONE 'Asia/Shanghai' "
                "+ make_interval(days => (k * 3 + l.id % 30)::int) END",
                "last_heartbeat_at": f"CASE WHEN {finished} THEN "
                "t.starts_on::timestamp AT TIME ZONE 'Asia/Shanghai' "
                "+ make_interval(days => (k * 3 + l.id % 30)::int) ELSE %(ref)s END",
                "updated_at": "%(ref)s",
            },
            f"{_table(OnlineLesson)} l JOIN {_table(Course)} c ON c.id = l.course_id "
            f"JOIN {_table(Term)} t ON t.id = c.term_id "
            f"CROSS JOIN generate_series(0, %(per)s - 1) AS k "
            f"WHERE l.id > {lesson0} AND l.video_file <> ''",
            {"parents": P, "per": p.progress_per_lesson},
        ),
    )
    # A finished lesson earned its share of the course's credits (as
    # courses.selectors.lesson_credit_amount: credits / lessons, at least 0.1).
    step(
        "lesson credits",
        lambda: run(
            CreditEntry,
            {
                "key": "'scale:' || %(seed)s || ':lesson:' || lp.id",
                "family_id": "lp.family_id",
                "guardian_id": f"{guardian0} + (lp.family_id - {family0})",
                "child_id": "NULL",
                "term_id": "c.term_id",
                "course_id": "c.id",
                "amount": "GREATEST(ROUND(c.credits / %(per)s, 1), 0.1)",
                "reason": "'online_lesson'",
                "booking_id": "NULL",
                "lesson_progress_id": "lp.id",
                "reverses_id": "NULL",
                "note": "''",
                "created_by_id": "NULL",
                "created_at": "lp.completed_at",
            },
            f"{_table(LessonProgress)} lp JOIN {_table(OnlineLesson)} l ON l.id = lp.lesson_id "
            f"JOIN {_table(Course)} c ON c.id = l.course_id "
            f"WHERE lp.id > {progress0} AND lp.completed_at IS NOT NULL",
            {"per": p.lessons_per_course},
        ),
    )
    counts.update(
        handbook_generate(
            p=p,
            seed=seed,
            term=terms[-1],
            alliances=alliances,
            first={
                "family": family0,
                "user": user0,
                "child": child0,
                "unit": unit0,
                "booking": booking0,
            },
            step=step,
            run=run,
        )
    )
    counts.update(
        surveys_generate(
            p=p,
            seed=seed,
            term=terms[-1],
            first={"school": schools[0].pk, "course": course0},
            step=step,
            run=run,
        )
    )
    counts.update(
        community_generate(
            p=p,
            seed=seed,
            term=terms[-1],
            first={
                "school": schools[0].pk,
                "unit": unit0,
                "user": user0,
                "family": family0,
                "child": child0,
            },
            step=step,
            run=run,
            shape=COMMUNITY_SHAPES[preset_name],
        )
    )
    for model in (
        User,
        Family,
        Guardian,
        Child,
        Course,
        Course.instructors.through,
        Offering,
        CourseSession,
        Event,
        Booking,
        BookingAttendee,
        CreditEntry,
        OnlineLesson,
        LessonProgress,
        HandbookItem,
        Claim,
        ClaimTally,
    ):
        _reset_sequence(model)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    log(f"done in {time.perf_counter() - started:.1f} s")
    return counts


# --- the growth handbook ---------------------------------------------------------------

# Only when the database has no district default set yet (the handbook's data
# migration makes it): enough items of each kind for the claims below.
FALLBACK_ITEMS = [
    *((ItemKind.HOME, name, 2) for name in ("亲子阅读", "共同运动", "家务劳动", "家庭会议")),
    *((ItemKind.HOME, name, 1) for name in ("亲子游戏", "共进晚餐", "户外探索")),
    *((ItemKind.HOME, name, 3) for name in ("参观场馆", "公益劳动", "家庭读书会")),
    (ItemKind.SCHOOL, "家长会", 3),
    (ItemKind.SCHOOL, "家长开放日", 3),
    (ItemKind.SCHOOL, "志愿服务", 5),
    (ItemKind.SCHOOL, "家长课堂", 3),
    *((ItemKind.BEHAVIOUR, name, 1) for name in ("耐心倾听", "以身作则", "及时鼓励", "守时守约")),
]


def handbook_items() -> list[HandbookItem]:
    """The district default items (alliance empty), made here if there are none."""
    items = list(HandbookItem.objects.filter(alliance=None, is_active=True).order_by("pk"))
    if items:
        return items
    made = []
    for position, (kind, name, points) in enumerate(FALLBACK_ITEMS):
        match = ""
        if name == "家长课堂":
            match = HandbookItem.AttendanceMatch.COURSE_SESSION
        elif name == "志愿服务":
            match = HandbookItem.AttendanceMatch.EVENT
        made.append(
            HandbookItem(
                kind=kind,
                name=name,
                points=points,
                evidence=HandbookItem.Evidence.ATTENDANCE if match else HandbookItem.Evidence.NOTE,
                attendance_match=match,
                position=position,
                is_sample=True,
            )
        )
    return HandbookItem.objects.bulk_create(made)


def handbook_generate(*, p: Preset, seed: int, term: Term, alliances, first: dict, step, run):
    """The handbook's rows in the current term: claims by hand and from attendance,
    the tallies behind the limits, and each alliance's learning-family rule.

    Claim n is family ``(n / per) * 7919 mod P`` (distinct for the first
    ``active`` families, as the bookings above), an item picked by its hash among
    those claimable by hand, a day between the term's start and the data's "today";
    statuses 55 % approved, 25 % pending, 5 % asking for more, 10 % rejected,
    5 % withdrawn. Its unit is the family's first child's school (the verifier).
    """
    counts: dict[str, int] = {}
    items = handbook_items()
    by_hand = [i for i in items if i.evidence != HandbookItem.Evidence.ATTENDANCE]
    session_item = next(
        (i for i in items if i.attendance_match == HandbookItem.AttendanceMatch.COURSE_SESSION),
        None,
    )
    event_item = next(
        (i for i in items if i.attendance_match == HandbookItem.AttendanceMatch.EVENT), None
    )
    P = p.parents
    per = p.handbook_claims_per_family
    active = P * p.handbook_active_percent // 100
    days = max((REFERENCE.date() - term.starts_on).days, 1)
    claim0 = _base(Claim)
    status = (
        f"CASE WHEN {_rnd('n', 21)} < 55 THEN 'approved' WHEN {_rnd('n', 21)} < 80 THEN 'pending' "
        f"WHEN {_rnd('n', 21)} < 85 THEN 'more_info' WHEN {_rnd('n', 21)} < 95 THEN 'rejected' "
        "ELSE 'withdrawn' END"
    )
    pick = "1 + abs(hashint8extended(n::bigint, %(seed)s + 22)) % %(count)s"
    occurred = (
        "(%(starts)s::date + (abs(hashint8extended(n::bigint, %(seed)s + 23)) % %(days)s)::int)"
    )
    created = f"({occurred}::timestamp AT TIME ZONE 'Asia/Shanghai' + interval '20 hours')"
    decided = f"{_rnd('n', 21)} < 55 OR {_rnd('n', 21)} BETWEEN 80 AND 94"
    step(
        "handbook claims",
        lambda: run(
            Claim,
            {
                "id": f"{claim0} + 1 + n",
                "family_id": f"{first['family']} + 1 + fam",
                "item_id": f"(%(items)s::bigint[])[{pick}]",
                "child_id": f"{first['child']} + 1 + fam",
                "term_id": "%(term)s",
                "unit_id": f"{first['unit']} + (fam + 1) % %(units)s",
                "occurred_on": occurred,
                "note": "'和孩子一起完成'",
                "photo": "''",
                "photo_hash": "''",
                "source": "'parent'",
                "booking_id": "NULL",
                "status": status,
                "points": f"CASE WHEN {_rnd('n', 21)} < 55 THEN (%(points)s::int[])[{pick}] "
                "ELSE 0 END",
                "flag_burst": f"{_rnd('n', 24)} < 2",
                "flag_reused_photo": "false",
                "created_by_id": f"{first['user']} + 1 + fam",
                "created_at": created,
                "decided_by_id": "NULL",
                "decided_at": f"CASE WHEN {decided} THEN {created} + interval '2 days' END",
                "decision_reason": f"CASE WHEN {_rnd('n', 21)} BETWEEN 80 AND 84 "
                "THEN '请补充一张活动照片' WHEN "
                f"{_rnd('n', 21)} BETWEEN 85 AND 94 THEN '日期与说明不符' ELSE '' END",
            },
            "(SELECT n, ((n / %(per)s) * 7919) % %(parents)s AS fam "
            "FROM generate_series(0, %(n)s - 1) AS n) g",
            {
                "n": active * per,
                "per": per,
                "parents": P,
                "units": p.units,
                "term": term.pk,
                "items": [i.pk for i in by_hand],
                "points": [i.points for i in by_hand],
                "count": len(by_hand),
                "starts": term.starts_on,
                "days": days,
            },
        ),
    )
    start, end = term_window(term)
    for label, item, join in (
        (
            "handbook claims from sessions attended",
            session_item,
            f"JOIN {_table(CourseSession)} cs ON cs.offering_id = o.id "
            f"JOIN {_table(Course)} c ON c.id = cs.course_id AND c.term_id = %(term)s",
        ),
        (
            "handbook claims from events attended",
            event_item,
            "WHERE o.kind = 'event' AND o.starts_at >= %(start)s AND o.starts_at < %(end)s",
        ),
    ):
        if item is None:
            continue
        where = "AND" if join.startswith("WHERE") else "WHERE"
        base = _base(Claim)
        day = "(o.starts_at AT TIME ZONE 'Asia/Shanghai')::date"
        approved = f"{_rnd('b.id', 25)} < 60"
        step(
            label,
            lambda item=item, join=join, where=where, base=base, day=day, approved=approved: run(
                Claim,
                {
                    "id": f"{base} + row_number() OVER (ORDER BY b.id)",
                    "family_id": "b.family_id",
                    "item_id": "%(item)s",
                    "child_id": "NULL",
                    "term_id": "%(term)s",
                    "unit_id": "o.unit_id",
                    "occurred_on": day,
                    "note": "''",
                    "photo": "''",
                    "photo_hash": "''",
                    "source": "'attendance'",
                    "booking_id": "b.id",
                    "status": f"CASE WHEN {approved} THEN 'approved' ELSE 'pending' END",
                    "points": f"CASE WHEN {approved} THEN %(points)s ELSE 0 END",
                    "flag_burst": "false",
                    "flag_reused_photo": "false",
                    "created_by_id": "NULL",
                    "created_at": "o.ends_at",
                    "decided_by_id": "NULL",
                    "decided_at": f"CASE WHEN {approved} THEN o.ends_at + interval '1 day' END",
                    "decision_reason": "''",
                },
                f"{_table(Booking)} b JOIN {_table(Offering)} o ON o.id = b.offering_id "
                f"{join} {where} b.id > {first['booking']} AND b.status = 'confirmed' "
                "AND b.attendance = 'present' AND o.starts_at < %(ref)s",
                {
                    "item": item.pk,
                    "points": item.points,
                    "term": term.pk,
                    "start": start,
                    "end": end,
                },
            ),
        )
    # The tallies the limits read: claims that hold a place (pending, asking for
    # more, approved), per family, item and day, week (its Monday) and term.
    counted = "('pending', 'more_info', 'approved')"
    for period, starts, group in (
        ("day", "c.occurred_on", ", c.occurred_on"),
        # The Monday of the day's week.
        ("week", "(c.occurred_on - (extract(isodow FROM c.occurred_on)::int - 1))", ", 4"),
        ("term", "%(starts)s::date", ""),
    ):
        step(
            f"handbook tallies ({period})",
            lambda period=period, starts=starts, group=group: run(
                ClaimTally,
                {
                    "family_id": "c.family_id",
                    "item_id": "c.item_id",
                    "period": f"'{period}'",
                    "starts_on": starts,
                    "used": "count(*)",
                },
                f"{_table(Claim)} c WHERE c.id > {claim0} AND c.status IN {counted} "
                f"GROUP BY c.family_id, c.item_id{group}",
                {"starts": term.starts_on},
            ),
        )
    # Each alliance's learning-family rule for the term (the list is computed by
    # recognition, as at term end).
    with transaction.atomic():
        LearningFamilyRule.objects.bulk_create(
            [
                LearningFamilyRule(
                    alliance=alliance,
                    term=term,
                    min_credits=1,
                    min_points=10,
                    min_home_items=4,
                    min_school_items=1,
                    min_behaviour_items=0,
                    min_sessions=1,
                )
                for alliance in alliances
            ]
        )
    counts["learning-family rules"] = len(alliances)
    return counts


# --- questionnaires ----------------------------------------------------------------------


def surveys_add(*, preset_name: str, seed: int, log: Callable[[str], None] = print) -> int:
    """The questionnaires for a data set generated before them (as catalogue_enrich
    is for the catalogue texts): nothing when its term survey is already there.
    Returns the surveys made."""
    from surveys.models import Participation, Survey, SurveyTemplate

    template = SurveyTemplate.objects.filter(alliance=None, name=SCALE_TERM_SURVEY).first()
    if template and Participation.objects.filter(survey__template=template).exists():
        return 0
    # A run stopped half-way left surveys without answers: start them again.
    Survey.objects.filter(template__name__in=[SCALE_TERM_SURVEY, SCALE_SESSION_SURVEY]).delete()
    prefix = f"S{seed}-{preset_name}-U"
    first_school = (
        ParentSchool.objects.filter(host_unit__code__startswith=prefix).order_by("pk").first()
    )
    first_course = (
        Course.objects.filter(parent_school__host_unit__code__startswith=prefix)
        .order_by("pk")
        .first()
    )
    term = Term.objects.get(is_current=True)
    args = {"seed": seed, "ref": REFERENCE}
    counts: dict[str, int] = {}

    def step(label: str, fn):
        t0 = time.perf_counter()
        with transaction.atomic():
            counts[label] = fn()
        log(f"  {label}: {counts[label]:,} rows in {time.perf_counter() - t0:.1f} s")

    def run(model, columns, source, extra=None):
        params = {**args, **(extra or {})}
        names, expressions = list(columns), list(columns.values())
        for column, value in _missing_defaults(model, names):
            names.append(column)
            expressions.append(f"%(default_{column})s")
            params[f"default_{column}"] = value
        sql = (
            f"INSERT INTO {_table(model)} ({', '.join(names)}) "
            f"SELECT {', '.join(expressions)} FROM {source}"
        )
        with connection.cursor() as cursor:
            cursor.execute(re.sub(r"%(?!\()", "%%", sql), params)
            return cursor.rowcount

    made = surveys_generate(
        p=PRESETS[preset_name],
        seed=seed,
        term=term,
        first={"school": first_school.pk, "course": first_course.pk},
        step=step,
        run=run,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return made["surveys"]


@dataclass(frozen=True)
class SurveyShape:
    """How much of the questionnaires generate_scale_data makes: the district's
    term survey deployed to every parent school (one parent_school_term survey
    each, every ``anonymous_every``-th anonymous), answered by ``term_answer_percent``
    of all the families; and a session survey on every ``session_every``-th
    held session of the term, answered by ``session_answer_percent`` of the
    families who attended."""

    term_answer_percent: int = 30
    anonymous_every: int = 4
    session_every: int = 10
    session_answer_percent: int = 50
    batch: int = 5  # an anonymous survey's release batch (SURVEYS_ANONYMOUS_BATCH)


SURVEY_SHAPE = SurveyShape()
SCALE_TERM_SURVEY = "规模测试学期问卷"
SCALE_SESSION_SURVEY = "规模测试课后问卷"


def _survey_template(name: str):
    """A district template with one version: satisfaction (the 考核 measure),
    recommend (NPS), format (single choice), suggestion (short text). The ORM:
    a handful of rows."""
    from surveys.models import Question, Section, SurveyTemplate, TemplateVersion

    template, _created = SurveyTemplate.objects.get_or_create(
        alliance=None, name=name, defaults={"description": "规模测试用的问卷模板"}
    )
    version = template.versions.order_by("-number").first()
    if version is not None:
        return template, version
    version = TemplateVersion.objects.create(template=template, number=1)
    section = Section.objects.create(version=version, title="总体评价", position=0)
    rows = [
        (
            "satisfaction",
            Question.Kind.RATING,
            "您对本学期家长学校的总体满意度",
            [],
            "satisfaction",
        ),
        ("recommend", Question.Kind.NPS, "您向其他家长推荐的可能性", [], ""),
        ("format", Question.Kind.SINGLE, "您最喜欢的形式", ["讲座", "案例研讨", "亲子实践"], ""),
        ("suggestion", Question.Kind.SHORT_TEXT, "其他建议", [], ""),
    ]
    Question.objects.bulk_create(
        [
            Question(
                version=version,
                section=section,
                key=key,
                kind=kind,
                label=label,
                options=options,
                required=key != "suggestion",
                position=position,
                measure=measure,
            )
            for position, (key, kind, label, options, measure) in enumerate(rows)
        ]
    )
    return template, version


def surveys_generate(*, p: Preset, seed: int, term: Term, first: dict, step, run) -> dict:
    """The questionnaires of the current term, in bulk SQL like the rest.

    * One term survey per parent school from the district template (as
      ``surveys.services.surveys_deploy`` makes them), open for the last weeks
      of the data's term; every fourth anonymous.
    * Invitations: the eligible families (a confirmed booking on a session of a
      course of that parent school in the term).
    * Answers: ``term_answer_percent`` of all families (60,000 of 200,000 at
      district-large), each the term survey of the first parent school it was
      invited by, picked by a hash of the family; a named survey's responses name
      the family, an anonymous one's are released in batches of five with no
      family, user or time (the anonymous design: ids random, batch numbers only).
    * Session surveys on every tenth held session, invitations to the families
      recorded present, half of them answering.
    """
    from surveys.models import Answer, Invitation, Participation, Question, Response, Survey

    shape = SURVEY_SHAPE
    counts: dict[str, int] = {}
    term_template, term_version = _survey_template(SCALE_TERM_SURVEY)
    session_template, session_version = _survey_template(SCALE_SESSION_SURVEY)
    questions = {
        (q.version_id, q.key): q.pk
        for q in Question.objects.filter(version__in=[term_version, session_version])
    }
    opens = dt.datetime(2026, 11, 1, 8, 0, tzinfo=SHANGHAI)
    closes = dt.datetime(2026, 12, 31, 20, 0, tzinfo=SHANGHAI)
    survey = _table(Survey)
    survey0 = _base(Survey)
    step(
        "term surveys",
        lambda: run(
            Survey,
            {
                "template_id": "%(template)s",
                "version_id": "%(version)s",
                "title": "ps.name || ' · ' || %(title)s",
                "scope": "'parent_school_term'",
                "parent_school_id": "ps.id",
                "term_id": "%(term)s",
                "unit_id": "ps.host_unit_id",
                "is_anonymous": "ps.id % %(every)s = 0",
                "opens_at": "%(opens)s",
                "closes_at": "%(closes)s",
                "is_published": "true",
                "invited_at": "%(opens)s",
                "released_batches": "0",
                "created_at": "%(ref)s",
            },
            f"{_table(ParentSchool)} ps WHERE ps.id >= %(first_school)s",
            {
                "template": term_template.pk,
                "version": term_version.pk,
                "title": f"{SCALE_TERM_SURVEY}（{term}）",
                "term": term.pk,
                "every": shape.anonymous_every,
                "opens": opens,
                "closes": closes,
                "first_school": first["school"],
            },
        ),
    )
    new_surveys = f"s.id > {survey0}"
    step(
        "term survey invitations",
        lambda: run(
            Invitation,
            {"survey_id": "x.survey_id", "family_id": "x.family_id", "invited_at": "%(opens)s"},
            f"(SELECT DISTINCT s.id AS survey_id, b.family_id FROM {survey} s "
            f"JOIN {_table(Course)} c ON c.parent_school_id = s.parent_school_id "
            "AND c.term_id = s.term_id "
            f"JOIN {_table(CourseSession)} cs ON cs.course_id = c.id "
            f"JOIN {_table(Booking)} b ON b.offering_id = cs.offering_id "
            f"WHERE {new_surveys} AND s.scope = 'parent_school_term' "
            "AND b.status = 'confirmed') x",
            {"opens": opens},
        ),
    )
    # The answering families: the first survey each was invited to, the families
    # ordered by a hash, as many as the share of all families.
    answering = p.parents * shape.term_answer_percent // 100
    term_answers = (
        "(SELECT survey_id, family_id FROM ("
        "SELECT DISTINCT ON (i.family_id) i.survey_id, i.family_id "
        f"FROM {_table(Invitation)} i JOIN {survey} s ON s.id = i.survey_id "
        f"WHERE {new_surveys} AND s.scope = 'parent_school_term' "
        "ORDER BY i.family_id, i.survey_id) first_invite "
        "ORDER BY abs(hashint8extended(family_id, %(seed)s + 31)), family_id "
        "LIMIT %(answering)s)"
    )
    # Session surveys: every tenth held, live session of the term (by offering id).
    step(
        "session surveys",
        lambda: run(
            Survey,
            {
                "template_id": "%(template)s",
                "version_id": "%(version)s",
                "title": "o.title || ' · ' || %(title)s",
                "scope": "'session'",
                "offering_id": "o.id",
                "parent_school_id": "c.parent_school_id",
                "term_id": "%(term)s",
                "unit_id": "ps.host_unit_id",
                "is_anonymous": "false",
                "opens_at": "NULL",
                "closes_at": "NULL",
                "is_published": "true",
                "invited_at": "o.ends_at + interval '2 hours'",
                "released_batches": "0",
                "created_at": "%(ref)s",
            },
            f"{_table(Offering)} o JOIN {_table(CourseSession)} cs ON cs.offering_id = o.id "
            f"JOIN {_table(Course)} c ON c.id = cs.course_id "
            f"JOIN {_table(ParentSchool)} ps ON ps.id = c.parent_school_id "
            "WHERE c.term_id = %(term)s AND o.status <> 'cancelled' AND o.starts_at < %(ref)s "
            "AND o.id % %(every)s = 0 AND c.id >= %(first_course)s",
            {
                "template": session_template.pk,
                "version": session_version.pk,
                "title": SCALE_SESSION_SURVEY,
                "term": term.pk,
                "every": shape.session_every,
                "first_course": first["course"],
            },
        ),
    )
    step(
        "session survey invitations",
        lambda: run(
            Invitation,
            {
                "survey_id": "s.id",
                "family_id": "b.family_id",
                "invited_at": "o.ends_at + interval '2 hours'",
            },
            f"{survey} s JOIN {_table(Offering)} o ON o.id = s.offering_id "
            f"JOIN {_table(Booking)} b ON b.offering_id = o.id "
            f"WHERE {new_surveys} AND s.scope = 'session' AND b.status = 'confirmed' "
            "AND b.attendance = 'present'",
        ),
    )
    session_answers = (
        f"(SELECT i.survey_id, i.family_id FROM {_table(Invitation)} i "
        f"JOIN {survey} s ON s.id = i.survey_id WHERE {new_surveys} AND s.scope = 'session' "
        f"AND abs(hashint8extended(i.id, %(seed)s + 32)) % 100 < {shape.session_answer_percent})"
    )

    def answered() -> int:
        """Participations, responses and answers of both kinds, through one
        temporary table of (survey, family, response id, batch) that goes with
        the transaction: the only place an anonymous response meets its family."""
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMPORARY TABLE scale_answered ON COMMIT DROP AS "
                "SELECT x.survey_id, x.family_id, s.is_anonymous, s.scope, "
                "gen_random_uuid() AS response_id, "
                "1 + (row_number() OVER (PARTITION BY x.survey_id ORDER BY random()) - 1) "
                "/ %(batch)s AS batch, "
                f"abs(hashint8extended(x.family_id * 7 + x.survey_id, %(seed)s + 33)) % 100 AS h "
                f"FROM ({term_answers} UNION ALL "
                f"{session_answers}) x JOIN {survey} s ON s.id = x.survey_id".replace(
                    "%", "%%"
                ).replace("%%(", "%("),
                {"seed": seed, "answering": answering, "batch": shape.batch},
            )
            cursor.execute("SELECT count(*) FROM scale_answered")
            total = cursor.fetchone()[0]
        run(
            Participation,
            {"survey_id": "a.survey_id", "family_id": "a.family_id", "answered_at": "%(ref)s"},
            "scale_answered a",
        )
        run(
            Response,
            {
                "id": "a.response_id",
                "survey_id": "a.survey_id",
                "version_id": "CASE WHEN a.scope = 'session' THEN %(sv)s ELSE %(tv)s END",
                "family_id": "CASE WHEN a.is_anonymous THEN NULL ELSE a.family_id END",
                "submitted_by_id": "CASE WHEN a.is_anonymous THEN NULL ELSE g.user_id END",
                "submitted_at": "CASE WHEN a.is_anonymous THEN NULL ELSE %(ref)s END",
                "batch": "CASE WHEN a.is_anonymous THEN a.batch END",
            },
            # Shuffled, so that the rows' physical order is no family's order.
            # One guardian's account per family (a join: MIN(user_id) in a
            # subquery per row would walk the user index for each answer).
            f"scale_answered a LEFT JOIN (SELECT family_id, MIN(user_id) AS user_id "
            f"FROM {_table(Guardian)} GROUP BY family_id) g ON g.family_id = a.family_id "
            "ORDER BY random()",
            {"sv": session_version.pk, "tv": term_version.pk},
        )
        # Satisfaction 5 (40 %), 4 (35 %), 3 (15 %), 2 (7 %), 1 (3 %); NPS 10 − h / 12;
        # format h % 3; a suggestion from every tenth named answer.
        rating = "CASE WHEN a.h < 40 THEN 5 WHEN a.h < 75 THEN 4 WHEN a.h < 90 THEN 3 WHEN a.h < 97 THEN 2 ELSE 1 END"
        for key, number, text, where in (
            ("satisfaction", rating, "''", ""),
            ("recommend", "10 - a.h / 12", "''", ""),
            ("format", "a.h % 3", "''", ""),
            (
                "suggestion",
                "NULL",
                "'希望多安排周末的亲子实践活动'",
                " WHERE NOT a.is_anonymous AND a.h % 10 = 0",
            ),
        ):
            run(
                Answer,
                {
                    "response_id": "a.response_id",
                    "question_id": "CASE WHEN a.scope = 'session' THEN %(sq)s ELSE %(tq)s END",
                    "number": number,
                    "text": text,
                },
                f"scale_answered a{where}",
                {
                    "sq": questions[(session_version.pk, key)],
                    "tq": questions[(term_version.pk, key)],
                },
            )
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {survey} s SET released_batches = x.batches FROM "
                "(SELECT survey_id, MAX(batch) AS batches FROM scale_answered "
                "WHERE is_anonymous GROUP BY survey_id) x WHERE s.id = x.survey_id"
            )
        return total

    step("survey answers (participations, responses, answers)", answered)
    counts["surveys"] = Survey.objects.filter(pk__gt=survey0).count()
    for model in (Survey, Invitation, Participation, Answer):
        _reset_sequence(model)
    return counts


# --- the boards and the buddy groups (issue 16) ------------------------------------------


@dataclass(frozen=True)
class CommunityShape:
    """How much of 互助交流 and the buddy groups generate_scale_data makes.

    ``groups`` groups over the parent schools (家伴 and 学伴 alternately), each with
    4–6 member families (never more than GROUPS_MAX_PER_KIND groups of a kind for
    a family or a child: the quota rows say so too); ``boards`` boards: one per
    parent school, the rest the first groups' boards; ``posts`` posts in
    ``posts / 10`` threads. The sizes are skewed on purpose, for the bench: every
    tenth thread is on the first school's board (the big board), every hundredth
    on the second's (a tenth of it), the others round the other boards; a tenth
    of the replies go to a hundred long threads of the big board. The last 1% of the threads wait for moderation."""

    boards: int
    posts: int
    groups: int
    staff_reply_percent: int = 12  # replies written by an instructor or facilitator
    question_percent: int = 60
    accepted_percent: int = 50  # of the questions a staff member answered
    # Every this many groups is dissolved: its members ENDED, places and quotas
    # released, its board (if it has one) archived, as groups.services leaves them.
    dissolved_every: int = 50


COMMUNITY_SHAPES = {
    "small": CommunityShape(boards=60, posts=5_000, groups=50),
    "district-large": CommunityShape(boards=2_000, posts=500_000, groups=5_000),
}
SCALE_FACILITATOR = "scale_fac"
_THREAD_TITLES = [
    "孩子写作业拖拉怎么办",
    "青春期孩子不愿意沟通",
    "周末亲子活动推荐",
    "二年级数学怎么辅导",
    "孩子沉迷手机游戏",
    "如何培养阅读习惯",
    "分享：我们家的作息表",
    "幼小衔接需要准备什么",
]
_POST_PHRASES = [
    "我家孩子最近也遇到类似的情况，",
    "老师在家长课堂上讲过这个方法，",
    "可以先和孩子约定好时间，",
    "我们试过每天一起读二十分钟书，",
    "不要急着批评，先听听孩子怎么说，",
    "学校的心理老师建议多鼓励少比较，",
    "周末带孩子去图书馆效果不错，",
    "坚持了一个月，变化挺明显的。",
]


def _community_first(preset_name: str, seed: int) -> dict:
    """The first ids of a generated data set's rows (for community_add)."""
    prefix = f"S{seed}-{preset_name}-U"
    schools = ParentSchool.objects.filter(host_unit__code__startswith=prefix).order_by("pk")
    units = MemberUnit.objects.filter(code__startswith=prefix).order_by("pk")
    user1 = User.objects.get(username="scale_p1")
    guardian = Guardian.objects.get(user=user1)
    child = Child.objects.filter(family_id=guardian.family_id).order_by("pk").first()
    return {
        "school": schools.first().pk,
        "unit": units.first().pk,
        "user": user1.pk - 1,
        "family": guardian.family_id - 1,
        "child": child.pk - 1,
    }


def community_add(*, preset_name: str, seed: int, log: Callable[[str], None] = print, shape=None):
    """The boards and groups for a data set generated before them (as surveys_add
    is for the questionnaires): nothing when its groups are already there.
    Returns the posts made."""
    from groups.models import Group

    if Group.objects.filter(
        name__startswith="规模测试",
        parent_school__host_unit__code__startswith=(f"S{seed}-{preset_name}-U"),
    ).exists():
        return 0
    p = PRESETS[preset_name]
    args = {"seed": seed, "ref": REFERENCE}
    counts: dict[str, int] = {}

    def step(label: str, fn):
        t0 = time.perf_counter()
        with transaction.atomic():
            counts[label] = fn()
        log(f"  {label}: {counts[label]:,} rows in {time.perf_counter() - t0:.1f} s")

    def run(model, columns, source, extra=None):
        params = {**args, **(extra or {})}
        names, expressions = list(columns), list(columns.values())
        for column, value in _missing_defaults(model, names):
            names.append(column)
            expressions.append(f"%(default_{column})s")
            params[f"default_{column}"] = value
        sql = (
            f"INSERT INTO {_table(model)} ({', '.join(names)}) "
            f"SELECT {', '.join(expressions)} FROM {source}"
        )
        with connection.cursor() as cursor:
            cursor.execute(re.sub(r"%(?!\()", "%%", sql), params)
            return cursor.rowcount

    # One transaction: a run stopped half-way leaves nothing, and the next one starts again.
    with transaction.atomic():
        made = community_generate(
            p=p,
            seed=seed,
            term=Term.objects.get(is_current=True),
            first=_community_first(preset_name, seed),
            step=step,
            run=run,
            shape=shape or COMMUNITY_SHAPES[preset_name],
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return made["posts"]


def community_generate(
    *, p: Preset, seed: int, term: Term, first: dict, step, run, shape: CommunityShape
) -> dict:
    """Groups, memberships and quotas, boards, threads and posts in bulk SQL.

    ``first``: the ids before the data set's first school, unit, user, family and
    child (``school`` and ``unit`` are the first ones themselves). The rows are
    what the services would have written: snapshots of a nickname and the school
    on every post (never a phone or a child's name), each thread's reply count,
    last activity, first staff reply and accepted answer kept as
    community.services keeps them.
    """
    from django.conf import settings

    from community.models import Board, Post, Thread
    from groups.models import Group, GroupMembership, GroupQuota

    S, U, P = p.parent_schools, p.units, p.parents
    G = shape.groups
    group_boards = max(0, min(shape.boards - S, G))
    B = S + group_boards
    T = max(shape.posts // 10, 100)
    held = T // 100
    published_threads = T - held
    R = max(shape.posts - T, 0)
    school0, unit0 = first["school"], first["unit"]
    family0, user0, child0 = first["family"], first["user"], first["child"]
    counts: dict[str, int] = {}

    # A facilitator per unit: an instructor there (the groups' facilitators and the
    # staff who answer on the boards). The ORM: a few hundred rows.
    password = make_password(SCALE_PASSWORD, salt="scaledata")
    units = list(MemberUnit.objects.filter(pk__gte=unit0).order_by("pk")[:U])
    # The parents' bulk rows named their ids: move the sequences past them first.
    _reset_sequence(User)
    _reset_sequence(RoleAssignment)
    with transaction.atomic():
        facilitators = User.objects.bulk_create(
            [
                User(
                    username=f"{SCALE_FACILITATOR}{i + 1}_{seed}",
                    password=password,
                    display_name=f"规模讲师{i + 1:04d}",
                    is_staff=True,
                )
                for i in range(len(units))
            ]
        )
        RoleAssignment.objects.bulk_create(
            [
                RoleAssignment(user=user, role=RoleAssignment.Role.INSTRUCTOR, unit=unit)
                for user, unit in zip(facilitators, units, strict=True)
            ]
        )
    facs = [user.pk for user in facilitators]
    # school s (id school0 + s) is hosted by unit s % U: its staff member facs[s % U]
    staff_of = f"(%(facs)s::bigint[])[1 + ((ps.id - {school0}) % {len(facs)})]"
    window = int((REFERENCE - dt.timedelta(days=5) - term_window(term)[0]).total_seconds())
    common = {"facs": facs, "tstart": term_window(term)[0], "window": window}

    group0 = _base(Group)
    membership0 = _base(GroupMembership)
    # Groups 19, 69, 119, …: among the first ones, which have boards (archived now).
    dissolved = f"g % {shape.dissolved_every} = {min(19, shape.dissolved_every - 1)}"
    step(
        "groups",
        lambda: run(
            Group,
            {
                "id": f"{group0} + 1 + g",
                "kind": "CASE WHEN g % 2 = 0 THEN 'family' ELSE 'study' END",
                "name": "CASE WHEN g % 2 = 0 THEN '规模测试家伴小组' ELSE '规模测试学伴小组' END || g",
                "description": "'一起陪伴孩子成长的小组'",
                "parent_school_id": f"{school0} + g % {S}",
                "facilitator_id": f"(%(facs)s::bigint[])[1 + (g % {S}) % {len(facs)}]",
                "facilitator_role": "'instructor'",
                "min_size": "2",
                "max_size": "8",
                "joining": "(ARRAY['open','request','facilitator'])[1 + g % 3]",
                "status": f"CASE WHEN {dissolved} THEN 'dissolved' ELSE 'active' END",
                "member_count": "0",
                "created_by_id": "NULL",
                "created_at": "%(ref)s",
                "dissolved_at": f"CASE WHEN {dissolved} THEN %(ref)s - interval '10 days' END",
                "dissolved_by_id": "NULL",
            },
            "generate_series(0, %(n)s - 1) AS g",
            {"n": G, **common},
        ),
    )
    # Member k of group g is family (g·7919 + k·104729) mod P (distinct within a
    # group, see bookings); a family's groups of a kind beyond the limit are left out.
    step(
        "group memberships",
        lambda: run(
            GroupMembership,
            {
                "group_id": f"{group0} + 1 + x.g",
                "family_id": f"{family0} + 1 + x.fam",
                "child_id": f"CASE WHEN x.g % 2 = 1 THEN {child0} + 1 + x.fam END",
                "status": f"CASE WHEN x.{dissolved} THEN 'ended' ELSE 'active' END",
                "requested_at": "NULL",
                "joined_at": "%(ref)s - make_interval(days => 30 + x.g % 30)",
                "ended_at": f"CASE WHEN x.{dissolved} THEN %(ref)s - interval '10 days' END",
                "added_by_id": "NULL",
            },
            "(SELECT g, fam, row_number() OVER (PARTITION BY fam, g % 2 ORDER BY g) AS rn "
            "FROM (SELECT g, (g * 7919 + k * 104729) % %(parents)s AS fam "
            "FROM generate_series(0, %(n)s - 1) AS g CROSS JOIN generate_series(0, 5) AS k "
            "WHERE k < 4 + g % 3) c) x WHERE x.rn <= %(per_kind)s",
            {"n": G, "parents": P, "per_kind": settings.GROUPS_MAX_PER_KIND},
        ),
    )

    def member_counts() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {_table(Group)} grp SET member_count = x.n FROM "
                f"(SELECT group_id, count(*) AS n FROM {_table(GroupMembership)} "
                "WHERE id > %s AND status = 'active' GROUP BY group_id) x "
                "WHERE grp.id = x.group_id",
                [membership0],
            )
            return cursor.rowcount

    step("group member counts", member_counts)
    # As groups.services.quota_key: a 学伴 place is the child's, a 家伴 place the family's.
    step(
        "group quotas",
        lambda: run(
            GroupQuota,
            {"key": "x.key", "used": "x.used"},
            "(SELECT CASE WHEN grp.kind = 'study' THEN 'child:' || m.child_id || ':study' "
            "ELSE 'family:' || m.family_id || ':family' END AS key, count(*) AS used "
            f"FROM {_table(GroupMembership)} m JOIN {_table(Group)} grp ON grp.id = m.group_id "
            f"WHERE m.id > {membership0} AND m.status = 'active' GROUP BY 1) x",
        ),
    )

    board0 = _base(Board)
    step(
        "school boards",
        lambda: run(
            Board,
            {
                "id": f"{board0} + 1 + (ps.id - {school0})",
                "kind": "'school'",
                "title": "ps.name || '交流区'",
                "parent_school_id": "ps.id",
                "group_id": "NULL",
                "alliance_id": "NULL",
                "unit_id": "ps.host_unit_id",
                "hold_first_posts": "0",
                "is_archived": "false",
                "archived_at": "NULL",
                "created_at": "%(ref)s",
            },
            f"{_table(ParentSchool)} ps WHERE ps.id BETWEEN {school0} AND {school0 + S - 1}",
        ),
    )
    step(
        "group boards",
        lambda: run(
            Board,
            {
                "id": f"{board0} + 1 + {S} + (grp.id - {group0} - 1)",
                "kind": "'group'",
                "title": "grp.name || '交流区'",
                "parent_school_id": "grp.parent_school_id",
                "group_id": "grp.id",
                "alliance_id": "NULL",
                "unit_id": "ps.host_unit_id",
                "hold_first_posts": "0",
                "is_archived": "grp.status = 'dissolved'",
                "archived_at": "grp.dissolved_at",
                "created_at": "%(ref)s",
            },
            f"{_table(Group)} grp JOIN {_table(ParentSchool)} ps ON ps.id = grp.parent_school_id "
            f"WHERE grp.id BETWEEN {group0 + 1} AND {group0 + group_boards}",
        ),
    )

    thread0 = _base(Thread)
    post0 = _base(Post)
    big, medium = board0 + 1, board0 + 2
    published = (
        "(%(tstart)s::timestamptz + make_interval(secs => "
        "(abs(hashint8extended(t::bigint, %(seed)s + 42)) % %(window)s)::double precision))"
    )
    family_of_thread = f"((t::bigint * 7919) % {P})"
    step(
        "threads",
        lambda: run(
            Thread,
            {
                "id": f"{thread0} + 1 + t",
                "board_id": f"CASE WHEN t % 10 = 0 THEN {big} WHEN t % 100 = 1 THEN {medium} "
                f"ELSE {board0} + 3 + t % {B - 2} END",
                "kind": f"CASE WHEN {_rnd('t', 40)} < {shape.question_percent} "
                "THEN 'question' ELSE 'sharing' END",
                "title": f"(%(titles)s::text[])[1 + t % {len(_THREAD_TITLES)}] || '（' || t || '）'",
                "status": f"CASE WHEN t >= {published_threads} THEN 'held' "
                f"WHEN {_rnd('t', 41)} < 1 THEN 'hidden' ELSE 'published' END",
                "author_family_id": f"{family0} + 1 + {family_of_thread}",
                "author_user_id": f"{user0} + 1 + {family_of_thread}",
                "is_pinned": "t % 10 = 0 AND t < 30",
                "is_closed": f"{_rnd('t', 45)} < 2",
                "accepted_post_id": "NULL",
                "accepted_by_id": "NULL",
                "accepted_at": "NULL",
                "reply_count": "0",
                "last_activity_at": published,
                "published_at": f"CASE WHEN t >= {published_threads} THEN NULL ELSE {published} END",
                "first_staff_reply_at": "NULL",
                "created_at": published,
            },
            "generate_series(0, %(n)s - 1) AS t",
            {"n": T, "titles": _THREAD_TITLES, **common},
        ),
    )
    thread_t = _table(Thread)
    board_t = _table(Board)
    ps_t = _table(ParentSchool)
    body = (
        f"(%(phrases)s::text[])[1 + {_rnd('{x}', 46)} % {len(_POST_PHRASES)}] || "
        f"(%(phrases)s::text[])[1 + {_rnd('{x}', 47)} % {len(_POST_PHRASES)}] || "
        f"(%(phrases)s::text[])[1 + {_rnd('{x}', 48)} % {len(_POST_PHRASES)}]"
    )
    step(
        "opening posts",
        lambda: run(
            Post,
            {
                "thread_id": "th.id",
                "board_id": "th.board_id",
                "is_opening": "true",
                "body": body.format(x="th.id"),
                "author_family_id": "th.author_family_id",
                "author_user_id": "th.author_user_id",
                "author_role": "'family'",
                "author_name": f"'规模家长' || (th.author_family_id - {family0})",
                "author_school": "ps.name",
                "status": "th.status",
                "held_for": "CASE WHEN th.status = 'held' THEN 'new_member' ELSE '' END",
                "matched_categories": "''",
                "report_count": "0",
                "created_at": "th.created_at",
                "published_at": "th.published_at",
                "decided_at": "NULL",
            },
            f"{thread_t} th JOIN {board_t} bd ON bd.id = th.board_id "
            f"JOIN {ps_t} ps ON ps.id = bd.parent_school_id WHERE th.id > {thread0}",
            {"phrases": _POST_PHRASES},
        ),
    )
    # Reply r: a tenth go to the hundred long threads of the big board (t = 0, 10, …,
    # 990), the rest round the published threads; held threads get none.
    reply_thread = (
        f"CASE WHEN r < {R // 10} THEN ((r % 100) * 10) % {published_threads} "
        f"ELSE r % {published_threads} END"
    )
    staff = f"{_rnd('r', 43)} < {shape.staff_reply_percent}"
    reply_family = f"((r::bigint * 104729) % {P})"
    reply_at = "th.published_at + make_interval(mins => (3 + r % 2880)::int)"
    step(
        "replies",
        lambda: run(
            Post,
            {
                "thread_id": "th.id",
                "board_id": "th.board_id",
                "is_opening": "false",
                "body": body.format(x="r"),
                "author_family_id": f"CASE WHEN {staff} THEN NULL ELSE {family0} + 1 + {reply_family} END",
                "author_user_id": f"CASE WHEN {staff} THEN {staff_of} ELSE {user0} + 1 + {reply_family} END",
                "author_role": f"CASE WHEN NOT {staff} THEN 'family' "
                "WHEN bd.kind = 'group' THEN 'facilitator' ELSE 'instructor' END",
                "author_name": f"CASE WHEN {staff} THEN '规模讲师' || lpad(((ps.id - {school0}) "
                f"% {len(facs)} + 1)::text, 4, '0') ELSE '规模家长' || {reply_family} + 1 END",
                "author_school": "ps.name",
                "status": "'published'",
                "held_for": "''",
                "matched_categories": "''",
                "report_count": "0",
                "created_at": reply_at,
                "published_at": reply_at,
                "decided_at": "NULL",
            },
            f"generate_series(0, %(n)s - 1) AS r JOIN {thread_t} th "
            f"ON th.id = {thread0} + 1 + ({reply_thread}) "
            f"JOIN {board_t} bd ON bd.id = th.board_id "
            f"JOIN {ps_t} ps ON ps.id = bd.parent_school_id",
            {"n": R, "phrases": _POST_PHRASES, **common},
        ),
    )

    def thread_counters() -> int:
        """As community.services keeps them: published replies, the latest activity,
        the first staff reply, and (for half of the questions a staff member
        answered) that reply accepted by the staff member."""
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {thread_t} th SET reply_count = x.replies, "
                "last_activity_at = GREATEST(th.last_activity_at, x.latest), "
                "first_staff_reply_at = x.first_staff, "
                f"accepted_post_id = CASE WHEN th.kind = 'question' AND {_rnd('th.id', 44)} "
                f"< {shape.accepted_percent} THEN x.first_staff_post END, "
                f"accepted_by_id = CASE WHEN th.kind = 'question' AND {_rnd('th.id', 44)} "
                f"< {shape.accepted_percent} THEN x.first_staff_user END, "
                f"accepted_at = CASE WHEN th.kind = 'question' AND {_rnd('th.id', 44)} "
                f"< {shape.accepted_percent} THEN x.first_staff END "
                "FROM (SELECT thread_id, count(*) AS replies, max(published_at) AS latest, "
                "min(published_at) FILTER (WHERE author_role <> 'family') AS first_staff, "
                "(array_agg(id ORDER BY published_at, id) FILTER "
                "(WHERE author_role <> 'family'))[1] AS first_staff_post, "
                "(array_agg(author_user_id ORDER BY published_at, id) FILTER "
                "(WHERE author_role <> 'family'))[1] AS first_staff_user "
                f"FROM {_table(Post)} WHERE id > %(post0)s AND NOT is_opening "
                "GROUP BY thread_id) x WHERE th.id = x.thread_id".replace("%", "%%").replace(
                    "%%(", "%("
                ),
                {"seed": seed, "post0": post0},
            )
            return cursor.rowcount

    step("thread counters", thread_counters)
    counts["posts"] = Post.objects.filter(pk__gt=post0).count()
    for model in (User, RoleAssignment, Group, GroupMembership, GroupQuota, Board, Thread, Post):
        _reset_sequence(model)
    return counts
