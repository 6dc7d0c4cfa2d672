"""Vacuum the task table by how many rows changed, not by what share of it did.

Every claim moves a task's counter and every finished task leaves the open-queue index; the entries they leave
behind sit at the head of the queue every claim scans. The default (20% of the table) lets a million-task project
pile up 200,000 of them before a vacuum; a fixed threshold keeps the head clean at any size. A lower fill factor
leaves room on each page for the counter updates of tasks imported from now on, so they can stay on their page.
"""

from django.db import migrations

FORWARD = (
    "ALTER TABLE projects_task SET (autovacuum_vacuum_scale_factor = 0.0, autovacuum_vacuum_threshold = 5000,"
    " autovacuum_analyze_scale_factor = 0.02, fillfactor = 90)"
)
BACKWARD = (
    "ALTER TABLE projects_task RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold,"
    " autovacuum_analyze_scale_factor, fillfactor)"
)


class Migration(migrations.Migration):
    dependencies = [("annotation", "0004_annotation_annotator_protect")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
