"""Integrity endpoints: verify the trail now, list the signed checkpoints, seal now, and the public key."""

from typing import Any, ClassVar

import django_filters
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.mixins import ListModelMixin
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit import permissions, signing
from audit.models import AuditCheckpoint
from audit.selectors.chains import audit_checkpoint_list
from audit.services.sealing import audit_seal_recorded, checkpoint_document
from audit.services.verification import audit_verify_recorded
from core.api.base import RequestTransactionMixin
from core.api.strict import StrictSerializer
from tenancy.api.base import OrganizationAPIView
from tenancy.models import Role


class VerifyRequestSerializer(StrictSerializer):
    category = serializers.CharField(max_length=32, required=False)


class ProblemSerializer(serializers.Serializer[Any]):
    category = serializers.CharField()
    kind = serializers.ChoiceField(choices=["altered", "missing", "inserted", "forged", "checkpoint"])
    message = serializers.CharField()
    sequence = serializers.IntegerField(allow_null=True)


class VerifyReportSerializer(serializers.Serializer[Any]):
    ok = serializers.BooleanField()
    events_checked = serializers.IntegerField()
    checkpoints_checked = serializers.IntegerField()
    unsealed_events = serializers.IntegerField()
    problems = ProblemSerializer(many=True)
    first_problem = ProblemSerializer(allow_null=True)


class AuditVerifyView(OrganizationAPIView):
    """Recompute the organization's chains and checkpoints; the report names the first event that fails."""

    serializer_class = VerifyReportSerializer
    required_roles: ClassVar[dict[str, Role]] = {"POST": permissions.TRAIL_ROLE}

    @extend_schema(request=VerifyRequestSerializer, responses=VerifyReportSerializer)
    def post(self, request: Request) -> Response:
        body = VerifyRequestSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        report = audit_verify_recorded(actor=self.membership, category=body.validated_data.get("category"))
        return Response(report.as_dict())


class SealRequestSerializer(StrictSerializer):
    """Sealing takes no options; an empty object (or no body) is the request."""


class SealResultSerializer(serializers.Serializer[Any]):
    events = serializers.IntegerField()
    checkpoints = serializers.IntegerField()


class AuditSealView(OrganizationAPIView):
    """Seal the organization's new events into signed checkpoints now, rather than at the next beat."""

    serializer_class = SealResultSerializer
    required_roles: ClassVar[dict[str, Role]] = {"POST": permissions.TRAIL_ROLE}

    @extend_schema(request=SealRequestSerializer, responses=SealResultSerializer)
    def post(self, request: Request) -> Response:
        SealRequestSerializer(data=request.data or {}).is_valid(raise_exception=True)
        result = audit_seal_recorded(actor=self.membership)
        return Response({"events": result.events, "checkpoints": result.checkpoints})


class CheckpointSerializer(serializers.ModelSerializer[AuditCheckpoint]):
    """A checkpoint as it was signed: with `organization` it is the exact document the signature covers."""

    organization = serializers.CharField(read_only=True, help_text="The organization's public id.")
    sealed_at = serializers.CharField(read_only=True, help_text="UTC, to the microsecond, as signed.")

    class Meta:
        model = AuditCheckpoint
        fields = [
            "organization",
            "category",
            "first_sequence",
            "last_sequence",
            "prev_head",
            "head",
            "previous_digest",
            "digest",
            "sealed_at",
            "key_id",
            "signature",
        ]
        read_only_fields = fields

    def to_representation(self, checkpoint: AuditCheckpoint) -> dict[str, Any]:
        # The one definition of the signed document, shared with export, S3 copies and verification.
        return checkpoint_document(str(self.context["organization"].uuid), checkpoint)


class CheckpointFilter(django_filters.FilterSet):  # type: ignore[misc]  # django-filter ships no types
    category = django_filters.CharFilter()

    class Meta:
        model = AuditCheckpoint
        fields = ["category"]


class CheckpointCursorPagination(CursorPagination):
    ordering = "id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class CheckpointListView(ListModelMixin, OrganizationAPIView):
    """The organization's signed checkpoints, oldest first."""

    serializer_class = CheckpointSerializer
    filterset_class = CheckpointFilter
    pagination_class = CheckpointCursorPagination
    required_roles: ClassVar[dict[str, Role]] = {"GET": permissions.TRAIL_ROLE}

    list_model = AuditCheckpoint

    def list_queryset(self) -> Any:
        return audit_checkpoint_list()

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        if not self.generating_schema:
            context["organization"] = self.organization
        return context

    def get(self, request: Request) -> Response:
        return self.list(request)


class PublicKeyView(RequestTransactionMixin, APIView):
    """The key that signs checkpoints, for anyone to check them with: it names no tenant and holds no secret."""

    permission_classes = [AllowAny]
    authentication_classes = ()  # no credentials are read, so none can be rejected or recorded

    @extend_schema(
        responses=inline_serializer(
            "AuditPublicKey",
            {
                "key_id": serializers.CharField(),
                "algorithm": serializers.CharField(),
                "public_key_pem": serializers.CharField(),
            },
        ),
        auth=[],
    )
    def get(self, request: Request) -> Response:
        return Response(
            {"key_id": signing.current_key_id(), "algorithm": "Ed25519", "public_key_pem": signing.public_key_pem()}
        )
