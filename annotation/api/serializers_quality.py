"""Request and response shapes of the review, agreement, adjudication and gold-accuracy endpoints.

Serializers that name members read two context keys: `project` (pseudonyms are per project) and `reveal` (whether
the caller may see who a member is; False on the review surfaces of blind projects).
"""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from annotation.models import Adjudication, Annotation, Review, ReviewDecision, TaskAgreement
from annotation.services.quality import annotator_pseudonym, current_answers
from annotation.services.review import COMMENT_MAX_LENGTH, RATIONALE_MAX_LENGTH
from core.api.strict import StrictSerializer
from tenancy.models import Membership


class MemberRefSerializer(serializers.Serializer[Any]):
    """Who wrote or decided something: a pseudonym always; the member's id and e-mail only where the caller may
    know (never on a blind project's review surfaces: reviewers judge the work, not the person)."""

    pseudonym = serializers.CharField(read_only=True)
    id = serializers.UUIDField(read_only=True, allow_null=True)
    email = serializers.EmailField(read_only=True, allow_null=True)

    def to_representation(self, instance: Membership) -> dict[str, Any]:
        project = self.context["project"]
        reveal = bool(self.context.get("reveal", False))
        return {
            "pseudonym": annotator_pseudonym(project_uuid=project.uuid, member_uuid=instance.uuid),
            "id": str(instance.uuid) if reveal else None,
            "email": instance.user.email if reveal else None,
        }


class TaskBriefSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField(source="uuid", read_only=True)
    external_id = serializers.CharField(read_only=True)


class TaskWithDataSerializer(TaskBriefSerializer):
    """The task as the person judging its annotations needs it: with its data."""

    # A declared field named `data` shadows Serializer.data only in the stubs; DRF keeps fields apart.
    data = serializers.JSONField(read_only=True)  # type: ignore[assignment]


class ReviewSerializer(serializers.ModelSerializer[Review]):
    id = serializers.UUIDField(source="uuid", read_only=True)
    annotation = serializers.UUIDField(source="annotation.uuid", read_only=True)
    reviewer = MemberRefSerializer(read_only=True)
    correction = serializers.UUIDField(source="correction.uuid", read_only=True, allow_null=True)

    class Meta:
        model = Review
        fields = ["id", "annotation", "level", "decision", "comment", "reviewer", "correction", "created_at"]
        read_only_fields = fields


class AnnotationStateSerializer(serializers.ModelSerializer[Annotation]):
    """One annotation version and where it stands in review."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    annotator = MemberRefSerializer(read_only=True)

    class Meta:
        model = Annotation
        fields = ["id", "version", "annotator", "result", "review_state", "review_level", "created_at"]
        read_only_fields = fields


class ReviewQueueItemSerializer(serializers.ModelSerializer[Annotation]):
    """An annotation waiting for review, with the task it answers."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    task = TaskWithDataSerializer(read_only=True)
    supersedes = serializers.UUIDField(source="supersedes.uuid", read_only=True, allow_null=True)
    annotator = MemberRefSerializer(read_only=True)
    gold_answer = serializers.SerializerMethodField(
        help_text="The task's known answer when it is a gold task and the caller does not annotate in this project "
        "(was never served one of its tasks, has no answer of their own in it); null otherwise."
    )

    class Meta:
        model = Annotation
        fields = [
            "id",
            "task",
            "version",
            "supersedes",
            "annotator",
            "result",
            "schema_version",
            "guidelines_version",
            "time_spent_ms",
            "review_state",
            "review_level",
            "created_at",
            "gold_answer",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "object", "nullable": True, "additionalProperties": True})
    def get_gold_answer(self, annotation: Annotation) -> dict[str, Any] | None:
        # `gold_visible` is decided once per page by the view (permissions.review_gold_answer); absent means hidden.
        if not annotation.task.is_gold or not self.context.get("gold_visible", False):
            return None
        answer = annotation.task.gold_answer
        return answer if isinstance(answer, dict) else None


