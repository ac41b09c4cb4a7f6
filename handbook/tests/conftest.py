"""A small world for the handbook's tests: a current term around today, a school
in an alliance with its own handbook, a family with a child there, the school's
class teacher (a unit coordinator) and a teacher of another school."""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from handbook.models import HandbookItem, ItemKind
from handbook.tests.factories import HandbookItemFactory
from members.models import RoleAssignment
from members.tests.factories import (
    AllianceFactory,
    ChildFactory,
    GuardianFactory,
    MembershipFactory,
    MemberUnitFactory,
    RoleAssignmentFactory,
    UserFactory,
)
from parent_school.tests.factories import TermFactory


@dataclass
class World:
    term: object
    today: datetime.date
    alliance: object
    school: object
    other_school: object
    family: object
    guardian: object
    parent: object
    child: object
    teacher: object
    other_teacher: object
    reading: HandbookItem  # at home, no evidence, 1 a day
    chores: HandbookItem  # at home, a photo, 1 a day, 2 a week
    meeting: HandbookItem  # at school, a note, 3 a term
    course: HandbookItem  # at school, from course-session attendance
    volunteer: HandbookItem  # at school, from volunteer events


def alliance_coordinator(alliance, **user):
    """A coordinator of ``alliance`` (of no unit); ``user`` fields give them a fresh
    account made with them (``is_staff=True`` for the admin)."""
    return RoleAssignmentFactory(
        role=RoleAssignment.Role.ALLIANCE_COORDINATOR,
        alliance=alliance,
        unit=None,
        **({"user": UserFactory(**user)} if user else {}),
    ).user


def current_term(today=None):
    today = today or timezone.localdate()
    return TermFactory(
        code="handbook-test",
        school_year="2026–2027",
        starts_on=today - datetime.timedelta(days=60),
        ends_on=today + datetime.timedelta(days=60),
        is_current=True,
    )


def build_world() -> World:
    today = timezone.localdate()
    term = current_term(today)
    alliance = AllianceFactory()
    school = MemberUnitFactory(name="第一小学")
    other_school = MemberUnitFactory(name="第二小学")
    MembershipFactory(alliance=alliance, unit=school)
    guardian = GuardianFactory()
    child = ChildFactory(family=guardian.family, nickname="小明", school=school)
    teacher = RoleAssignmentFactory(unit=school, role=RoleAssignment.Role.UNIT_COORDINATOR).user
    other_teacher = RoleAssignmentFactory(
        unit=other_school, role=RoleAssignment.Role.UNIT_COORDINATOR
    ).user
    items = dict(
        reading=HandbookItemFactory(alliance=alliance, name="亲子阅读", points=2),
        chores=HandbookItemFactory(
            alliance=alliance,
            name="家务劳动",
            evidence=HandbookItem.Evidence.PHOTO,
            limit_per_week=2,
        ),
        meeting=HandbookItemFactory(
            alliance=alliance,
            kind=ItemKind.SCHOOL,
            name="家长会",
            evidence=HandbookItem.Evidence.NOTE,
            points=5,
            limit_per_day=None,
            limit_per_term=3,
        ),
        course=HandbookItemFactory(
            alliance=alliance,
            kind=ItemKind.SCHOOL,
            name="家长课堂",
            evidence=HandbookItem.Evidence.ATTENDANCE,
            attendance_match=HandbookItem.AttendanceMatch.COURSE_SESSION,
            points=5,
            limit_per_day=None,
            limit_per_term=8,
        ),
        volunteer=HandbookItemFactory(
            alliance=alliance,
            kind=ItemKind.SCHOOL,
            name="志愿服务",
            evidence=HandbookItem.Evidence.ATTENDANCE,
            attendance_match=HandbookItem.AttendanceMatch.EVENT,
            event_kinds=["volunteer"],
            points=5,
            limit_per_day=None,
        ),
    )
    return World(
        term=term,
        today=today,
        alliance=alliance,
        school=school,
        other_school=other_school,
        family=guardian.family,
        guardian=guardian,
        parent=guardian.user,
        child=child,
        teacher=teacher,
        other_teacher=other_teacher,
        **items,
    )


@pytest.fixture
def world(db) -> World:
    return build_world()


@pytest.fixture
def second_parent(world):
    return GuardianFactory(family=world.family, user=UserFactory()).user


def jpeg_upload(
    name="IMG_小明_20261201.jpg", size=(2400, 1800), color=(200, 80, 40), exif=None, fmt="JPEG"
):
    from PIL import Image

    image = Image.new("RGB", size, color)
    # A few different pixels, so two colours never hash alike by accident.
    image.putpixel((0, 0), (color[2], color[1], color[0]))
    out = io.BytesIO()
    kwargs = {"exif": exif} if exif is not None else {}
    image.save(out, format=fmt, **kwargs)
    content_type = {"JPEG": "image/jpeg", "PNG": "image/png"}[fmt]
    return SimpleUploadedFile(name, out.getvalue(), content_type=content_type)


@pytest.fixture
def tx_world(transactional_db) -> World:
    """The world in committed rows, for races and the real worker."""
    return build_world()
