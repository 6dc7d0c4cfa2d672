"""The organization's model connections, each project's budget for them, and one row per call made to a model."""

from typing import ClassVar

from django.conf import settings as django_settings
from django.db import models

from core.scoping import TenantManager, TenantModel


class ModelConnection(TenantModel):
    """An OpenAI-compatible chat-completions endpoint of the organization's (vLLM, SGLang, TGI, a lab gateway…).

    The API key is sealed at rest and bound to the organization (core.stored_secrets); the endpoint is reached only
    through the vetted transport (llm.transport), so it can point at no address the operator has not allowed.
    """

    objects: ClassVar[TenantManager["ModelConnection"]] = TenantManager()  # type: ignore[assignment]

    name = models.CharField(max_length=100)
    base_url = models.CharField(max_length=500)
    model = models.CharField(max_length=200)
    # Defaults sent with every call (temperature, top_p, max_tokens, …); a call's own parameters override them.
    parameters = models.JSONField(default=dict, blank=True)
    api_key_sealed = models.TextField(blank=True)
    timeout_seconds = models.PositiveSmallIntegerField(default=60)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="model_connection_unique_name")]

    def __str__(self) -> str:
        return self.name


class ModelBudget(TenantModel):
    """What one project may spend on models: a token allowance and how many calls may run at once."""

    objects: ClassVar[TenantManager["ModelBudget"]] = TenantManager()  # type: ignore[assignment]

    project = models.OneToOneField("projects.Project", on_delete=models.CASCADE, related_name="model_budget")
    # None: no limit on tokens (calls are still counted).
    token_limit = models.BigIntegerField(null=True, blank=True)
    tokens_used = models.BigIntegerField(default=0)
    max_concurrent = models.PositiveSmallIntegerField(default=8)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(tokens_used__gte=0), name="model_budget_used_non_negative"),
        ]


class CallState(models.TextChoices):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class CallPurpose(models.TextChoices):
    CHAT = "chat"
    SUGGESTION = "suggestion"
    JUDGE = "judge"


class ModelCall(TenantModel):
    """One request to a model: who made it for which task, what it cost, how long it took, how it ended.

    Running rows are what the concurrency limit counts and what holds a share of the budget (`tokens_reserved`)
    until the call ends; a row left running by a killed process stops counting once it is older than its
    connection's timeout allows (see llm.services.calls), so nothing has to clean it up for the budget to heal.
    """

    objects: ClassVar[TenantManager["ModelCall"]] = TenantManager()  # type: ignore[assignment]

    connection = models.ForeignKey(ModelConnection, on_delete=models.PROTECT, related_name="calls")
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="model_calls")
    task = models.ForeignKey("projects.Task", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    member = models.ForeignKey(
        "tenancy.Membership", on_delete=models.SET_NULL, null=True, blank=True, related_name="model_calls"
    )
    purpose = models.CharField(max_length=16, choices=CallPurpose.choices)
    state = models.CharField(max_length=16, choices=CallState.choices, default=CallState.RUNNING)
    parameters = models.JSONField(default=dict)
    tokens_reserved = models.IntegerField(default=0)
    prompt_tokens = models.IntegerField(default=0)
    completion_tokens = models.IntegerField(default=0)
    ttft_ms = models.FloatField(null=True, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    error_code = models.CharField(max_length=32, blank=True)
    stale_after = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The budget and concurrency checks: a project's calls still running.
            models.Index(
                fields=["project", "stale_after"], name="model_call_running", condition=models.Q(state="running")
            ),
            models.Index(fields=["project", "id"], name="model_call_project_id"),
        ]


class JudgeRunState(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PAUSED = "paused"


class JudgeRun(TenantModel):
    """A model answering some of a project's label fields on the tasks experts answered, to measure it against them.

    Its verdicts are never annotations: they take no assignment, count toward no overlap and reach no export.
    """

    objects: ClassVar[TenantManager["JudgeRun"]] = TenantManager()  # type: ignore[assignment]

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="judge_runs")
    # PROTECT: the verdicts' provenance names the model that gave them.
    connection = models.ForeignKey(ModelConnection, on_delete=models.PROTECT, related_name="judge_runs")
    # The schema fields judged (names), and the schema version they were read from when the run started.
    fields = models.JSONField(default=list)
    schema_version = models.PositiveIntegerField()
    instruction = models.TextField(blank=True)
    state = models.CharField(max_length=16, choices=JudgeRunState.choices, default=JudgeRunState.PENDING)
    # Why the run paused, failed or was cancelled, in words a manager can act on.
    reason = models.TextField(blank=True)
    total = models.IntegerField(default=0)
    judged = models.IntegerField(default=0)
    invalid = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)
    # The first few problems ([{"task": external id, "error": text}]): enough to see what went wrong, bounded.
    errors = models.JSONField(default=list)
    created_by = models.ForeignKey(
        "tenancy.Membership", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["project", "id"], name="judge_run_project_id")]

    def __str__(self) -> str:
        return f"judge run {self.uuid}"

    @property
    def processed(self) -> int:
        return self.judged + self.invalid + self.failed

    @property
    def finished(self) -> bool:
        return self.state in (JudgeRunState.SUCCEEDED, JudgeRunState.FAILED, JudgeRunState.CANCELLED)


class JudgeVerdict(TenantModel):
    """The judge's answer on one task: valid when it passed the schema's checks for the judged fields, as an
    annotation would have to; otherwise kept with its errors (`result` then holds what could be parsed, if any)."""

    objects: ClassVar[TenantManager["JudgeVerdict"]] = TenantManager()  # type: ignore[assignment]

    run = models.ForeignKey(JudgeRun, on_delete=models.CASCADE, related_name="verdicts")
    task = models.ForeignKey("projects.Task", on_delete=models.CASCADE, related_name="+")
    result = models.JSONField(null=True, blank=True)
    valid = models.BooleanField(default=False)
    attempts = models.PositiveSmallIntegerField(default=0)
    # "" when valid; the validation errors or the call's failure otherwise.
    error = models.TextField(blank=True)
    call = models.ForeignKey(ModelCall, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        constraints = [
            # A task is judged once per run, however often the run is resumed or its message redelivered.
            models.UniqueConstraint(fields=["run", "task"], name="judge_verdict_one_per_task"),
        ]
        indexes = [models.Index(fields=["run", "id"], name="judge_verdict_run_id")]

    def __str__(self) -> str:
        return f"verdict of task {self.task_id}"
