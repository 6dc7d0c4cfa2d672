# A rejected annotation now goes back to its annotator unless the project says otherwise. Only the model's default
# changes (Django sets no database default), so existing projects keep the value they have.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0010_task_browser_indexes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="project",
            name="reject_returns_to",
            field=models.CharField(
                choices=[("annotator", "annotator"), ("pool", "pool")], default="annotator", max_length=10
            ),
        ),
    ]
