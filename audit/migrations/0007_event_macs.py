"""Every event carries a MAC from now on (audit.macs), and each counter records, MACed, the first number that needs
one: the events numbered before this migration were written without a MAC and stay valid, vouched for by their
seals once sealed (the next seal, for those not sealed yet).

Adding the columns with a constant default rewrites nothing and fires no trigger, whatever the size of the trail.
Stop the old web and worker processes before migrating: an event an old process writes after this runs has no MAC
and a number past `mac_since`, and the sealer stops at it with an integrity alert.
"""

from typing import Any

from django.db import migrations, models

from audit.macs import mac_since_mac
from core.db import GUC_ORGANIZATION


def forward(apps: Any, schema_editor: Any) -> None:
    organization_model = apps.get_model("tenancy", "Organization")
    counter_model = apps.get_model("audit", "AuditSequence")
    cursor = schema_editor.connection.cursor()
    # Platform scope: the organization registry is not a tenant table; each organization's counters are read and
    # written with its own tenant setting, as the row policies require even of the owner.
    for organization_id in organization_model.objects.order_by("pk").values_list("pk", flat=True):
        cursor.execute("SELECT set_config(%s, %s, true)", [GUC_ORGANIZATION, str(organization_id)])
        counters = counter_model.objects.filter(organization_id=organization_id, last_value__gt=0)
        for pk, category, last_value in counters.values_list("pk", "category", "last_value"):
            mac_since = last_value + 1
            counter_model.objects.filter(pk=pk).update(
                mac_since=mac_since, mac_since_mac=mac_since_mac(organization_id, category, mac_since)
            )
    cursor.execute("SELECT set_config(%s, '', true)", [GUC_ORGANIZATION])


class Migration(migrations.Migration):
    dependencies = [("audit", "0006_stream_tokens_bound_to_organization")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="mac",
            field=models.CharField(blank=True, db_default="", max_length=100),
        ),
        migrations.AddField(
            model_name="auditsequence",
            name="mac_since",
            field=models.BigIntegerField(db_default=1),
        ),
        migrations.AddField(
            model_name="auditsequence",
            name="mac_since_mac",
            field=models.CharField(blank=True, db_default="", max_length=64),
        ),
        migrations.RunPython(forward, migrations.RunPython.noop),
    ]