class AnnotationHistorySerializer(serializers.ModelSerializer[Annotation]):
    """One version of one annotation of a task, with the reviews it received."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    task = serializers.UUIDField(source="task.uuid", read_only=True)
    supersedes = serializers.UUIDField(source="supersedes.uuid", read_only=True, allow_null=True)
    kind = serializers.SerializerMethodField(help_text="`submission` by an annotator, or a reviewer's `correction`.")
    annotator = MemberRefSerializer(read_only=True)
    reviews = ReviewSerializer(many=True, read_only=True)

    class Meta:
        model = Annotation
        fields = [
            "id",
            "task",
            "version",
            "supersedes",
            "kind",
            "annotator",
            "result",
            "schema_version",
            "guidelines_version",
            "time_spent_ms",
            "is_gold",
            "gold_score",
            "review_state",
            "review_level",
            "created_at",
            "reviews",
        ]
        read_only_fields = fields

    def get_kind(self, annotation: Annotation) -> str:
        assignment = annotation.assignment
        if assignment is not None and assignment.annotator_id != annotation.annotator_id:
            return "correction"
        return "submission"


class ReviewInputSerializer(StrictSerializer):
    decision = serializers.ChoiceField(choices=ReviewDecision.choices)
    comment = serializers.CharField(
        max_length=COMMENT_MAX_LENGTH,
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=False,
        help_text="Required for a rejection: what the annotator should change.",
    )
    result = serializers.JSONField(
        required=False,
        allow_null=True,
        default=None,
        help_text="A correction's result (one value per schema field); only with decision=correct.",
    )


class ReviewOutcomeSerializer(serializers.Serializer[Any]):
    """The decision, the reviewed annotation as it now stands, and the correction it produced (if any)."""

    review = ReviewSerializer(read_only=True)
    annotation = AnnotationStateSerializer(read_only=True)
    correction = AnnotationStateSerializer(read_only=True, allow_null=True)
    assignment_state = serializers.CharField(
        source="annotation.assignment.state",
        read_only=True,
        allow_null=True,
        help_text="After a rejection: `queued` (back with its annotator) or `rejected` (back in the pool).",
    )


class ProjectAgreementSerializer(serializers.Serializer[Any]):
    project = serializers.UUIDField(read_only=True)
    tasks = serializers.IntegerField(read_only=True, help_text="Tasks with two or more standing answers.")
    computed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    report = serializers.JSONField(
        read_only=True,
        help_text="alpha per field (level of measurement, components, units), Cohen's kappa per pseudonymous "
        "annotator pair, and the adjudication counts; see docs/review-and-agreement.md.",
    )


class AdjudicationItemSerializer(serializers.ModelSerializer[TaskAgreement]):
    """A task waiting for adjudication: its agreement per field, the consensus, and every standing answer."""

    task = TaskWithDataSerializer(read_only=True)
    annotations = serializers.SerializerMethodField(help_text="Each annotator's standing answer, oldest first.")

    class Meta:
        model = TaskAgreement
        fields = ["task", "score", "fields", "consensus", "annotations", "computed_at"]
        read_only_fields = fields

    @extend_schema_field(AnnotationStateSerializer(many=True))
    def get_annotations(self, agreement: TaskAgreement) -> list[dict[str, Any]]:
        rows = list(agreement.task.annotations.all())
        answers = current_answers(rows, schema_version=self.context["project"].schema_version)
        rendered = AnnotationStateSerializer([a.annotation for a in answers], many=True, context=self.context)
        return list(rendered.data)


class AdjudicateInputSerializer(StrictSerializer):
    result = serializers.JSONField(help_text="The final answer: one value per schema field.")
    rationale = serializers.CharField(max_length=RATIONALE_MAX_LENGTH, trim_whitespace=False)


class AdjudicationSerializer(serializers.ModelSerializer[Adjudication]):
    id = serializers.UUIDField(source="uuid", read_only=True)
    task = serializers.UUIDField(source="task.uuid", read_only=True)
    adjudicator = MemberRefSerializer(read_only=True)

    class Meta:
        model = Adjudication
        fields = ["id", "task", "result", "rationale", "schema_version", "adjudicator", "created_at"]
        read_only_fields = fields


class GoldDaySerializer(serializers.Serializer[Any]):
    day = serializers.DateField(read_only=True)
    scored = serializers.IntegerField(read_only=True)
    accuracy = serializers.FloatField(read_only=True)


class GoldAnnotatorSerializer(serializers.Serializer[Any]):
    annotator = MemberRefSerializer(read_only=True)
    gold_scored = serializers.IntegerField(read_only=True, help_text="Gold tasks scored on this project, ever.")
    accuracy = serializers.FloatField(read_only=True, allow_null=True, help_text="Mean gold score, ever.")
    qualification_state = serializers.CharField(read_only=True)
    paused = serializers.SerializerMethodField()
    paused_at = serializers.DateTimeField(read_only=True, allow_null=True)
    paused_reason = serializers.CharField(read_only=True)
    by_day = GoldDaySerializer(many=True, read_only=True)

    def get_paused(self, row: Any) -> bool:
        return row.paused_at is not None


class GoldAccuracyReportSerializer(serializers.Serializer[Any]):
    project = serializers.UUIDField(read_only=True)
    since = serializers.DateTimeField(read_only=True)
    annotators = GoldAnnotatorSerializer(many=True, read_only=True)
