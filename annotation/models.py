"""Routing (assignments and leases), what annotators record, and their standing on each project."""

from typing import ClassVar

from django.db import models

from core.scoping import TenantManager, TenantModel


class AssignmentState(models.TextChoices):
    QUEUED = "queued"  # reserved for the annotator by the dispatcher or a manager; no lease yet
    ACTIVE = "active"  # leased: the annotator holds it until lease_expires_at
    SUBMITTED = "submitted"
    SKIPPED = "skipped"
    EXPIRED = "expired"
    RELEASED = "released"
    REVOKED = "revoked"
    REJECTED = "rejected"  # its annotation was rejected in review and the task went back to the pool


# States that occupy one of the task's overlap slots.
LIVE_STATES = (AssignmentState.QUEUED, AssignmentState.ACTIVE)
TAKEN_STATES = (*LIVE_STATES, AssignmentState.SUBMITTED)


class AssignmentSource(models.TextChoices):
    CLAIM = "claim"
    DISPATCH = "dispatch"
    MANUAL = "manual"


class Assignment(TenantModel):
    """One annotator's turn at one task. UNIQUE(task, annotator): nobody labels the same item twice."""

    objects: ClassVar[TenantManager["Assignment"]] = TenantManager()  # type: ignore[assignment]

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="assignments")
    task = models.ForeignKey("projects.Task", on_delete=models.CASCADE, related_name="assignments")
    annotator = models.ForeignKey("tenancy.Membership", on_delete=models.CASCADE, related_name="assignments")
    state = models.CharField(max_length=16, choices=AssignmentState.choices)
    source = models.CharField(max_length=16, choices=AssignmentSource.choices)
    is_gold = models.BooleanField(default=False)
    # Fencing: a new lease gets a new token, so a holder whose lease lapsed cannot overwrite its successor.
    lease_token = models.UUIDField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    assigned_by = models.ForeignKey("tenancy.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "annotator"], name="assignment_unique_task_annotator"),
            models.CheckConstraint(
                condition=~models.Q(state="active")
                | models.Q(lease_token__isnull=False, lease_expires_at__isnull=False),
                name="assignment_active_has_lease",
            ),
        ]
        indexes = [
            # "My live work on this project": the double-click check, queue promotion and the active limit.
            models.Index(
                fields=["annotator", "project", "state", "id"],
                name="assignment_live",
                condition=models.Q(state__in=["queued", "active"]),
            ),
            # The reaper's scan: only leases still out.
            models.Index(fields=["lease_expires_at"], name="assignment_lease_out", condition=models.Q(state="active")),
            models.Index(fields=["project", "state", "id"], name="assignment_project_state"),
        ]

    def __str__(self) -> str:
        return f"{self.task_id}→{self.annotator_id} ({self.state})"


class ReviewState(models.TextChoices):
    NONE = "none"
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    CORRECTED = "corrected"


