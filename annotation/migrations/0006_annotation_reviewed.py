"""The data browser's review filter: a project's reviewed annotations by outcome, naming their task."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("annotation", "0005_task_queue_vacuum")]

    operations = [
        migrations.AddIndex(
            model_name="annotation",
            index=models.Index(
                fields=["project", "review_state", "task"],
                name="annotation_reviewed",
                condition=~models.Q(review_state="none"),
            ),
        ),
    ]
