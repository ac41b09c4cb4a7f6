"""The catalogue's facets, parsed and validated by django-filter.

Invalid values (``?theme=abc``, an unknown id, a script tag) fail validation and
are dropped from ``cleaned_data``, so they filter nothing and never raise.
"""

import django_filters
from django import forms
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bookings.models import Offering
from members.models import Region, SchoolStage
from parent_school.models import ParentSchool, Term

from .models import Course, CourseSession, Theme


def upcoming_open_sessions():
    """Sessions of the outer course that are open and not yet started."""
    return CourseSession.objects.filter(
        course=OuterRef("pk"),
        offering__status=Offering.Status.OPEN,
        offering__starts_at__gt=timezone.now(),
    )


class CourseFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("关键词"), method="filter_keyword", max_length=50, strip=True
    )
    theme = django_filters.ModelChoiceFilter(
        label=_("主题"), field_name="themes", queryset=Theme.objects.all()
    )
    stage = django_filters.ChoiceFilter(
        label=_("学段"), field_name="stages__code", choices=SchoolStage.choices
    )
    level = django_filters.ChoiceFilter(label=_("层级"), choices=Course.Level.choices)
    mode = django_filters.ChoiceFilter(label=_("形式"), choices=Course.Mode.choices)
    region = django_filters.ModelChoiceFilter(
        label=_("街道/社区"), queryset=Region.objects.all(), method="filter_region"
    )
    parent_school = django_filters.ModelChoiceFilter(
        label=_("家长学校"), queryset=ParentSchool.objects.filter(is_active=True)
    )
    term = django_filters.ModelChoiceFilter(label=_("学期"), queryset=Term.objects.all())
    free = django_filters.BooleanFilter(
        label=_("只看有空位"), method="filter_free", widget=forms.CheckboxInput
    )
    date_from = django_filters.DateFilter(
        label=_("开课日期从"),
        method="filter_date_bound",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    date_to = django_filters.DateFilter(
        label=_("至"), method="filter_date_bound", widget=forms.DateInput(attrs={"type": "date"})
    )

    class Meta:
        model = Course
        fields: list[str] = []

    def filter_keyword(self, queryset, name, value):
        if not value:
            return queryset
        # icontains: Chinese substrings match (PostgreSQL uses the trigram indexes
        # from migration 0003; SQLite scans, which is fine for a laptop).
        return queryset.filter(Q(title__icontains=value) | Q(summary__icontains=value))

    def filter_region(self, queryset, name, value):
        if value is None:
            return queryset
        # A street also matches the parent schools of its communities.
        return queryset.filter(
            Q(parent_school__region=value) | Q(parent_school__region__parent=value)
        )

    def filter_free(self, queryset, name, value):
        if not value:
            return queryset
        free = upcoming_open_sessions().filter(offering__places_taken__lt=F("offering__capacity"))
        return queryset.filter(Exists(free))

    def filter_date_bound(self, queryset, name, value):
        # Both bounds apply to the same session: see filter_queryset.
        return queryset

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        data = self.form.cleaned_data
        date_from, date_to = data.get("date_from"), data.get("date_to")
        if date_from or date_to:
            sessions = CourseSession.objects.filter(course=OuterRef("pk"))
            if date_from:
                sessions = sessions.filter(offering__starts_at__date__gte=date_from)
            if date_to:
                sessions = sessions.filter(offering__starts_at__date__lte=date_to)
            queryset = queryset.filter(Exists(sessions))
        return queryset


FACETS = ("theme", "stage", "level", "mode", "region", "parent_school", "term")


def catalogue_filterset(data, queryset) -> CourseFilter:
    filterset = CourseFilter(data=data or None, queryset=queryset)
    filterset.is_valid()  # validate once; invalid values are dropped, never raised
    return filterset


def queryset_without(filterset: CourseFilter, excluded: str):
    """The filtered queryset with one facet's own filter left out (for its counts)."""
    if not filterset.is_bound:
        return filterset.queryset.all()
    queryset = filterset.queryset.all()
    data = dict(filterset.form.cleaned_data)
    for name, value in data.items():
        if name in (excluded, "date_from", "date_to"):
            continue
        queryset = filterset.filters[name].filter(queryset, value)
    date_from, date_to = data.get("date_from"), data.get("date_to")
    if date_from or date_to:
        sessions = CourseSession.objects.filter(course=OuterRef("pk"))
        if date_from:
            sessions = sessions.filter(offering__starts_at__date__gte=date_from)
        if date_to:
            sessions = sessions.filter(offering__starts_at__date__lte=date_to)
        queryset = queryset.filter(Exists(sessions))
    return queryset
