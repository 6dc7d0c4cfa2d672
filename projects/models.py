"""Projects (what must be labelled, and how) and tasks (the items to label)."""

from typing import ClassVar

from django.conf import settings as django_settings
from django.db import models

from core.scoping import TenantManager, TenantModel, TenantOwned


class Project(TenantModel):
    """A labelling effort: its schema, guidelines, how many annotations each task needs."""

    objects: ClassVar[TenantManager["Project"]] = TenantManager()  # type: ignore[assignment]

    name = models.CharField(max_length=200)
    # Shown to annotators instead of the name on blind projects, so research priorities stay private.
    codename = models.CharField(max_length=100, blank=True)
    description = models.TextField(blank=True)
    guidelines = models.TextField(blank=True)
    guidelines_version = models.PositiveIntegerField(default=1)
    label_schema = models.JSONField(default=dict, blank=True)
    schema_version = models.PositiveIntegerField(default=1)
    overlap = models.PositiveSmallIntegerField(default=1)
    settings = models.JSONField(default=dict, blank=True)
    # A paused project serves no new work; leases already out may still be submitted.
    is_active = models.BooleanField(default=True)
    # Blind: annotators see the codename and guidelines only, never the name, other tasks or others' work.
    blind = models.BooleanField(default=False)
    # Routing: {"skill name": minimum level} every annotator must hold, and languages they must all work in.
    required_skills = models.JSONField(default=dict, blank=True)
    required_languages = models.JSONField(default=list, blank=True)
    # Share of claims answered with a gold task (known answer) when the annotator has one left to do.
    gold_rate = models.FloatField(default=0.0)
    # Gold accuracy below this (over the last `gold_window` gold tasks) pauses the annotator on this project.
    gold_min_accuracy = models.FloatField(null=True, blank=True)
    # Qualification: this many qualification tasks at this accuracy before live work; failing locks out.
    qualification_size = models.PositiveSmallIntegerField(default=0)
    qualification_min_accuracy = models.FloatField(default=0.8)
    qualification_cooldown_hours = models.PositiveIntegerField(default=24)
    # Review: none, a sampled share, or all annotations; by reviewers, optionally at a second level.
    review_mode = models.CharField(
        max_length=8, choices=[("none", "none"), ("sample", "sample"), ("all", "all")], default="none"
    )
    review_rate = models.FloatField(default=0.0)
    review_levels = models.PositiveSmallIntegerField(default=1)
    # A rejected annotation's task goes back to its annotator ("annotator") or to anyone ("pool"). Its annotator by
    # default: they see the reviewer's comment with it, and learn from it.
    reject_returns_to = models.CharField(
        max_length=10, choices=[("annotator", "annotator"), ("pool", "pool")], default="annotator"
    )
    # Tasks whose agreement falls below this go to the adjudication queue.
    agreement_threshold = models.FloatField(default=0.5)
    # Pre-filled answers (Task.suggestions) are offered to annotators unless the project turns them off.
    show_suggestions = models.BooleanField(default=True, db_default=True)
    max_active_per_annotator = models.PositiveSmallIntegerField(default=1)
    lease_seconds = models.PositiveIntegerField(default=900)
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(overlap__gte=1, overlap__lte=50), name="project_overlap_range"),
            models.CheckConstraint(
                condition=models.Q(gold_rate__gte=0, gold_rate__lte=1), name="project_gold_rate_range"
            ),
            models.CheckConstraint(
                condition=models.Q(lease_seconds__gte=30, lease_seconds__lte=86400), name="project_lease_range"
            ),
        ]
        indexes = [models.Index(fields=["organization", "name"], name="project_org_name")]

    @property
    def display_name(self) -> str:
        return self.codename or self.name

    def __str__(self) -> str:
        return self.name


