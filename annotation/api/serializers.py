"""Request and response shapes of the routing and annotation endpoints."""

from typing import Any

from rest_framework import serializers

from annotation.models import Annotation, AnnotatorProgress, Assignment, ConflictExclusion
from annotation.quality.suggestions import suggestions_offered
from core.api.strict import StrictSerializer


class AssignmentTaskSerializer(serializers.Serializer[Any]):
    """The task as its annotator sees it: its data, never other people's work on it."""

    id = serializers.UUIDField(source="uuid")
    external_id = serializers.CharField()
    # A declared field named `data` shadows Serializer.data only in the stubs; DRF keeps fields apart.
    data = serializers.JSONField()  # type: ignore[assignment]
    # {"<field>": {"value", "agent", "score"}} to pre-fill; empty when the project shows none (agent null if blind).
    suggestions = serializers.SerializerMethodField()

    def get_suggestions(self, task: Any) -> dict[str, Any]:
        return suggestions_offered(project=task.project, task=task)


class LeaseSerializer(serializers.ModelSerializer[Assignment]):
    """An assignment handed to its annotator: the task, the lease's deadline and its fencing token."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    project = serializers.UUIDField(source="project.uuid", read_only=True)
    project_name = serializers.CharField(source="project.display_name", read_only=True)
    task = AssignmentTaskSerializer(read_only=True)
    schema_version = serializers.IntegerField(source="project.schema_version", read_only=True)
    guidelines_version = serializers.IntegerField(source="project.guidelines_version", read_only=True)

    class Meta:
        model = Assignment
        fields = [
            "id",
            "project",
            "project_name",
            "state",
            "lease_token",
            "lease_expires_at",
            "claimed_at",
            "schema_version",
            "guidelines_version",
            "reason",
            "task",
        ]
        read_only_fields = fields
        # `reason`: why the member has this task, when someone said (a manager's assignment, a reviewer's comment
        # on work sent back); shown to the member it is addressed to.
        # Never `is_gold`: an annotator must not be able to tell a gold task from a live one, or gold measures
        # nothing; left out of the fields (not dropped from the output) so the API schema does not promise it.

    def to_representation(self, instance: Assignment) -> dict[str, Any]:
        # The task's suggestions depend on its project, which the assignment has loaded already: handing it over
        # saves the lease (a hot path) a query.
        instance.task.project = instance.project
        return super().to_representation(instance)


class AssignmentSerializer(serializers.ModelSerializer[Assignment]):
    """An assignment as a manager sees it (queues and leases); the lease token is never shown to anyone else."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    project = serializers.UUIDField(source="project.uuid", read_only=True)
    task = serializers.UUIDField(source="task.uuid", read_only=True)
    task_external_id = serializers.CharField(source="task.external_id", read_only=True)
    annotator = serializers.UUIDField(source="annotator.uuid", read_only=True)
    annotator_email = serializers.EmailField(source="annotator.user.email", read_only=True)

    class Meta:
        model = Assignment
        fields = [
            "id",
            "project",
            "task",
            "task_external_id",
            "annotator",
            "annotator_email",
            "state",
            "source",
            "is_gold",
            "lease_expires_at",
            "claimed_at",
            "finished_at",
            "reason",
            "created_at",
        ]
        read_only_fields = fields


class LeaseTokenSerializer(StrictSerializer):
    lease_token = serializers.UUIDField()


class SkipSerializer(LeaseTokenSerializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class SubmitSerializer(LeaseTokenSerializer):
    result = serializers.JSONField(help_text="One value per schema field, as docs/label-schemas.md describes.")
    time_spent_ms = serializers.IntegerField(min_value=0, max_value=86_400_000, required=False, default=0)


class AnnotationSerializer(serializers.ModelSerializer[Annotation]):
    id = serializers.UUIDField(source="uuid", read_only=True)
    task = serializers.UUIDField(source="task.uuid", read_only=True)
    assignment = serializers.UUIDField(source="assignment.uuid", read_only=True, allow_null=True)

    class Meta:
        model = Annotation
        fields = [
            "id",
            "task",
            "assignment",
            "result",
            "schema_version",
            "guidelines_version",
            "time_spent_ms",
            "version",
            "created_at",
        ]
        read_only_fields = fields


class AssignInputSerializer(StrictSerializer):
    task = serializers.UUIDField()
    annotator = serializers.UUIDField(help_text="The member's id.")


class RevokeSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class ExclusionSerializer(serializers.ModelSerializer[ConflictExclusion]):
    """A conflict-of-interest rule; never shown below manager, and never to the member it names."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    project = serializers.UUIDField(
        source="project.uuid", read_only=True, allow_null=True, default=None, help_text="Null: every project."
    )
    member = serializers.UUIDField(source="membership.uuid", read_only=True, allow_null=True, default=None)
    member_email = serializers.EmailField(source="membership.user.email", read_only=True, allow_null=True, default=None)
    created_by = serializers.EmailField(source="created_by.email", read_only=True, allow_null=True, default=None)

    class Meta:
        model = ConflictExclusion
        fields = ["id", "project", "member", "member_email", "attribute", "value", "reason", "created_by", "created_at"]
        read_only_fields = fields


class ExclusionInputSerializer(StrictSerializer):
    member = serializers.UUIDField(required=False, allow_null=True, default=None, help_text="The member to exclude.")
    attribute = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="Or: a member attribute, e.g. `affiliation`.",
    )
    value = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default="", help_text="The attribute value that excludes."
    )
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class ProgressSerializer(serializers.ModelSerializer[AnnotatorProgress]):
    """An annotator's standing on a project: work served and done, qualification, gold accuracy, pause."""

    member = serializers.UUIDField(source="annotator.uuid", read_only=True)
    member_email = serializers.EmailField(source="annotator.user.email", read_only=True)
    qualification_accuracy = serializers.SerializerMethodField(
        help_text="Mean score over the current qualification attempt's answers so far."
    )
    gold_accuracy = serializers.FloatField(read_only=True, allow_null=True, help_text="Mean score on gold tasks.")
    paused = serializers.SerializerMethodField()

    class Meta:
        model = AnnotatorProgress
        fields = [
            "member",
            "member_email",
            "served",
            "submitted",
            "qualification_state",
            "qualification_attempts",
            "qualification_answered",
            "qualification_accuracy",
            "locked_until",
            "gold_scored",
            "gold_accuracy",
            "paused",
            "paused_at",
            "paused_reason",
            "last_seen_at",
        ]
        read_only_fields = fields

    def get_qualification_accuracy(self, progress: AnnotatorProgress) -> float | None:
        if not progress.qualification_answered:
            return None
        return progress.qualification_score / progress.qualification_answered

    def get_paused(self, progress: AnnotatorProgress) -> bool:
        return progress.paused_at is not None


class PauseSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class DispatchResultSerializer(serializers.Serializer[Any]):
    annotators = serializers.IntegerField(help_text="Active annotators with room in their queue.")
    queued = serializers.IntegerField(help_text="Tasks queued for them by this run.")
    returned = serializers.IntegerField(help_text="Stale dispatcher reservations returned to the pool.")
