"""Public pages: the list of parent schools and one school with its courses."""

from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render

from . import selectors
from .models import ParentSchool, Target


def parent_school_list(request):
    kind = request.GET.get("kind") or None
    schools = selectors.parent_school_list(kind=kind)
    page = Paginator(schools, 20).get_page(request.GET.get("page"))
    return render(
        request,
        "parent_school/list.html",
        {"page_obj": page, "kind": kind, "kinds": ParentSchool.Kind.choices},
    )


def parent_school_detail(request, pk: int):
    school = get_object_or_404(
        ParentSchool.objects.select_related("host_unit", "region"), pk=pk, is_active=True
    )
    term = selectors.term_current()
    target = Target.objects.filter(parent_school=school, term=term).first() if term else None
    return render(
        request,
        "parent_school/detail.html",
        {"school": school, "term": term, "target": target},
    )
