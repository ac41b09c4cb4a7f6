"""Keyword search of the catalogue: words (jieba), five fields, ranking, bad input."""

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from courses import search
from courses.models import Course
from courses.tests.factories import CourseFactory, ThemeFactory, make_session
from courses.tests.test_catalogue import SEARCH_PAGE_MAX_QUERIES, _bulk_courses
from parent_school.tests.factories import ParentSchoolFactory

URL = "/courses/"


def titles(response):
    return [c.title for c in response.context["page_obj"]]


# --- the words -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("沟通技巧", ["沟通", "技巧"]),
        ("亲子沟通技巧", ["亲子沟通", "技巧"]),
        ("怎么和孩子沟通？", ["孩子", "沟通"]),
        ("家长学校", ["家长学校"]),
        ("隔代教养的烦恼", ["隔代教养", "烦恼"]),
        ("青春期叛逆", ["青春期", "叛逆"]),
        ("幼小衔接", ["幼小衔接"]),
        ("学习型家庭", ["学习型家庭"]),
        ("家庭教育", ["家庭教育"]),
        ("ＡＩ 启蒙", ["AI", "启蒙"]),  # full-width letters and spaces, too
        ("沟通 沟通 沟通", ["沟通"]),
    ],
)
def test_a_query_is_split_into_words_keeping_the_domain_words_whole(query, words):
    assert [w.text for w in search.search_words(query)] == words


@pytest.mark.parametrize("query", ["", "   ", "！！！", "……", "%%__", "的", "课程", "？、。"])
def test_a_query_of_punctuation_or_function_words_has_no_word_to_search(query):
    assert search.search_words(query) == ()


def test_a_long_word_is_also_matched_by_its_parts():
    (word,) = search.search_words("亲子沟通")
    assert word.parts == ("亲子", "沟通")
    assert search.search_words("青春期")[0].parts == ()  # no exact split: whole word only


def test_every_query_is_bounded_in_length_and_words():
    words = search.search_words("家庭 学校 社区 孩子 父母 老师 沟通 阅读 运动 睡眠 " * 20)
    assert len(words) == search.MAX_WORDS


def test_the_dictionary_is_loaded_lazily_and_once_per_process():
    # given a fresh process that imports the catalogue's modules
    code = (
        "import django, sys; django.setup();"
        "import courses.search as s, courses.filters, courses.selectors, courses.views;"
        "assert 'jieba' not in sys.modules, 'loaded at import';"
        "first = s._tokenizer(); s.search_words('沟通技巧');"
        "assert s._tokenizer() is first;"
        "print('ok')"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "alliance.settings.test"}
    # when it runs, then jieba is imported only by the first search, and kept
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok"


def test_the_user_dictionary_is_in_the_repository_and_lists_the_domain_words():
    words = {word for word, _freq in search._user_words()}
    assert {"家长学校", "亲子沟通", "家庭教育", "学习型家庭", "隔代教养", "青春期"} <= words
    assert "幼小衔接" in words
    assert not any(w.startswith("#") for w in words)


# --- matching and ranking ----------------------------------------------------------------


@pytest.mark.django_db
def test_communication_skills_finds_the_course_on_parent_child_communication_first(client):
    # given the course the issue names, two that have one of the words, one with neither
    wanted = CourseFactory(title="亲子沟通的技巧", summary="")
    only_communication = CourseFactory(title="夫妻沟通", summary="")
    only_skills = CourseFactory(title="学习技巧", summary="")
    CourseFactory(title="科学与AI启蒙", summary="人工智能")

    # when a parent searches 「沟通技巧」
    response = client.get(URL, {"q": "沟通技巧"})

    # then the course with both words comes first, partial matches after, the rest not at all
    found = titles(response)
    assert found[0] == wanted.title
    assert sorted(found[1:]) == sorted([only_communication.title, only_skills.title])
    catalogue = response.context["catalogue"]
    assert [w.text for w in catalogue.search_words] == ["沟通", "技巧"]
    body = response.content.decode()
    assert "「沟通技巧」找到 3 门课程" in body
    # and the page says where the partial matches begin, once
    assert body.count("以下课程只包含部分搜索词") == 1
    assert body.index(wanted.title) < body.index("以下课程只包含部分搜索词")
    assert body.index("以下课程只包含部分搜索词") < body.index(only_skills.title)


