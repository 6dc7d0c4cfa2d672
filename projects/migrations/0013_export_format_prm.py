# Process reward data from steps fields: a new export format. Only the field's choices change: no SQL runs.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0012_task_suggestions"),
    ]

    operations = [
        migrations.AlterField(
            model_name="exportjob",
            name="format",
            field=models.CharField(
                choices=[
                    ("jsonl", "Jsonl"),
                    ("csv", "Csv"),
                    ("coco", "Coco"),
                    ("conll", "Conll"),
                    ("dpo", "Dpo"),
                    ("sft", "Sft"),
                    ("label_studio", "Label Studio"),
                    ("prm", "Prm"),
                ],
                max_length=16,
            ),
        ),
    ]
