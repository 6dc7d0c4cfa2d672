"""The audit trail, read-only, for owners and admins."""

from typing import Any, ClassVar

import django_filters
from rest_framework import serializers
from rest_framework.mixins import ListModelMixin
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from audit.models import AuditEvent
from audit.selectors import audit_event_list
from tenancy.api.base import OrganizationAPIView
from tenancy.models import Role


class AuditEventSerializer(serializers.ModelSerializer[AuditEvent]):
    actor = serializers.CharField(source="actor_label")
    token = serializers.CharField(source="actor_token_prefix")

    class Meta:
        model = AuditEvent
        fields = [
            "sequence",
            "occurred_at",
            "action",
            "category",
            "outcome",
            "actor",
            "token",
            "ip",
            "user_agent",
            "request_id",
            "target_type",
            "target_id",
            "changes",
            "metadata",
        ]
        read_only_fields = fields


class AuditEventFilter(django_filters.FilterSet):
    action = django_filters.CharFilter()
    category = django_filters.CharFilter()
    outcome = django_filters.ChoiceFilter(choices=AuditEvent._meta.get_field("outcome").choices)
    target_id = django_filters.CharFilter()
    occurred_after = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["action", "category", "outcome", "target_id", "occurred_after", "occurred_before"]


class SequenceCursorPagination(CursorPagination):
    ordering = "sequence"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class AuditEventListView(ListModelMixin, OrganizationAPIView):
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    pagination_class = SequenceCursorPagination
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.ADMIN}

    def get_queryset(self) -> Any:
        return AuditEvent.objects.unscoped().none() if self.generating_schema else audit_event_list()

    def get(self, request: Request) -> Response:
        return self.list(request)
