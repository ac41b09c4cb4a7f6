"""On PostgreSQL, each course's theme and stage ids as integer arrays on the course
row (``theme_ids``, ``stage_ids``), and a covering index that holds them beside the
columns of 0007, so the catalogue's counting query (courses.selectors,
_catalogue_query) reads every published course's facets, themes and stages included,
with one index-only scan: no join of the two many-to-many tables per page (they
were about a third of that statement).

The arrays are kept in step by triggers on the two many-to-many tables, whatever
writes them (``themes.set()``, ``add``, ``remove``, ``clear``, a theme or stage
deleted, bulk inserts of reports/scale.py): after each statement, the courses it
touched are locked, then their arrays recomputed from the many-to-many rows (a new
snapshot per statement of the function, so two simultaneous changes of one
course's themes both end up in it). They are not model fields: Django never
writes them. courses/tests/test_catalogue_sets.py checks they equal the
many-to-many rows. On SQLite (``make run``) nothing is done; the catalogue there
counts with course_catalogue.
"""

from django.db import migrations

SETS = {
    "theme_ids": ("courses_course_themes", "theme_id"),
    "stage_ids": ("courses_course_stages", "stage_id"),
}

FUNCTION = """
CREATE OR REPLACE FUNCTION courses_sync_{column}() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    ids bigint[];
BEGIN
    IF TG_OP = 'UPDATE' THEN
        ids := ARRAY(SELECT course_id FROM changed UNION SELECT course_id FROM changed_new);
    ELSE
        ids := ARRAY(SELECT DISTINCT course_id FROM changed);
    END IF;
    PERFORM 1 FROM courses_course WHERE id = ANY(ids) ORDER BY id FOR UPDATE;
    UPDATE courses_course c SET {column} = ARRAY(
        SELECT m.{key} FROM {table} m WHERE m.course_id = c.id ORDER BY m.{key}
    ) WHERE c.id = ANY(ids);
    RETURN NULL;
END
$$
"""

TRIGGERS = """
CREATE OR REPLACE TRIGGER courses_sync_{column}_insert AFTER INSERT ON {table}
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION courses_sync_{column}();
CREATE OR REPLACE TRIGGER courses_sync_{column}_delete AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION courses_sync_{column}();
CREATE OR REPLACE TRIGGER courses_sync_{column}_update AFTER UPDATE ON {table}
    REFERENCING OLD TABLE AS changed NEW TABLE AS changed_new
    FOR EACH STATEMENT EXECUTE FUNCTION courses_sync_{column}();
"""

INDEX = """
CREATE INDEX IF NOT EXISTS course_catalogue_facet_sets ON courses_course
(is_published, level, mode, term_id, parent_school_id, next_session_at, id)
INCLUDE (theme_ids, stage_ids)
"""


def add_sets(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for column, (table, key) in SETS.items():
            cursor.execute(
                f"ALTER TABLE courses_course ADD COLUMN IF NOT EXISTS {column} bigint[] "
                "NOT NULL DEFAULT '{}'"
            )
            cursor.execute(
                f"UPDATE courses_course c SET {column} = ARRAY(SELECT m.{key} FROM {table} m "
                f"WHERE m.course_id = c.id ORDER BY m.{key})"
            )
            cursor.execute(FUNCTION.format(column=column, table=table, key=key))
            cursor.execute(TRIGGERS.format(column=column, table=table))
        cursor.execute(INDEX)
        # The update above left every row not all-visible: VACUUM (outside a
        # transaction, when it may) so the counting query reads the index alone.
        analyze = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        cursor.execute(f"{analyze} courses_course")


def drop_sets(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX IF EXISTS course_catalogue_facet_sets")
        for column, (table, _key) in SETS.items():
            for event in ("insert", "delete", "update"):
                cursor.execute(f"DROP TRIGGER IF EXISTS courses_sync_{column}_{event} ON {table}")
            cursor.execute(f"DROP FUNCTION IF EXISTS courses_sync_{column}()")
            cursor.execute(f"ALTER TABLE courses_course DROP COLUMN IF EXISTS {column}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("courses", "0007_course_catalogue_facets"),
    ]

    operations = [
        migrations.RunPython(add_sets, drop_sets),
    ]