class Task(TenantModel):
    """One item to label. `external_id` is the lab's own key and makes every import idempotent."""

    objects: ClassVar[TenantManager["Task"]] = TenantManager()  # type: ignore[assignment]

    # No index of its own: every index below starts with the project (one more would only slow each insert).
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tasks", db_index=False)
    external_id = models.CharField(max_length=255)
    data = models.JSONField()
    priority = models.IntegerField(default=0)
    # Routing counters, kept by the claim and lease statements themselves: `taken` = queued + active + submitted
    # assignments, `done` = submitted. A task is open while taken < overlap (gold tasks ignore overlap).
    overlap = models.PositiveSmallIntegerField(default=1)
    taken = models.IntegerField(default=0, db_default=0)
    done = models.IntegerField(default=0, db_default=0)
    # Overrides the project's skill requirement for this item: {"skill name": minimum level}.
    required_skills = models.JSONField(default=dict, blank=True, db_default={})
    language = models.CharField(max_length=16, blank=True, default="", db_default="")
    # A gold task has a known answer; qualification tasks are the gold tasks of the entry test.
    is_gold = models.BooleanField(default=False, db_default=False)
    qualification = models.BooleanField(default=False, db_default=False)
    gold_answer = models.JSONField(null=True, blank=True)
    # Pre-annotations, checked against the schema: {"<field>": {"value": ..., "agent": "model@v3", "score": 0.8}}.
    suggestions = models.JSONField(default=dict, blank=True, db_default={})

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "external_id"], name="task_unique_external_id"),
            models.CheckConstraint(condition=models.Q(taken__gte=0, done__gte=0), name="task_counters_non_negative"),
        ]
        indexes = [
            models.Index(fields=["project", "id"], name="task_project_id"),
            # The claim's scan: open live tasks in serving order. Partial, so finished work drops out of it and
            # the cost of a claim does not grow with the project's history.
            models.Index(
                models.F("project"),
                models.F("priority").desc(),
                models.F("taken").desc(),
                models.F("id"),
                name="task_open_queue",
                condition=models.Q(taken__lt=models.F("overlap"), is_gold=False),
            ),
            models.Index(fields=["project", "id"], name="task_gold", condition=models.Q(is_gold=True)),
            # The data browser's priority order.
            models.Index(
                models.F("project"), models.F("priority").desc(), models.F("id"), name="task_project_priority"
            ),
        ]

    def __str__(self) -> str:
        return self.external_id


class LabelSchemaVersion(TenantModel):
    """Every version of a project's label schema; an annotation names the version it was made under."""

    objects: ClassVar[TenantManager["LabelSchemaVersion"]] = TenantManager()  # type: ignore[assignment]

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="schema_versions")
    version = models.PositiveIntegerField()
    document = models.JSONField()
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "version"], name="schema_version_unique")]

    def __str__(self) -> str:
        return f"{self.project_id} v{self.version}"


class StorageConnection(TenantModel):
    """An S3 (or S3-compatible) location of the organization's: a source of imports, a target of exports.

    The secret key is stored sealed and bound to the organization (core.stored_secrets); the endpoint is reached
    only through the SSRF-safe client rules, so it can never point at loopback, private or metadata addresses.
    """

    objects: ClassVar[TenantManager["StorageConnection"]] = TenantManager()  # type: ignore[assignment]

    name = models.CharField(max_length=100)
    bucket = models.CharField(max_length=255)
    prefix = models.CharField(max_length=1024, blank=True)
    endpoint_url = models.CharField(max_length=500, blank=True)
    region = models.CharField(max_length=64, blank=True)
    access_key_id = models.CharField(max_length=256, blank=True)
    secret_access_key_encrypted = models.TextField(blank=True)
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="storage_unique_name")]

    def __str__(self) -> str:
        return self.name


class JobState(models.TextChoices):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ImportJob(TenantModel):
    """A dataset being imported into a project: durable state, progress, counts and the first row errors.

    `checkpoint` records how far a run got (which object, which line) so a run killed mid-way resumes there.
    """

    objects: ClassVar[TenantManager["ImportJob"]] = TenantManager()  # type: ignore[assignment]

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="imports")
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    source = models.CharField(max_length=8, choices=[("upload", "upload"), ("s3", "s3")])
    format = models.CharField(max_length=8, choices=[("jsonl", "jsonl"), ("json", "json"), ("csv", "csv")])
    # Where the uploaded file was stored (a key under the organization's own prefix), or the S3 prefix to read.
    file_key = models.CharField(max_length=1024, blank=True)
    file_size = models.BigIntegerField(default=0)
    storage = models.ForeignKey(StorageConnection, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    s3_prefix = models.CharField(max_length=1024, blank=True)
    options = models.JSONField(default=dict, blank=True)  # skip_bad_rows, update_existing
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.PENDING)
    rows_read = models.BigIntegerField(default=0)
    created_count = models.BigIntegerField(default=0)
    updated_count = models.BigIntegerField(default=0)
    unchanged_count = models.BigIntegerField(default=0)
    error_count = models.BigIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)  # the first N: {line, field, code, message}
    checkpoint = models.JSONField(default=dict, blank=True)
    message = models.CharField(max_length=1000, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The worker running the job and until when it holds it (projects.services.job_leases): a message delivered again
    # while that worker lives leaves the job to it.
    lease_holder = models.CharField(max_length=128, blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["project", "id"], name="import_project_id")]

    def __str__(self) -> str:
        return f"import {self.uuid} ({self.state})"


