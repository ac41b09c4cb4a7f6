"""On PostgreSQL, GIN indexes of the two-character pieces (bigrams) of a post's
body and a thread's title, for the boards' search (community.selectors.search_posts).
They use the courses' bigram function (courses migration 0006, whose docstring says
why bigrams and not pg_trgm); the query writes the same expressions
(courses.search.TextHasBigrams). On SQLite nothing is done; search scans there.
"""

from django.db import migrations

INDEXES = {
    "post_body_bigrams": "community_post USING gin (courses_bigrams(lower(body)))",
    "thread_title_bigrams": "community_thread USING gin (courses_bigrams(lower(title)))",
}


def add_bigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for name, target in INDEXES.items():
            cursor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}")


def drop_bigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for name in INDEXES:
            cursor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("community", "0002_initial"),
        ("courses", "0006_course_search_bigrams"),
    ]

    operations = [
        migrations.RunPython(add_bigram_indexes, drop_bigram_indexes),
    ]
