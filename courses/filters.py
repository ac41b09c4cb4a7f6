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

from . import search
from .models import Course, CourseSession, Theme


def upcoming_open_sessions():
    """Sessions of the outer course that are open and not yet started."""
    return CourseSession.objects.filter(
        course=OuterRef("pk"),
        offering__status=Offering.Status.OPEN,
        offering__starts_at__gt=timezone.now(),
    )


class KeywordField(forms.CharField):
    """The search box: a query pasted longer than the limit is cut, not refused,
    so a parent who pastes a sentence still gets results. Null characters are
    still refused (Django's validator): PostgreSQL cannot compare them."""

    def to_python(self, value):
        return super().to_python(value)[: search.MAX_QUERY_CHARS]


class KeywordFilter(django_filters.CharFilter):
    field_class = KeywordField


class CourseFilter(django_filters.FilterSet):
    q = KeywordFilter(
        label=_("关键词"),
        method="filter_keyword",
        max_length=search.MAX_QUERY_CHARS,
        strip=True,
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
    # Any school a published course names, active or not: the facet lists the
    # schools of the courses shown, and each of its values must be accepted.
    parent_school = django_filters.ModelChoiceFilter(
        label=_("家长学校"), queryset=ParentSchool.objects.all()
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
        # Courses with at least one of the query's words (courses/search.py); the
        # selector ranks them. A query with no word in it (only punctuation) is ignored.
        words = search.search_words(value or "")
        if not words:
            return queryset
        # Found once per request (the list and each facet's counts ask again).
        if getattr(self, "_search_for", None) != words:
            self._search_filter = search.search_filter(self.queryset, words)
            self._search_for = words
        return queryset.filter(self._search_filter)

    def use_search_ids(self, words, ids: list[int]) -> None:
        """The search's matches, already found (courses.selectors ranks them in the
        same query): the list and the counts filter on them without searching again."""
        self._search_filter = Q(search.PkInArray(list(ids)))
        self._search_for = words

    def use_regions(self, regions: dict) -> None:
        """The regions, already read as {pk: (name, kind, parent)}: region_and_below
        then needs no query of its own."""
        children: dict[int | None, list[int]] = {}
        for pk, (_name, _kind, parent) in regions.items():
            children.setdefault(parent, []).append(pk)
        self._region_children = children

    def filter_region(self, queryset, name, value):
        if value is None:
            return queryset
        # A region matches the parent schools in it and in every place below it
        # (a district its streets and their communities), as its facet count does.
        return queryset.filter(parent_school__region__in=self.region_and_below(value.pk))

    def region_and_below(self, region_id: int) -> list[int]:
        """The region and all regions under it, from one query per request."""
        if not hasattr(self, "_region_children"):
            children: dict[int | None, list[int]] = {}
            for pk, parent in Region.objects.values_list("pk", "parent_id"):
                children.setdefault(parent, []).append(pk)
            self._region_children = children
        found: set[int] = set()
        todo = [region_id]
        while todo:
            pk = todo.pop()
            if pk in found:  # a loop in bad data must not hang the page
                continue
            found.add(pk)
            todo.extend(self._region_children.get(pk, []))
        return sorted(found)

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
        return with_session_between(queryset, data.get("date_from"), data.get("date_to"))


def with_session_between(queryset, date_from, date_to):
    """Courses with one session whose day lies within both bounds (either may be None)."""
    if not (date_from or date_to):
        return queryset
    sessions = CourseSession.objects.filter(course=OuterRef("pk"))
    if date_from:
        sessions = sessions.filter(offering__starts_at__date__gte=date_from)
    if date_to:
        sessions = sessions.filter(offering__starts_at__date__lte=date_to)
    return queryset.filter(Exists(sessions))


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
