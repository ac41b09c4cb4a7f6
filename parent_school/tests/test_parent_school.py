import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from courses.tests.factories import CourseFactory
from parent_school.models import Instructor, ParentSchool
from parent_school.tests.factories import (
    InstructorFactory,
    ParentSchoolFactory,
    TargetFactory,
    TermFactory,
)

pytestmark = pytest.mark.django_db


def test_the_list_shows_active_schools_with_course_counts_and_filters_by_kind(
    client, django_assert_max_num_queries
):
    community = ParentSchoolFactory(name="上清寺街道社区家长学校")
    ParentSchoolFactory(name="中华路小学家长学校", kind=ParentSchool.Kind.SCHOOL)
    ParentSchoolFactory(name="停办的家长学校", is_active=False)
    CourseFactory(parent_school=community)
    CourseFactory(parent_school=community)
    CourseFactory(parent_school=community, is_published=False)

    with django_assert_max_num_queries(5):
        response = client.get(reverse("parent_school:list"))
    body = response.content.decode()
    assert "上清寺街道社区家长学校" in body and "中华路小学家长学校" in body
    assert "停办的家长学校" not in body
    counts = {s.name: s.course_count for s in response.context["page_obj"]}
    assert counts["上清寺街道社区家长学校"] == 2

    response = client.get(reverse("parent_school:list"), {"kind": "school", "page": "x"})
    assert [s.name for s in response.context["page_obj"]] == ["中华路小学家长学校"]
    assert client.get(reverse("parent_school:list"), {"kind": "<b>"}).status_code == 200


def test_the_detail_shows_the_current_terms_target(client):
    term = TermFactory(is_current=True)
    target = TargetFactory(term=term, sessions_required=12)
    response = client.get(reverse("parent_school:detail", args=[target.parent_school.pk]))
    assert "本学期应开课 12 次" in response.content.decode()
    assert client.get("/parent-schools/999999/").status_code == 404


def test_instructor_specialties_must_be_guidance_areas():
    instructor = InstructorFactory(specialties=["family_education", "mental_health"])
    instructor.full_clean()
    instructor.specialties = ["astrology"]
    with pytest.raises(ValidationError):
        instructor.full_clean()
    assert Instructor.Tier.EXPERT.label == "专家"


def test_only_one_term_is_current():
    from django.db import IntegrityError

    TermFactory(is_current=True)
    with pytest.raises(IntegrityError):
        TermFactory(is_current=True)
