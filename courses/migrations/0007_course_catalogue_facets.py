"""An index holding every column of the catalogue's counting query (all key
columns, so SQLite takes it too): the counting query (courses.selectors,
_catalogue_query) reads every published course's level, mode, term, school and
next session from it with an index-only scan instead of the table, whose
titles, summaries and bodies make it about 30 MB at 20,000 courses."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("courses", "0006_course_search_bigrams"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="course",
            index=models.Index(
                fields=[
                    "is_published",
                    "level",
                    "mode",
                    "term",
                    "parent_school",
                    "next_session_at",
                    "id",
                ],
                name="course_catalogue_facets",
            ),
        ),
    ]
