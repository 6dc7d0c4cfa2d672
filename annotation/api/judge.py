"""One judge run as the API shows it: its state and counts, and how far it agrees with the experts per field."""

from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from annotation.selectors.judge import judge_agreement
from llm.api.serializers_judge import JudgeRunSerializer
from llm.selectors import judge_run_all
from tenancy.api.base import OrganizationAPIView
from tenancy.models import Role


class JudgeFieldAgreementSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    type = serializers.CharField()
    items = serializers.IntegerField(help_text="Tasks with a valid verdict and at least one expert answer.")
    judge_alpha = serializers.FloatField(
        allow_null=True, help_text="Krippendorff's alpha of the experts with the judge as one more coder."
    )
    experts_alpha = serializers.FloatField(allow_null=True, help_text="The experts' own alpha on the same tasks.")
    kappa = serializers.FloatField(
        allow_null=True, help_text="Cohen's kappa of the judge against the settled (adjudicated or majority) answer."
    )
    agreement = serializers.FloatField(allow_null=True, help_text="Share of settled answers the judge gave.")
    settled_units = serializers.IntegerField()
    reading = serializers.CharField()


class JudgeAgreementSerializer(serializers.Serializer[Any]):
    verdicts = serializers.IntegerField(help_text="Valid verdicts compared.")
    # The body's key; DRF's metaclass takes declared fields off the class, so `Serializer.fields` is untouched.
    fields = JudgeFieldAgreementSerializer(many=True)  # type: ignore[assignment]


class JudgeRunDetailSerializer(JudgeRunSerializer):
    agreement = JudgeAgreementSerializer(read_only=True)

    class Meta(JudgeRunSerializer.Meta):
        fields = [*JudgeRunSerializer.Meta.fields, "agreement"]
        read_only_fields = fields


class JudgeRunDetailView(OrganizationAPIView):
    """One judge run: state, progress, counts, first errors, and the judge against the experts per field."""

    serializer_class = JudgeRunDetailSerializer
    required_roles: ClassVar[dict[str, Role]] = {"GET": Role.MANAGER}

    @extend_schema(responses=JudgeRunDetailSerializer)
    def get(self, request: Request, judge_run_id: str) -> Response:
        run = self.get_by_uuid(judge_run_all(), judge_run_id)
        body = dict(JudgeRunSerializer(run).data)
        body["agreement"] = judge_agreement(project=run.project, run=run).as_dict()
        return Response(body)
