"""Suggestions (pre-annotations) that arrive with tasks, and the project setting that shows them.

`Task.suggestions` is `{"<field>": {"value": ..., "agent": "model-x@v3", "score": 0.83}}`, checked against the
schema when imported. The staging table carries the same column so an import keeps it all or nothing. Both have a
database default, so the import's COPY and merge statements that do not name the column keep working.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("projects", "0011_reject_returns_to_annotator")]

    operations = [
        migrations.AddField(
            model_name="task",
            name="suggestions",
            field=models.JSONField(blank=True, default=dict, db_default={}),
        ),
        migrations.AddField(
            model_name="importrow",
            name="suggestions",
            field=models.JSONField(default=dict, db_default={}),
        ),
        migrations.AddField(
            model_name="project",
            name="show_suggestions",
            field=models.BooleanField(default=True, db_default=True),
        ),
    ]
