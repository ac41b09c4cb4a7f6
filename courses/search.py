"""Keyword search of the catalogue: the query is split into words with jieba,
each word is looked for in a course's title, themes, summary, parent school and
body, and the courses are ranked by how well they match.

Why words and not the whole query: parents type 「沟通技巧」 and expect 「亲子沟通的
技巧」; a substring of the whole query finds nothing. Why substrings per word and
not a full-text index: Chinese has no spaces, so PostgreSQL's text search would
need a segmenting parser (zhparser) that is not available on every server, and
the portal must also run on SQLite. Each word is an ``icontains`` (a ``LIKE``),
narrowed down on PostgreSQL by a GIN index of the courses' two-character
pieces (migration 0006, see CourseTextHasBigrams).

jieba loads its dictionary (about a second) on the first search of a process,
never at import, and only once: ``_tokenizer()`` keeps it. The domain's words
(家长学校, 亲子沟通, 隔代教养 …) are in ``courses/search_words.txt`` so that they
are kept whole.
"""

from __future__ import annotations

import functools
import logging
import operator
import os
import tempfile
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    Expression,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    Q,
    Subquery,
    Value,
    When,
)

from parent_school.models import ParentSchool

from .models import Course

USER_DICTIONARY = Path(__file__).with_name("search_words.txt")

# A query is cut to this many characters and this many words, so that the SQL
# stays small whatever is pasted into the box.
MAX_QUERY_CHARS = 50
MAX_WORDS = 6

# Where a word is found, and what it is worth there. A word matched anywhere is
# worth WORD_MATCHED, more than every field weight of all words together, so a
# course that has all the words always ranks above one that has only some.
# The order is also the order the fields are tested in: the long body last.
FIELD_WEIGHTS = {"title": 8, "themes": 5, "summary": 3, "parent_school": 2, "body": 0}
WORD_MATCHED = 1000
# The whole query, as typed, in the title: the closest match there is.
PHRASE_IN_TITLE = 20

# Function words, and 课程 (every row of a course catalogue is one), would match
# almost every course.
STOP_WORDS = frozenset(
    "的 地 得 了 着 过 和 与 及 或 跟 同 在 是 有 吗 呢 吧 啊 呀 么 也 都 就 要 想 "
    "怎么 怎样 如何 什么 哪些 哪个 为什么 一些 一个 有关 关于 相关 方面 我 我们 你 你们 "
    "课程".split()
)

_lock = threading.Lock()
_loaded = None


def _tokenizer():
    """The process's jieba tokenizer with the domain's words, built on first use."""
    global _loaded
    if _loaded is None:
        with _lock:
            if _loaded is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                tokenizer = jieba.Tokenizer()
                # jieba caches its prefix dictionary in a file; keep it in a
                # directory of this user, not in the shared /tmp.
                cache_dir = Path(tempfile.gettempdir()) / f"alliance-jieba-{os.getuid()}"
                cache_dir.mkdir(mode=0o700, exist_ok=True)
                tokenizer.tmp_dir = str(cache_dir)
                tokenizer.initialize()
                for word, freq in _user_words():
                    tokenizer.add_word(word, freq)
                _loaded = tokenizer
    return _loaded


def _user_words():
    """(word, frequency or None) from the user dictionary, skipping notes."""
    for line in USER_DICTIONARY.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, *rest = line.split()
        yield word, int(rest[0]) if rest and rest[0].isdigit() else None


def normalise(query: str) -> str:
    """Full-width letters and spaces to half-width, outer spaces off, cut to size."""
    return unicodedata.normalize("NFKC", query or "").strip()[:MAX_QUERY_CHARS]


def _is_word(token: str) -> bool:
    return any(ch.isalnum() for ch in token) and token.lower() not in STOP_WORDS


