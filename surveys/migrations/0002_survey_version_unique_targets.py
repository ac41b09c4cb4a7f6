"""Surveys pinned to a template version, the last invitation scan of term surveys,
and the same template once per target."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Q, Subquery


def pin_to_newest_version(apps, schema_editor):
    Survey = apps.get_model("surveys", "Survey")
    TemplateVersion = apps.get_model("surveys", "TemplateVersion")
    newest = (
        TemplateVersion.objects.filter(template_id=OuterRef("template_id"))
        .order_by("-number")
        .values("pk")[:1]
    )
    Survey.objects.filter(version__isnull=True).update(version=Subquery(newest))


class Migration(migrations.Migration):
    dependencies = [
        ("surveys", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="survey",
            name="version",
            field=models.ForeignKey(
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="surveys",
                to="surveys.templateversion",
                verbose_name="问卷版本",
            ),
        ),
        migrations.RunPython(pin_to_newest_version, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="survey",
            name="version",
            field=models.ForeignKey(
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="surveys",
                to="surveys.templateversion",
                verbose_name="问卷版本",
            ),
        ),
        migrations.AddField(
            model_name="survey",
            name="invitations_checked_at",
            field=models.DateTimeField(
                blank=True, editable=False, null=True, verbose_name="邀请检查时间"
            ),
        ),
        migrations.AddConstraint(
            model_name="survey",
            constraint=models.UniqueConstraint(
                condition=Q(scope="parent_school_term"),
                fields=("template", "term", "parent_school"),
                name="survey_one_per_school_term",
            ),
        ),
        migrations.AddConstraint(
            model_name="survey",
            constraint=models.UniqueConstraint(
                condition=Q(scope="alliance_term"),
                fields=("template", "term", "alliance"),
                name="survey_one_per_alliance_term",
            ),
        ),
        migrations.AddConstraint(
            model_name="survey",
            constraint=models.UniqueConstraint(
                condition=Q(scope__in=["session", "event"], series__isnull=True),
                fields=("template", "offering"),
                name="survey_one_per_offering",
            ),
        ),
        migrations.AddConstraint(
            model_name="survey",
            constraint=models.UniqueConstraint(
                condition=Q(scope="course"),
                fields=("template", "course"),
                name="survey_one_per_course",
            ),
        ),
    ]
