"""Reads for parent schools."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from .models import ParentSchool, Term


def term_current() -> Term | None:
    return Term.objects.filter(is_current=True).first()


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
