import pytest

from courses import demo
from courses.models import Course
from members import demo as members_demo
from parent_school.models import BrandProgramme, Term

pytestmark = pytest.mark.django_db


def test_demo_loads_twice_with_the_same_counts():
    # given the registry demo (units and regions)
    members_demo.load()

    # when the course demo runs twice
    first = demo.load()
    second = demo.load()

    # then nothing is duplicated and the brand programmes are there
    assert first == second
    assert first["课程"] == len(demo.COURSES)
    assert set(BrandProgramme.objects.values_list("name", flat=True)) >= {
        "慧育家·爱有方",
        "育苗护幼",
        "星联盟",
    }
    assert BrandProgramme.objects.get(name="星联盟").owner_unit.name == "中华路小学"
    assert Term.objects.filter(is_current=True).count() == 1
    assert Course.objects.filter(is_published=True).count() >= len(demo.COURSES)


def test_demo_fails_loudly_without_the_registry():
    with pytest.raises(demo.DemoDependencyMissing):
        demo.load()
