from django.db import migrations

from core.migration_ops import EnableTenantRLS


class Migration(migrations.Migration):
    dependencies = [("tenancy", "0001_initial")]

    operations = [
        EnableTenantRLS("membership"),
        EnableTenantRLS("apitoken"),
        EnableTenantRLS("invitation"),
    ]
