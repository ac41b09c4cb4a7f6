"""The brand pages: the district's matrix (filters by host unit kind and street,
term picker) and a brand's public page, without signing in, in constant queries."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from groups.tests.factories import GroupFactory
from members.models import MemberUnit
from members.tests.factories import MemberUnitFactory
from parent_school.services import BrandLogoRejected, brand_logo_set
from parent_school.tests.factories import BrandProgrammeFactory
from reports.services import participation_rollup

from .brand_world import build_brand_world
from .factories import CourseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    w = build_brand_world()
    participation_rollup(term=w.term, now=w.now)
    return w


def matrix_rows(response) -> dict[str, tuple[str, ...]]:
    """Brand name → (host unit, sessions, person-times, families) as the table shows them."""
    html = response.content.decode()
    rows = {}
    for chunk in html.split('<tr data-brand="')[1:]:
        cells = [
            part.split("</")[0].rsplit(">", 1)[-1]
            for part in chunk.split("</tr>")[0].split("<t")[1:]
        ]
        rows[cells[0]] = tuple(cells[1:])
    return rows


def test_the_matrix_shows_every_active_brand_with_its_figures_without_login(client, world):
    # when
    response = client.get(reverse("reports:brands"))

    # then
    assert response.status_code == 200
    assert matrix_rows(response) == {
        "星联盟": ("中华路小学", "4", "10", "3"),
        "育苗护幼": ("两路口街道分院", "1", "1", "1"),
        "空品牌": ("两路口街道分院", "0", "0", "0"),
    }
    html = response.content.decode()
    assert "旧品牌" not in html  # inactive
    assert 'data-brand-total="person_times"><span class="report-figure">11<' in html


def test_the_matrix_filters_by_host_unit_kind_and_street(client, world):
    # by kind
    response = client.get(reverse("reports:brands"), {"kind": MemberUnit.Kind.BRANCH})
    assert set(matrix_rows(response)) == {"育苗护幼", "空品牌"}
    # by street: the unit's own region is the street
    response = client.get(reverse("reports:brands"), {"street": world.street_sqs.pk})
    assert set(matrix_rows(response)) == {"星联盟"}
    # by street: the unit's region is a community of the street
    response = client.get(reverse("reports:brands"), {"street": world.street_llk.pk})
    assert set(matrix_rows(response)) == {"育苗护幼", "空品牌"}
    # both
    response = client.get(
        reverse("reports:brands"), {"street": world.street_llk.pk, "kind": "primary_school"}
    )
    assert matrix_rows(response) == {}
    # a bad filter is ignored, not a 500
    response = client.get(reverse("reports:brands"), {"street": "x", "kind": "nonsense"})
    assert response.status_code == 200 and len(matrix_rows(response)) == 3


def test_the_term_picker_shows_another_terms_figures(client, world):
    # given
    participation_rollup(term=world.other_term, now=world.now)

    # when
    response = client.get(reverse("reports:brands"), {"term": world.other_term.code})

    # then
    assert matrix_rows(response)["星联盟"] == ("中华路小学", "1", "1", "1")
    assert matrix_rows(response)["育苗护幼"] == ("两路口街道分院", "0", "0", "0")
    # an unknown term is a message, not a 500
    assert client.get(reverse("reports:brands"), {"term": "nope"}).status_code == 200


def test_the_matrix_queries_stay_constant(client, world, django_assert_max_num_queries):
    # given
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("reports:brands"))
    unit = MemberUnitFactory(kind=MemberUnit.Kind.COMMUNITY)
    for n in range(25):
        BrandProgrammeFactory(name=f"新品牌{n}", owner_unit=unit)

    # when / then: as many queries with 25 more brands
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("reports:brands"))
    assert len(matrix_rows(response)) == 28


def test_a_brands_public_page_lists_its_programme_and_figures(client, world):
    # when
    response = client.get(reverse("reports:brand", args=[world.star.pk]))

    # then
    assert response.status_code == 200
    html = response.content.decode()
    for text in ("星联盟", "中华路小学", "中华路小学的家校社协同特色品牌。", "星联盟亲子课"):
        assert text in html
    assert "星联盟开放日" in html and "暑期活动" in html  # published events
    assert "星联盟家伴组" in html and "中华路小学家长学校" in html
    assert 'data-brand-figure="sessions"><span class="report-figure">4<' in html
    assert 'data-brand-figure="person_times"><span class="report-figure">10<' in html
    assert f'data-term="{world.term.code}"' in html
    # no person: no guardian's name or phone, no facilitator
    for guardian in (world.g_1, world.g_2, world.g_3):
        if guardian.user.display_name:
            assert guardian.user.display_name not in html
        if guardian.user.phone:
            assert guardian.user.phone not in html
    if world.group.facilitator.display_name:
        assert world.group.facilitator.display_name not in html


def test_an_inactive_or_unknown_brand_is_a_404(client, world):
    assert client.get(reverse("reports:brand", args=[world.old.pk])).status_code == 404
    assert client.get(reverse("reports:brand", args=[999_999])).status_code == 404


def test_a_brands_page_queries_stay_constant(client, world, django_assert_max_num_queries):
    # given
    with django_assert_max_num_queries(10) as few:
        client.get(reverse("reports:brand", args=[world.star.pk]))
    for n in range(10):
        CourseFactory(
            parent_school=world.school,
            term=world.term,
            title=f"更多课程{n}",
            brand=world.star,
            is_published=True,
        )
        GroupFactory(name=f"更多小组{n}", parent_school=world.school, brand=world.star)

    # when / then
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("reports:brand", args=[world.star.pk]))
    assert "更多课程9" in response.content.decode()


def _png(size=(40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def test_a_logo_is_re_encoded_and_served_from_the_brand_page(client, world, settings, tmp_path):
    # given
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("孩子小明.png", _png(), content_type="image/png")

    # when
    brand_logo_set(brand=world.star, upload=upload)

    # then: a JPEG under a random name, served at the logo's address
    world.star.refresh_from_db()
    assert world.star.logo.name.startswith("brands/") and world.star.logo.name.endswith(".jpg")
    assert "小明" not in world.star.logo.name
    page = client.get(reverse("reports:brand", args=[world.star.pk])).content.decode()
    assert reverse("reports:brand_logo", args=[world.star.pk]) in page
    logo = client.get(reverse("reports:brand_logo", args=[world.star.pk]))
    assert logo.status_code == 200
    assert b"".join(logo.streaming_content)[:2] == b"\xff\xd8"
    # a brand without a logo has none
    assert client.get(reverse("reports:brand_logo", args=[world.seedling.pk])).status_code == 404


def test_a_file_that_is_not_a_picture_is_refused_naming_the_logo(world):
    upload = SimpleUploadedFile("logo.png", b"not a picture", content_type="image/png")
    with pytest.raises(BrandLogoRejected) as refused:
        brand_logo_set(brand=world.star, upload=upload)
    assert "标志" in refused.value.message
    world.star.refresh_from_db()
    assert not world.star.logo


def test_a_term_code_that_cannot_be_one_is_a_message_not_a_500(client, db):
    for code in ("\x00", "x" * 200):
        response = client.get("/brands/", {"term": code})
        assert response.status_code in (200, 400), code