def _parts(word: str, freq: dict) -> list[str]:
    """A long word as the fewest dictionary words of two or three characters that
    make it up exactly (亲子沟通 → 亲子, 沟通), or [] when there is none, so a course
    that says 「亲子之间的沟通」 still matches 「亲子沟通」."""
    if len(word) < 4:
        return []
    best: list[list[str] | None] = [None] * (len(word) + 1)
    best[0] = []
    for end in range(2, len(word) + 1):
        for size in (2, 3):
            start = end - size
            if start < 0 or best[start] is None:
                continue
            piece = word[start:end]
            if freq.get(piece) and (best[end] is None or len(best[start]) + 1 < len(best[end])):
                best[end] = [*best[start], piece]
    parts = best[len(word)]
    return parts if parts and len(parts) > 1 else []


@dataclass(frozen=True)
class SearchWord:
    """One word of the query, and the dictionary words it is made of (if any)."""

    text: str
    parts: tuple[str, ...] = ()


@functools.lru_cache(maxsize=2048)
def search_words(query: str) -> tuple[SearchWord, ...]:
    """The words to look for: jieba's words of the query without punctuation,
    function words and repeats, at most MAX_WORDS. Empty for a query of only
    punctuation or spaces (the catalogue then ignores it)."""
    text = normalise(query)
    if not any(ch.isalnum() for ch in text):
        return ()
    tokenizer = _tokenizer()
    words: list[SearchWord] = []
    seen: set[str] = set()
    for token in tokenizer.cut(text):
        token = token.strip()
        if not _is_word(token) or token.lower() in seen:
            continue
        seen.add(token.lower())
        words.append(SearchWord(token, tuple(_parts(token, tokenizer.FREQ))))
    # A single character (「爱」「哭」) matches a great many courses and no index can
    # find it: it is searched only when the query has no longer word.
    longer = [word for word in words if len(word.text) > 1]
    return tuple((longer or words)[:MAX_WORDS])


def bigrams(texts: tuple[str, ...]) -> list[str]:
    """The two-character pieces of the texts, as courses_bigrams() makes them."""
    return sorted({t.lower()[i : i + 2] for t in texts for i in range(len(t) - 1)})


class CourseTextHasBigrams(Expression):
    """PostgreSQL: the course's title, summary and body hold every one of these
    two-character pieces. It is the expression of the GIN index of migration 0006
    (``courses_bigrams(lower(title || ' ' || summary || ' ' || body))``), written
    the same way so that the planner uses the index. It only narrows the courses
    down fast; the ``LIKE`` beside it decides.

    Why bigrams and not the trigram indexes: most Chinese words have two
    characters, and ``pg_trgm`` can take nothing from a two-character pattern, so
    ``LIKE '%沟通%'`` would read every course's body (seconds at 20,000 courses)."""

    conditional = True
    output_field = BooleanField()
    COLUMNS = ("title", "summary", "body")

    def __init__(self, bigrams: list[str]):
        super().__init__()
        self.bigrams = bigrams
        self.columns = [F(column) for column in self.COLUMNS]

    def get_source_expressions(self):
        return self.columns

    def set_source_expressions(self, exprs):
        self.columns = list(exprs)

    def as_sql(self, compiler, connection):
        sql, params = [], []
        for column in self.columns:
            column_sql, column_params = compiler.compile(column)
            sql.append(column_sql)
            params.extend(column_params)
        text = " || ' ' || ".join(sql)
        return f"courses_bigrams(lower({text})) @> %s::text[]", (*params, self.bigrams)


class TextHasBigrams(CourseTextHasBigrams):
    """The same test over other columns: each must be written exactly as its GIN
    index is (community migration 0003: a post's body, a thread's title)."""

    def __init__(self, bigrams: list[str], *columns: str):
        self.COLUMNS = columns
        super().__init__(bigrams)


class InSubqueryArray(Func):
    """``lhs = ANY(ARRAY(subquery))``. Unlike ``IN (subquery)``, which PostgreSQL
    can only test course by course, this is an index condition: an ``OR`` of it and
    the bigram index becomes a BitmapOr of index scans (the subquery runs once)."""

    template = "%(expressions)s))"
    arg_joiner = " = ANY(ARRAY("
    conditional = True
    output_field = BooleanField()


