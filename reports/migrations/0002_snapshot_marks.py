import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0002_registry_permissions_and_indexes"),
        ("parent_school", "0001_initial"),
        ("reports", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="SnapshotMark",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("parent_school_key", models.BigIntegerField(default=0)),
                ("period", models.CharField(max_length=7)),
                ("marked_at", models.DateTimeField()),
                (
                    "term",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="parent_school.term",
                    ),
                ),
                (
                    "unit",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="members.memberunit",
                    ),
                ),
            ],
            options={
                "verbose_name": "待更新的统计",
                "verbose_name_plural": "待更新的统计",
            },
        ),
    ]
