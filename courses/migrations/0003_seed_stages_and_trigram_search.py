"""Seed the four school stages, and on PostgreSQL add trigram indexes so that
the catalogue's keyword search (``icontains``, Chinese substrings) can use an
index. On SQLite (``make run`` without a database server) the index step is skipped."""

from django.db import migrations

STAGES = [("preschool", 1), ("primary", 2), ("junior", 3), ("senior", 4)]


def seed_stages(apps, schema_editor):
    Stage = apps.get_model("courses", "Stage")
    for code, order in STAGES:
        Stage.objects.update_or_create(code=code, defaults={"sort_order": order})


def add_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        # Django's icontains is UPPER(col::text) LIKE UPPER(%s): index that expression.
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS course_title_trgm ON courses_course "
            "USING gin (UPPER(title::text) gin_trgm_ops)"
        )
        cursor.execute(
            "CREATE INDEX IF NOT EXISTS course_summary_trgm ON courses_course "
            "USING gin (UPPER(summary::text) gin_trgm_ops)"
        )


def drop_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("DROP INDEX IF EXISTS course_title_trgm")
        cursor.execute("DROP INDEX IF EXISTS course_summary_trgm")


class Migration(migrations.Migration):
    dependencies = [
        ("courses", "0002_initial"),
    ]

    operations = [
        migrations.RunPython(seed_stages, migrations.RunPython.noop),
        migrations.RunPython(add_trigram_indexes, drop_trigram_indexes),
    ]