def _on_postgresql() -> bool:
    return connection.vendor == "postgresql"


def _text_contains(field: str, text: str) -> Q:
    # Chinese has no letter case: a plain LIKE, several times cheaper than
    # icontains' UPPER() over every body. Words with letters (AI) use icontains.
    lookup = "contains" if text.lower() == text.upper() else "icontains"
    return Q(**{f"{field}__{lookup}": text})


def _contains_all(field: str, texts: tuple[str, ...]) -> Q:
    """Courses whose ``field`` contains every one of ``texts`` (for themes and the
    parent school: one theme, one school containing them all; those tables are
    small, and each subquery runs once per query, then is probed per course)."""
    if field == "themes":
        themes = Course.themes.through.objects.filter(
            *[Q(theme__name__icontains=text) for text in texts]
        )
        return Q(pk__in=themes.values("course_id"))
    if field == "parent_school":
        schools = ParentSchool.objects.filter(*[Q(name__icontains=text) for text in texts])
        return Q(parent_school__in=schools.values("pk"))
    return functools.reduce(operator.and_, [_text_contains(field, t) for t in texts])


def _word_in(field: str, word: SearchWord) -> Q:
    found = _contains_all(field, (word.text,))
    if word.parts:
        found |= _contains_all(field, word.parts)
    return found


def _word_anywhere(word: SearchWord) -> Q:
    return functools.reduce(operator.or_, [_word_in(field, word) for field in FIELD_WEIGHTS])


def _word_index_hint(word: SearchWord) -> Q | None:
    """PostgreSQL: a condition every course holding the word meets, made only of
    index conditions (the bigram index, the primary key, the parent school's
    foreign key), so the planner finds the candidates with a BitmapOr of index
    scans; the exact test then runs on those rows only. None for a one-character
    word, which has no bigram (the search then scans, with the LIKEs alone)."""
    pieces = bigrams(word.parts or (word.text,))  # the parts' pieces cover both ways
    if not pieces:
        return None
    themes = Course.themes.through.objects.filter(theme__name__icontains=word.text)
    schools = ParentSchool.objects.filter(name__icontains=word.text)
    if word.parts:  # the parts in one theme or school name; the whole word has them too
        themes = Course.themes.through.objects.filter(
            *[Q(theme__name__icontains=part) for part in word.parts]
        )
        schools = ParentSchool.objects.filter(*[Q(name__icontains=p) for p in word.parts])
    return (
        Q(CourseTextHasBigrams(pieces))
        | Q(InSubqueryArray(F("pk"), Subquery(themes.values("course_id"))))
        | Q(InSubqueryArray(F("parent_school"), Subquery(schools.values("pk"))))
    )


def search_condition(words: tuple[SearchWord, ...]) -> Q:
    """Courses that contain at least one of the words somewhere: LIKEs and
    IN-subqueries, the same on SQLite and PostgreSQL."""
    return functools.reduce(operator.or_, [_word_anywhere(word) for word in words])


def search_index_hints(words: tuple[SearchWord, ...]) -> Q | None:
    """PostgreSQL: a condition every matching course meets, made only of index
    conditions (None when a one-character word has no bigram)."""
    hints = [_word_index_hint(word) for word in words]
    if any(hint is None for hint in hints):
        return None
    return functools.reduce(operator.or_, hints)


class PkInArray(Expression):
    """PostgreSQL: ``id = ANY(%s::bigint[])``, one array parameter however many ids."""

    conditional = True
    output_field = BooleanField()

    def __init__(self, ids: list[int]):
        super().__init__()
        self.ids = ids
        self.column = F("pk")

    def get_source_expressions(self):
        return [self.column]

    def set_source_expressions(self, exprs):
        (self.column,) = exprs

    def as_sql(self, compiler, connection):
        column_sql, params = compiler.compile(self.column)
        return f"{column_sql} = ANY(%s::bigint[])", (*params, self.ids)