class Annotation(TenantModel):
    """A result an annotator (or a reviewer correcting it) recorded. Versions are rows; none is ever rewritten."""

    objects: ClassVar[TenantManager["Annotation"]] = TenantManager()  # type: ignore[assignment]

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="annotations")
    task = models.ForeignKey("projects.Task", on_delete=models.CASCADE, related_name="annotations")
    assignment = models.ForeignKey(
        Assignment, on_delete=models.SET_NULL, null=True, blank=True, related_name="annotations"
    )
    # PROTECT: a result's provenance outlives nothing it names; a member with recorded work is paused, not removed.
    annotator = models.ForeignKey("tenancy.Membership", on_delete=models.PROTECT, related_name="annotations")
    result = models.JSONField()
    schema_version = models.PositiveIntegerField()
    guidelines_version = models.PositiveIntegerField()
    time_spent_ms = models.PositiveIntegerField(default=0)
    version = models.PositiveIntegerField(default=1)
    supersedes = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    is_gold = models.BooleanField(default=False)
    gold_score = models.FloatField(null=True, blank=True)
    # Review: "none" when the project does not review this one; otherwise where it stands.
    review_state = models.CharField(max_length=16, choices=ReviewState.choices, default=ReviewState.NONE)
    review_level = models.PositiveSmallIntegerField(default=0)  # the level it waits for (1 or 2) or passed
    # Per suggested field, decided by the server at submit: {"<field>": {"shown", "kept", "agent", "score"}}.
    suggestions = models.JSONField(default=dict, blank=True, db_default={})

    class Meta:
        constraints = [
            # Submit is idempotent: one original annotation per assignment, however often it is retried.
            models.UniqueConstraint(
                fields=["assignment"], name="annotation_one_per_assignment", condition=models.Q(version=1)
            ),
        ]
        indexes = [
            models.Index(fields=["project", "id"], name="annotation_project_id"),
            models.Index(fields=["task", "id"], name="annotation_task_id"),
            # The reviewers' queue: only annotations waiting for a review.
            models.Index(
                fields=["project", "review_level", "id"],
                name="annotation_review_queue",
                condition=models.Q(review_state="pending"),
            ),
            # The data browser's review filter: the reviewed annotations by outcome, naming their task.
            models.Index(
                fields=["project", "review_state", "task"],
                name="annotation_reviewed",
                condition=~models.Q(review_state="none"),
            ),
        ]

    def __str__(self) -> str:
        return f"annotation {self.uuid} v{self.version}"


class QualificationState(models.TextChoices):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    PASSED = "passed"
    FAILED = "failed"


class AnnotatorProgress(TenantModel):
    """An annotator's standing on one project: counters the router needs in O(1), qualification, pause.

    The claim locks this row, which also serialises one annotator's concurrent claims (a double click).
    """

    objects: ClassVar[TenantManager["AnnotatorProgress"]] = TenantManager()  # type: ignore[assignment]

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="progress")
    annotator = models.ForeignKey("tenancy.Membership", on_delete=models.CASCADE, related_name="progress")
    served = models.PositiveIntegerField(default=0)
    gold_served = models.PositiveIntegerField(default=0)
    submitted = models.PositiveIntegerField(default=0)
    qualification_state = models.CharField(
        max_length=16, choices=QualificationState.choices, default=QualificationState.NOT_STARTED
    )
    qualification_answered = models.PositiveIntegerField(default=0)
    qualification_score = models.FloatField(default=0.0)  # sum of scores over the current attempt
    qualification_attempts = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    gold_scored = models.PositiveIntegerField(default=0)
    gold_score_sum = models.FloatField(default=0.0)
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_reason = models.CharField(max_length=300, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "annotator"], name="progress_unique_project_annotator"),
        ]

    @property
    def gold_accuracy(self) -> float | None:
        return self.gold_score_sum / self.gold_scored if self.gold_scored else None

    def __str__(self) -> str:
        return f"{self.annotator_id}@{self.project_id}"


class ConflictExclusion(TenantModel):
    """Keeps members away from a project (or every project when none is set): one member, or an attribute value.

    Example: a study sponsored by Acme excludes `affiliation = Acme` so no Acme employee labels it.
    """

    objects: ClassVar[TenantManager["ConflictExclusion"]] = TenantManager()  # type: ignore[assignment]

    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, null=True, blank=True, related_name="exclusions"
    )
    membership = models.ForeignKey(
        "tenancy.Membership", on_delete=models.CASCADE, null=True, blank=True, related_name="exclusions"
    )
    attribute = models.CharField(max_length=64, blank=True)
    value = models.CharField(max_length=200, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey("tenancy.User", on_delete=models.SET_NULL, null=True, related_name="+")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(membership__isnull=False, attribute="")
                | models.Q(membership__isnull=True) & ~models.Q(attribute=""),
                name="exclusion_member_or_attribute",
            ),
        ]

    def __str__(self) -> str:
        return f"exclude {self.membership_id or f'{self.attribute}={self.value}'}"


class ReviewDecision(models.TextChoices):
    ACCEPT = "accept"
    REJECT = "reject"
    CORRECT = "correct"


