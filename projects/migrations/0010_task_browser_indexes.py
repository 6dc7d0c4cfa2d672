"""The data browser's priority order: a project's tasks by priority, highest first."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("projects", "0009_job_leases")]

    operations = [
        migrations.AddIndex(
            model_name="task",
            index=models.Index(
                models.F("project"), models.F("priority").desc(), models.F("id"), name="task_project_priority"
            ),
        ),
    ]
