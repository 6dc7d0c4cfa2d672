"""Query-string filters of the task list."""

import django_filters

from projects.models import Task


class TaskFilter(django_filters.FilterSet):
    external_id = django_filters.CharFilter(field_name="external_id", max_length=255)
    priority_min = django_filters.NumberFilter(field_name="priority", lookup_expr="gte")
    priority_max = django_filters.NumberFilter(field_name="priority", lookup_expr="lte")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Task
        fields = ["external_id", "priority_min", "priority_max", "created_after", "created_before"]