@pytest.mark.django_db
def test_each_field_is_searched_and_ranked_title_themes_summary_school_body(client):
    # given five courses, each with the word in exactly one field
    plain = {"summary": "", "body": ""}
    in_body = CourseFactory(title="课A", body="第三讲：隔代教养中的分歧", summary="")
    in_school = CourseFactory(
        title="课B", parent_school=ParentSchoolFactory(name="隔代教养互助家长学校"), **plain
    )
    in_summary = CourseFactory(title="课C", summary="帮助祖辈理解隔代教养", body="")
    in_themes = CourseFactory(title="课D", themes=[ThemeFactory(name="隔代教养")], **plain)
    in_title = CourseFactory(title="隔代教养工作坊", **plain)
    CourseFactory(title="无关课程", **plain)

    # when searching for the word
    response = client.get(URL, {"q": "隔代教养"})

    # then all five are found, in the order of the field weights
    assert titles(response) == [
        c.title for c in (in_title, in_themes, in_summary, in_school, in_body)
    ]


@pytest.mark.django_db
def test_a_course_with_every_word_ranks_above_one_with_a_single_word_everywhere(client):
    # given one course that has 沟通 in every field but not 技巧,
    # and one that has both words only in its body
    everywhere = CourseFactory(
        title="沟通课",
        summary="沟通",
        body="沟通",
        themes=[ThemeFactory(name="亲子沟通")],
        parent_school=ParentSchoolFactory(name="沟通家长学校"),
    )
    both_in_body = CourseFactory(title="家长课堂", summary="", body="学一些沟通的小技巧")

    # when searching for both
    response = client.get(URL, {"q": "沟通技巧"})

    # then all words matched beats one word matched in many places
    assert titles(response) == [both_in_body.title, everywhere.title]
    courses = list(response.context["page_obj"])
    assert [c.search_matched for c in courses] == [2, 1]
    assert [c.search_partial for c in courses] == [False, True]


@pytest.mark.django_db
def test_a_domain_word_also_finds_courses_that_use_its_parts_apart(client):
    CourseFactory(title="亲子之间如何沟通", summary="")
    CourseFactory(title="亲子游戏", summary="")  # one part only: not the word

    response = client.get(URL, {"q": "亲子沟通"})

    assert titles(response) == ["亲子之间如何沟通"]


@pytest.mark.django_db
def test_search_combines_with_the_facets(client):
    law = ThemeFactory(name="法治教育")
    CourseFactory(title="青春期法治课", themes=[law])
    CourseFactory(title="青春期心理课")

    response = client.get(URL, {"q": "青春期", "theme": law.pk})

    assert titles(response) == ["青春期法治课"]
    theme_counts = {fv.label: fv.count for fv in response.context["catalogue"].facets["theme"]}
    assert theme_counts == {"法治教育": 1}


@pytest.mark.django_db
def test_without_a_search_the_order_is_still_by_next_session(client):
    later = CourseFactory(title="后开课的沟通课")
    sooner = CourseFactory(title="先开课的沟通课")
    make_session(later, starts_in=timedelta(days=9))
    make_session(sooner, starts_in=timedelta(days=2))

    assert titles(client.get(URL)) == [sooner.title, later.title]
    # equal matches are ordered by next session too
    assert titles(client.get(URL, {"q": "沟通课"})) == [sooner.title, later.title]


# --- bad input -------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "！！！",
        "%",
        "_",
        "%%__\\",
        "'; DROP TABLE courses_course; --",
        "沟通" * 400,
        "\x00沟通",
        "😀👍",
        "a" * 5000,
        "沟 通 技 巧 家 长 学 校 青 春 期",
    ],
)
def test_bad_queries_give_a_normal_page(client, query):
    CourseFactory(title="正常的沟通课程")

    response = client.get(URL, {"q": query})

    assert response.status_code == 200
    body = response.content.decode()
    assert "正常的沟通课程" in body or "没有符合条件的课程" in body
    assert Course.objects.count() == 1


@pytest.mark.django_db
def test_a_query_of_only_punctuation_is_ignored_and_the_page_says_so(client):
    CourseFactory(title="课一")
    CourseFactory(title="课二")

    response = client.get(URL, {"q": "！？。"})

    assert sorted(titles(response)) == ["课一", "课二"]
    assert "「！？。」里没有可以搜索的字词，已显示全部课程。" in response.content.decode()


@pytest.mark.django_db
def test_a_pasted_long_query_is_cut_to_the_limit_not_refused(client):
    CourseFactory(title="亲子沟通的技巧")

    response = client.get(URL, {"q": "沟通技巧" + "。" * 200})

    assert titles(response) == ["亲子沟通的技巧"]
    assert not response.context["catalogue"].invalid
    form_value = response.context["form"].cleaned_data["q"]
    assert len(form_value) == search.MAX_QUERY_CHARS