class ExportFormat(models.TextChoices):
    JSONL = "jsonl"
    CSV = "csv"
    COCO = "coco"
    CONLL = "conll"
    DPO = "dpo"
    SFT = "sft"
    LABEL_STUDIO = "label_studio"
    PRM = "prm"
    CHAT_TREE = "chat_tree"


class ExportJob(TenantModel):
    """A project's results being written to storage in one format, then downloaded by a signed URL."""

    objects: ClassVar[TenantManager["ExportJob"]] = TenantManager()  # type: ignore[assignment]

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="exports")
    created_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    format = models.CharField(max_length=16, choices=ExportFormat.choices)
    filters = models.JSONField(default=dict, blank=True)  # status, created range, reviewed_only
    storage = models.ForeignKey(StorageConnection, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.PENDING)
    rows = models.BigIntegerField(default=0)
    file_key = models.CharField(max_length=1024, blank=True)
    file_size = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    message = models.CharField(max_length=1000, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # As on ImportJob: the worker running the job, and until when it holds it.
    lease_holder = models.CharField(max_length=128, blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["project", "id"], name="export_project_id")]

    def __str__(self) -> str:
        return f"export {self.uuid} ({self.format}, {self.state})"


class MediaObject(TenantModel):
    """A file a task refers to (an image to box, a document), stored under the organization's own prefix."""

    objects: ClassVar[TenantManager["MediaObject"]] = TenantManager()  # type: ignore[assignment]

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="media")
    key = models.CharField(max_length=1024)
    content_type = models.CharField(max_length=100)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        django_settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "key"], name="media_unique_key")]

    def __str__(self) -> str:
        return self.key


class ImportRow(TenantOwned):
    """One checked row of an import in progress, held until the whole file has been read.

    Staging is what lets an import be all or nothing, resumable and constant in memory at once: rows are staged in
    committed batches (a killed worker resumes after the last one), and reach the task table in one transaction
    only once every row has been read (see projects/imports/runner.py). The rows go when the job ends.
    """

    objects: ClassVar[TenantManager["ImportRow"]] = TenantManager()  # type: ignore[assignment]

    # Rows that live minutes and are written by the million: the database's own check of these two references,
    # one lookup per row and reference at commit, would cost more than writing the rows. Both are the running
    # job's (the runner writes them from the locked job), and the job's rows go with it (Django's cascade, and
    # the job's end). The one index serves every statement of the staging table: they all pick one job's rows,
    # and the merge reads them in file order. The table is unlogged (migration 0007): a crash empties it, and
    # the runner, which counts the staged rows in the job's checkpoint, starts such a job over.
    organization = models.ForeignKey(
        "tenancy.Organization",
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        db_constraint=False,
        db_index=False,
    )
    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False)
    # Which S3 object of the job the row came from (0 for an upload), and the line it starts on there.
    source_index = models.IntegerField(default=0)
    line = models.BigIntegerField()
    external_id = models.CharField(max_length=255)
    data = models.JSONField()
    priority = models.IntegerField(default=0)
    required_skills = models.JSONField(default=dict)
    language = models.CharField(max_length=16, blank=True)
    qualification = models.BooleanField(default=False)
    gold_answer = models.JSONField(null=True)
    suggestions = models.JSONField(default=dict, db_default={})

    class Meta:
        indexes = [models.Index(fields=["job", "id"], name="importrow_job_order")]

    def __str__(self) -> str:
        return f"{self.job_id}:{self.source_index}:{self.line}"
