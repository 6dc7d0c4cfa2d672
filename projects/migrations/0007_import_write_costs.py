import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('projects', '0006_import_rows'),
        ('tenancy', '0005_api_token_resolve'),
    ]

    operations = [
        migrations.AlterField(
            model_name='importrow',
            name='job',
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='projects.importjob'),
        ),
        migrations.AlterField(
            model_name='importrow',
            name='organization',
            field=models.ForeignKey(db_constraint=False, db_index=False, editable=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='tenancy.organization'),
        ),
        migrations.AlterField(
            model_name='task',
            name='project',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='tasks', to='projects.project'),
        ),
        migrations.AddIndex(
            model_name='importrow',
            index=models.Index(fields=['job', 'id'], name='importrow_job_order'),
        ),
        # Staging rows are written once, read once and deleted within minutes: the write-ahead log of them would
        # only slow the import down. A crash empties the table; the runner notices and starts such a job over.
        migrations.RunSQL(
            "ALTER TABLE projects_importrow SET UNLOGGED",
            "ALTER TABLE projects_importrow SET LOGGED",
        ),
    ]
