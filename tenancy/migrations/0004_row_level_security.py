from django.db import migrations

from core.migration_ops import EnableTenantRLS


class Migration(migrations.Migration):
    dependencies = [("tenancy", "0003_skills_and_member_routing")]

    operations = [
        EnableTenantRLS("skill"),
        EnableTenantRLS("memberskill"),
    ]
