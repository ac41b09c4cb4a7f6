"""On PostgreSQL, a GIN index of each course's two-character pieces (bigrams) of
its title, summary and body, for the catalogue's word search (courses/search.py).

Most Chinese words have two characters, and pg_trgm can take nothing from a
two-character pattern: ``LIKE '%沟通%'`` would read every course's body. The
bigram index finds the courses holding every piece of a word; the LIKE then
decides. The query writes the index's expression exactly as here
(``search.CourseTextHasBigrams``). The function is marked expensive (COST
1000) so that the planner uses the index rather than computing it per row,
except for a handful of courses. (Not higher: the estimates would then pass
``jit_above_cost`` and PostgreSQL would spend seconds compiling the query.) On SQLite
(``make run`` without a database server) nothing is done; search scans there.
"""

from django.db import migrations

CREATE_FUNCTION = """
CREATE OR REPLACE FUNCTION courses_bigrams(value text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE COST 1000
AS $$
    SELECT coalesce(array_agg(DISTINCT substr(value, i, 2)), '{}')
    FROM generate_series(1, char_length(value) - 1) AS i
$$
"""

CREATE_INDEX = """
CREATE INDEX IF NOT EXISTS course_search_bigrams ON courses_course
USING gin (courses_bigrams(lower(title || ' ' || summary || ' ' || body)))
"""


def add_bigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(CREATE_FUNCTION)
        cursor.execute(CREATE_INDEX)


def drop_bigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("DROP INDEX IF EXISTS course_search_bigrams")
        cursor.execute("DROP FUNCTION IF EXISTS courses_bigrams(text)")


class Migration(migrations.Migration):
    dependencies = [
        ("courses", "0005_lesson_video_heartbeats"),
    ]

    operations = [
        migrations.RunPython(add_bigram_index, drop_bigram_index),
    ]
