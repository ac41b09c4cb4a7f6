"""The generated courses have realistic texts, themes and stages, and a data set
built before they had them is given them once, in place (catalogue_enrich)."""

from django.core.management import call_command
from django.db.models import F, Value
from django.db.models.functions import Concat

from courses.models import Course
from reports import scale


def test_generated_courses_have_texts_themes_and_stages_and_enriching_is_idempotent(db):
    # given a generated data set
    call_command("generate_scale_data", "--preset", "small", "--seed", "5")
    courses = Course.objects.all()
    p = scale.PRESETS["small"]

    # then every course has a title, summary and body about its topic, themes and stages
    assert not courses.filter(title__startswith=scale.GENERATED_TITLE).exists()
    assert not courses.filter(summary="").exists() and not courses.filter(body="").exists()
    assert courses.filter(themes=None).count() == 0
    assert courses.filter(stages=None).count() == 0
    assert Course.themes.through.objects.count() > p.courses  # some have two
    assert Course.stages.through.objects.count() > p.courses
    # and enriching again changes nothing
    before = list(courses.order_by("pk").values_list("pk", "title", "summary"))
    assert scale.catalogue_enrich(log=lambda _line: None) == 0
    assert list(courses.order_by("pk").values_list("pk", "title", "summary")) == before


def test_a_data_set_built_before_is_enriched_once_in_place(db):
    # given courses as the generator used to leave them: 规模测试课程N, no text, theme or stage
    call_command("generate_scale_data", "--preset", "small", "--seed", "6")
    first = Course.objects.order_by("pk").first().pk
    Course.objects.update(
        title=Concat(Value(scale.GENERATED_TITLE), F("pk") - first), summary="", body=""
    )
    Course.themes.through.objects.all().delete()
    Course.stages.through.objects.all().delete()

    # when the bench enriches it
    enriched = scale.catalogue_enrich(log=lambda _line: None)

    # then every course got course N's text, themes and stages, and a second call does nothing
    assert enriched == scale.PRESETS["small"].courses
    course = Course.objects.get(pk=first + 7)
    title, summary, _body = scale.course_text(7)
    assert (course.title, course.summary) == (title, summary)
    assert sorted(course.themes.values_list("name", flat=True)) == sorted(
        scale.CATALOGUE_TOPICS[i][0] for i in scale.course_theme_indexes(7)
    )
    assert sorted(course.stages.values_list("code", flat=True)) == sorted(
        scale.course_stage_codes(7)
    )
    assert scale.catalogue_enrich(log=lambda _line: None) == 0
