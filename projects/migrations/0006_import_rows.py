import django.db.models.deletion
from django.db import migrations, models

from core.migration_ops import EnableTenantRLS


class Migration(migrations.Migration):

    dependencies = [
        ('projects', '0005_datasets'),
        ('tenancy', '0004_row_level_security'),
    ]

    operations = [
        migrations.CreateModel(
            name='ImportRow',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('source_index', models.IntegerField(default=0)),
                ('line', models.BigIntegerField()),
                ('external_id', models.CharField(max_length=255)),
                ('data', models.JSONField()),
                ('priority', models.IntegerField(default=0)),
                ('required_skills', models.JSONField(default=dict)),
                ('language', models.CharField(blank=True, max_length=16)),
                ('qualification', models.BooleanField(default=False)),
                ('gold_answer', models.JSONField(null=True)),
                ('job', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='projects.importjob')),
                ('organization', models.ForeignKey(editable=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.organization')),
            ],
        ),
        EnableTenantRLS("importrow"),
    ]
