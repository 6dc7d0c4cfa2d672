# Live chat conversations, every message with its lineage and model: a new export format. Only the field's choices
# change: no SQL runs.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("projects", "0013_export_format_prm"),
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
                    ("chat_tree", "Chat Tree"),
                ],
                max_length=16,
            ),
        ),
    ]