def search_filter(queryset, words: tuple[SearchWord, ...]) -> Q:
    """The search as a filter for the catalogue's queries.

    On PostgreSQL the matching ids of ``queryset`` (the published courses) are
    found once, in one query, and the list, its count and every facet count then
    filter on that one array: the LIKEs over the bodies run once per page, not
    once per query (ten). That query takes its candidates from the index hints,
    in a subquery planned without sequential scans, so it is always a BitmapOr of
    index scans, and tests only those with the LIKEs. The bigrams are never
    computed per row: about a millisecond a row, so for words that every course
    has (家庭, 学校) a plan that computed them would take seconds."""
    condition = search_condition(words)
    if not _on_postgresql():
        return condition
    hints = search_index_hints(words)
    if hints is None:  # a one-character word: a scan with the LIKEs, once
        return Q(
            PkInArray(list(queryset.order_by().filter(condition).values_list("pk", flat=True)))
        )
    candidates = Course.objects.order_by().filter(hints).values("pk")
    ids = (
        queryset.order_by()
        .filter(InSubqueryArray(F("pk"), Subquery(candidates)))
        .filter(condition)
        .values_list("pk", flat=True)
    )
    with transaction.atomic(), connection.cursor() as cursor:
        # JIT off too: the bigram function's cost lifts the estimate over
        # jit_above_cost, and compiling would take longer than the query.
        cursor.execute("SET LOCAL enable_seqscan = off; SET LOCAL jit = off")
        ids = list(ids)
        # Rolled back (it only read), so the settings end with this query even
        # inside a caller's transaction, where SET LOCAL would otherwise last.
        transaction.set_rollback(True)
    return Q(PkInArray(ids))


def _exact_in_texts(word: SearchWord) -> bool:
    return len(word.text) == 2 and not word.parts and word.text.lower() == word.text.upper()


def _word_anywhere_ranked(word: SearchWord) -> Q:
    """PostgreSQL: _word_anywhere, with the texts' part answered by the bigram index
    when that is exact: a word of two characters without letters is in the title,
    summary or body exactly when their text holds its one bigram (no word of two
    characters spans the space that joins them), so the body is never read for
    it; those courses come from one bitmap scan of the index (a hashed subquery)."""
    if not _exact_in_texts(word):
        return _word_anywhere(word)
    in_texts = Course.objects.filter(CourseTextHasBigrams(bigrams((word.text,)))).values("pk")
    return Q(pk__in=in_texts) | _word_in("themes", word) | _word_in("parent_school", word)


@dataclass(frozen=True)
class RankedSql:
    """The ranked search as a subquery of (id, matched, rank) for the catalogue's one
    counting statement (courses.selectors._catalogue_query): ``settings`` are the
    ``SET LOCAL`` the statement needs before it (and resets after it)."""

    sql: str
    params: tuple
    settings: tuple[str, ...]


# The index answers only in a statement planned without sequential scans. JIT off
# too: the bigram function's cost lifts the estimate over jit_above_cost, and
# compiling would take longer than the query. No parallel workers: the index's
# hashed subqueries are small, and starting workers cost more than they save on a
# busy two-core server.
INDEX_SETTINGS = ("enable_seqscan = off", "jit = off", "max_parallel_workers_per_gather = 0")


