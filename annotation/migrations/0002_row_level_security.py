from django.db import migrations

from core.migration_ops import EnableTenantRLS


class Migration(migrations.Migration):
    dependencies = [("annotation", "0001_initial")]

    operations = [
        EnableTenantRLS("assignment"),
        EnableTenantRLS("annotation"),
        EnableTenantRLS("annotatorprogress"),
        EnableTenantRLS("conflictexclusion"),
    ]