# --- the page ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_search_box_is_at_the_top_outside_the_collapsed_filters(client):
    CourseFactory(title="课一")

    body = client.get(URL).content.decode()

    search_box = body.index('id="id_q"')
    assert search_box < body.index("<details")
    assert 'name="q"' not in body[body.index("<details") : body.index("</details>")]
    assert body.count('role="search"') == 1


@pytest.mark.django_db
def test_a_search_page_costs_the_same_queries_for_10_and_1000_courses(
    client, django_assert_max_num_queries
):
    # given 10 courses and a search of several words, one of them a domain word
    _bulk_courses(10)
    params = {"q": "批量 家庭教育 沟通技巧", "free": "true"}

    def count() -> int:
        cache.clear()  # the whole page, facet counts included
        with CaptureQueriesContext(connection) as captured:
            response = client.get(URL, params)
        assert response.status_code == 200
        return len(captured.captured_queries)

    with django_assert_max_num_queries(SEARCH_PAGE_MAX_QUERIES):
        client.get(URL, params)
    small = count()

    # when there are 1,000 more
    _bulk_courses(1000)
    large = count()

    # then the page costs the same, and still shows a full page of ranked results
    assert small == large
    with django_assert_max_num_queries(SEARCH_PAGE_MAX_QUERIES):
        response = client.get(URL, params | {"page": "2"})
    assert len(response.context["page_obj"]) == 12
    assert response.context["page_obj"].paginator.count == 1010


# --- the index and the two backends -----------------------------------------------------


@pytest.mark.django_db
def test_on_postgresql_the_search_can_find_candidates_through_the_bigram_index(client):
    # given courses with long bodies, a few with the words
    for i in range(60):
        CourseFactory(
            title=f"亲子沟通的技巧{i}" if i % 6 == 0 else f"家庭阅读{i}",
            body="第一讲：倾听孩子的想法，陪伴孩子阅读。" * 20,
        )
    words = search.search_words("沟通技巧")

    # when PostgreSQL plans the index hint alone, told to avoid scanning the table
    hint = Course.objects.filter(search._word_index_hint(words[0])).values("pk")
    sql, params = hint.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("SET LOCAL enable_seqscan = on")

    # then it scans the bigram index: the query writes the index's expression exactly
    assert "Bitmap Index Scan on course_search_bigrams" in plan, plan
    # and the exact test never computes the bigrams (about a millisecond a row):
    # they only choose the candidates, through the index
    condition = search.search_condition(words)
    assert "courses_bigrams" not in str(Course.objects.filter(condition).query)
    published = Course.objects.filter(is_published=True)
    assert published.filter(search.search_filter(published, words)).count() == 10
    assert published.filter(condition).count() == 10


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query", ["沟通技巧", "亲子沟通", "隔代教养 青春期", "AI", "爱", "家长学校"]
)
def test_the_portable_search_finds_the_same_courses_as_the_postgresql_one(
    client, monkeypatch, query
):
    # given courses that match in different fields (SQLite, the embedded default,
    # runs the portable path: plain LIKEs and IN-subqueries)
    CourseFactory(title="亲子沟通的技巧", summary="", body="")
    CourseFactory(title="亲子之间如何沟通", summary="", body="")
    CourseFactory(title="祖辈课堂", summary="隔代教养", body="")
    CourseFactory(title="青春期", themes=[ThemeFactory(name="科学与AI")], summary="", body="")
    CourseFactory(title="家长学校开学", summary="", body="爱与规则")
    CourseFactory(title="无关", summary="", body="")
    on_postgresql = titles(client.get(URL, {"q": query}))
    cache.clear()

    # when the same search runs the portable way
    monkeypatch.setattr(search, "_on_postgresql", lambda: False)
    portable = titles(client.get(URL, {"q": query}))

    # then the same courses come back in the same order
    assert portable == on_postgresql
    assert on_postgresql


@pytest.mark.django_db
def test_on_postgresql_the_planner_settings_of_the_search_end_with_its_query(client):
    # given a search inside a transaction (every test runs in one), where a
    # SET LOCAL would otherwise last until the end
    CourseFactory(title="亲子沟通的技巧")
    assert titles(client.get(URL, {"q": "沟通技巧"})) == ["亲子沟通的技巧"]

    # then the session plans as before
    with connection.cursor() as cursor:
        cursor.execute("SHOW enable_seqscan")
        assert cursor.fetchone()[0] == "on"
        cursor.execute("SHOW jit")
        jit = cursor.fetchone()[0]
        cursor.execute("RESET jit")
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == jit