def search_ranked_sql(queryset, words: tuple[SearchWord, ...], query: str) -> RankedSql:
    """PostgreSQL: the matching courses of ``queryset`` as a subquery of (id, matched,
    rank), unsorted: each word's tests (anywhere, and in each weighted field) are
    computed once per candidate in an inner query, which the outer one adds up and
    filters. The candidates come from the index hints (see search_filter)."""
    hints = search_index_hints(words)
    columns = {}
    for n, word in enumerate(words):
        anywhere = _word_anywhere_ranked if hints is not None else _word_anywhere
        columns[f"w{n}_any"] = anywhere(word)
        for field in FIELD_WEIGHTS:
            if field != "body":
                columns[f"w{n}_{field}"] = _word_in(field, word)
    phrase = "".join(normalise(query).split())
    if len(words) > 1 and phrase:
        columns["w_phrase"] = _text_contains("title", phrase)
    inner = queryset.order_by()
    # When every word is answered by the index (above), the words' own tests are the
    # candidates: the hints would only find the same courses a second time.
    if hints is not None and not all(_exact_in_texts(word) for word in words):
        candidates = Course.objects.order_by().filter(hints).values("pk")
        inner = inner.filter(InSubqueryArray(F("pk"), Subquery(candidates)))
    inner = inner.values("id").annotate(
        **{
            name: ExpressionWrapper(condition, output_field=BooleanField())
            for name, condition in columns.items()
        }
    )
    sql, params = inner.query.sql_with_params()
    matched = " + ".join(f's."w{n}_any"::int' for n in range(len(words)))
    scores = [f"{WORD_MATCHED} * ({matched})"]
    for n in range(len(words)):
        for field, weight in FIELD_WEIGHTS.items():
            if field != "body" and weight:
                scores.append(f'{weight} * s."w{n}_{field}"::int')
    if "w_phrase" in columns:
        scores.append(f'{PHRASE_IN_TITLE} * s."w_phrase"::int')
    anywhere = " OR ".join(f's."w{n}_any"' for n in range(len(words)))
    select = (
        f"SELECT s.id, {matched} AS matched, {' + '.join(scores)} AS rank "
        f"FROM ({sql} OFFSET 0) s WHERE {anywhere}"
    )
    return RankedSql(select, tuple(params), INDEX_SETTINGS if hints is not None else ())


def with_settings(sql: str, settings: tuple[str, ...]) -> str:
    """``sql`` preceded by its ``SET LOCAL`` settings and followed by their resets, in
    one statement string, so they end with it even inside a caller's transaction.
    Read the result with fetch_last()."""
    if not settings:
        return sql
    names = [setting.split("=")[0].strip() for setting in settings]
    before = "".join(f"SET LOCAL {setting}; " for setting in settings)
    after = "".join(f"; RESET {name}" for name in names)
    return f"{before}{sql}{after}"


def fetch_last(cursor) -> list[tuple]:
    """The rows of the one SELECT of a with_settings() statement."""
    while cursor.cursor.description is None and cursor.cursor.nextset():
        pass
    return cursor.fetchall()


def _score(condition: Q, points: int) -> Case:
    return Case(When(condition, then=Value(points)), default=Value(0), output_field=IntegerField())


def search_annotations(words: tuple[SearchWord, ...], query: str) -> dict:
    """``search_matched``: how many of the words a course contains; ``search_rank``:
    WORD_MATCHED per word found, plus each field's weight per word found there,
    plus PHRASE_IN_TITLE when the title holds the whole query as typed. Computed
    only for the courses the search condition let through.

    The body's weight is its share of ``search_matched`` alone: the body is the
    long text, and the test for a word "anywhere" already reads it last, only
    when no other field had the word; a second LIKE over it per word would
    double the cost of sorting thousands of results for one point."""
    matched = functools.reduce(operator.add, [_score(_word_anywhere(word), 1) for word in words])
    scores = [
        _score(_word_in(field, word), weight)
        for word in words
        for field, weight in FIELD_WEIGHTS.items()
        if field != "body"
    ]
    phrase = "".join(normalise(query).split())
    if len(words) > 1 and phrase:
        scores.append(_score(_text_contains("title", phrase), PHRASE_IN_TITLE))
    rank = functools.reduce(operator.add, [matched * Value(WORD_MATCHED), *scores])
    return {"search_matched": matched, "search_rank": rank}
