"""Import and export jobs are leased to the worker running them (projects.services.job_leases)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("projects", "0008_storage_secrets_bound_to_organization")]

    operations = [
        migrations.AddField(
            model_name="importjob",
            name="lease_holder",
            field=models.CharField(blank=True, default="", max_length=128),
        ),
        migrations.AddField(
            model_name="importjob",
            name="lease_expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="exportjob",
            name="lease_holder",
            field=models.CharField(blank=True, default="", max_length=128),
        ),
        migrations.AddField(
            model_name="exportjob",
            name="lease_expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