class Review(TenantModel):
    """A reviewer's decision on one annotation; a correction is a new annotation version, the original kept."""

    objects: ClassVar[TenantManager["Review"]] = TenantManager()  # type: ignore[assignment]

    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey("tenancy.Membership", on_delete=models.CASCADE, related_name="reviews")
    level = models.PositiveSmallIntegerField(default=1)
    decision = models.CharField(max_length=16, choices=ReviewDecision.choices)
    comment = models.TextField(blank=True)
    correction = models.ForeignKey(Annotation, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["annotation", "level"], name="review_one_per_level"),
        ]

    def __str__(self) -> str:
        return f"{self.decision} L{self.level} of {self.annotation_id}"


class TaskAgreement(TenantModel):
    """Agreement among one task's annotations, per field, with the consensus; recomputed after each submit."""

    objects: ClassVar[TenantManager["TaskAgreement"]] = TenantManager()  # type: ignore[assignment]

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="task_agreements")
    task = models.OneToOneField("projects.Task", on_delete=models.CASCADE, related_name="agreement")
    annotations = models.PositiveIntegerField(default=0)
    fields = models.JSONField(default=dict)  # {field: score in [0, 1] or null}
    score = models.FloatField(null=True, blank=True)  # the lowest field score: one disputed field is enough
    consensus = models.JSONField(default=dict)
    needs_adjudication = models.BooleanField(default=False)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["project", "score", "id"],
                name="agreement_adjudication_queue",
                condition=models.Q(needs_adjudication=True),
            ),
        ]

    def __str__(self) -> str:
        return f"agreement of task {self.task_id}"


class ProjectAgreement(TenantModel):
    """Chance-corrected agreement over a project's overlapping tasks: alpha per field, kappa per annotator pair."""

    objects: ClassVar[TenantManager["ProjectAgreement"]] = TenantManager()  # type: ignore[assignment]

    project = models.OneToOneField("projects.Project", on_delete=models.CASCADE, related_name="agreement")
    report = models.JSONField(default=dict)
    tasks = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"agreement of project {self.project_id}"


class Adjudication(TenantModel):
    """The final answer for a disputed task, with the adjudicator's rationale."""

    objects: ClassVar[TenantManager["Adjudication"]] = TenantManager()  # type: ignore[assignment]

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="adjudications")
    task = models.OneToOneField("projects.Task", on_delete=models.CASCADE, related_name="adjudication")
    adjudicator = models.ForeignKey("tenancy.Membership", on_delete=models.CASCADE, related_name="adjudications")
    result = models.JSONField()
    schema_version = models.PositiveIntegerField()
    rationale = models.TextField()

    def __str__(self) -> str:
        return f"adjudication of task {self.task_id}"


class SuggestionJobState(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    # Stopped part-way (the project's model budget was used up); started again, it goes on where it stopped.
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class SuggestionJob(TenantModel):
    """Suggestions generated by a model for a project's open tasks: a set of fields, a model connection and a prompt
    template (task data put in through `{{ key }}` placeholders). Durable like an import: state, progress, counts,
    the first errors; resumable, since a task that already has this job's suggestion is passed over."""

    objects: ClassVar[TenantManager["SuggestionJob"]] = TenantManager()  # type: ignore[assignment]

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="suggestion_jobs")
    # Kept when its starter leaves the organization: the job and what it suggested outlive the membership.
    created_by = models.ForeignKey(
        "tenancy.Membership", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    connection = models.ForeignKey("llm.ModelConnection", on_delete=models.PROTECT, related_name="+")
    fields = models.JSONField(default=list)  # the schema fields it suggests, in the schema's order
    prompt = models.TextField()
    # The name the suggestions carry ("agent"): the connection's model unless the manager named it otherwise.
    agent = models.CharField(max_length=200)
    state = models.CharField(max_length=16, choices=SuggestionJobState.choices, default=SuggestionJobState.PENDING)
    total = models.PositiveIntegerField(default=0)  # open tasks when it (last) started
    done_count = models.PositiveIntegerField(default=0)  # tasks given a suggestion
    failed_count = models.PositiveIntegerField(default=0)  # tasks whose output stayed invalid, or whose call failed
    skipped_count = models.PositiveIntegerField(default=0)  # tasks it had suggested for already (a resumed run)
    tokens = models.BigIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)  # the first N: {task, code, message}
    # The last task id it went past: a resumed run starts after it.
    checkpoint = models.BigIntegerField(default=0)
    message = models.CharField(max_length=1000, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Which worker runs it (workers.leases), as for imports and exports.
    lease_holder = models.CharField(max_length=128, blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["project", "id"], name="suggestion_job_project_id")]

    def __str__(self) -> str:
        return f"suggestion job {self.uuid} ({self.state})"


