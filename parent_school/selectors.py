"""Reads for parent schools."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Q, QuerySet

from .models import ParentSchool, Term


def term_current() -> Term | None:
    return Term.objects.filter(is_current=True).first()


def term_window(term: Term) -> tuple[dt.datetime, dt.datetime]:
    """The term as [start, end): local midnight of its first day and of the day
    after its last day (Asia/Shanghai). Everything that asks "in this term?" of a
    moment (roll-ups, recognition, survey eligibility, scale data) uses this one."""
    zone = ZoneInfo(settings.TIME_ZONE)
    start = dt.datetime.combine(term.starts_on, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(term.ends_on + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return start, end


def parent_school_list(*, kind: str | None = None) -> QuerySet[ParentSchool]:
    """Active parent schools with their published-course count, one query per page."""
    schools = (
        ParentSchool.objects.filter(is_active=True)
        .select_related("host_unit", "region")
        .annotate(course_count=Count("courses", filter=Q(courses__is_published=True)))
        .order_by("region__name", "name")
    )
    if kind in ParentSchool.Kind.values:
        schools = schools.filter(kind=kind)
    return schools