class Conversation(TenantModel):
    """One annotator's live chat with the models for one chat field of one assignment: the root of a message tree."""

    objects: ClassVar[TenantManager["Conversation"]] = TenantManager()  # type: ignore[assignment]

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="conversations")
    task = models.ForeignKey("projects.Task", on_delete=models.CASCADE, related_name="conversations")
    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="conversations")
    # Unlike an annotation, a conversation is work in progress until its answer is submitted (the answer's
    # annotation then keeps the member from being removed); removing a member takes their open ones with them, as it
    # takes their assignments.
    annotator = models.ForeignKey("tenancy.Membership", on_delete=models.CASCADE, related_name="conversations")
    field = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["assignment", "field"], name="conversation_one_per_assignment_field"),
        ]
        indexes = [models.Index(fields=["project", "id"], name="conversation_project_id")]

    def __str__(self) -> str:
        return f"conversation {self.uuid} ({self.field})"


class ChatRole(models.TextChoices):
    USER = "user"
    ASSISTANT = "assistant"


class ChatOrigin(models.TextChoices):
    PROMPT = "prompt"  # what the annotator asked
    GENERATED = "generated"  # a model's first reply to a prompt
    REGENERATED = "regenerated"  # the same model asked again: a sibling of the reply it replaces
    EDITED = "edited"  # the annotator's rewrite of a reply: a sibling, the original kept


class ChatMessageState(models.TextChoices):
    STREAMING = "streaming"
    COMPLETE = "complete"
    FAILED = "failed"


class ChatMessage(TenantModel):
    """One message of a conversation tree. Never rewritten once complete: an edit or a regeneration is a new
    sibling that names the message it came from, so the whole history stays in the export."""

    objects: ClassVar[TenantManager["ChatMessage"]] = TenantManager()  # type: ignore[assignment]

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    # RESTRICT: a message is never deleted from under its children or its lineage, except with its whole
    # conversation.
    parent = models.ForeignKey("self", on_delete=models.RESTRICT, null=True, blank=True, related_name="children")
    role = models.CharField(max_length=16, choices=ChatRole.choices)
    content = models.TextField(blank=True)
    turn = models.PositiveSmallIntegerField()
    origin = models.CharField(max_length=16, choices=ChatOrigin.choices)
    edited_from = models.ForeignKey("self", on_delete=models.RESTRICT, null=True, blank=True, related_name="+")
    regenerated_from = models.ForeignKey("self", on_delete=models.RESTRICT, null=True, blank=True, related_name="+")
    # The model that wrote (or whose reply was edited into) this message; null for the annotator's prompts. The
    # model name and parameters are copied, so a connection changed later does not rewrite what was exported.
    connection = models.ForeignKey(
        "llm.ModelConnection", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    model_name = models.CharField(max_length=200, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    # Blind comparison: the letter the annotator sees for this reply; on a prompt, the randomised order of the
    # turn as the connection names in slot order (A first).
    slot = models.CharField(max_length=1, blank=True)
    slot_order = models.JSONField(default=list, blank=True)
    state = models.CharField(max_length=16, choices=ChatMessageState.choices)
    error_code = models.CharField(max_length=32, blank=True)
    error_message = models.CharField(max_length=300, blank=True)
    ttft_ms = models.FloatField(null=True, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["conversation", "id"], name="chat_message_conversation")]

    def __str__(self) -> str:
        return f"{self.role} message {self.uuid} (turn {self.turn})"
