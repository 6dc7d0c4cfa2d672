"""Writes to projects and their label schema. Each records its audit event in the same transaction."""

from typing import Any, cast

from django.db import transaction

from core.audit.record import audit_record
from core.errors import Conflict, ErrorList, FieldError, InvalidInput
from projects import config, permissions
from projects.label_schema import parse_schema, schema_incompatibilities
from projects.models import LabelSchemaVersion, Project, Task
from projects.signals import label_schema_checking
from tenancy.models import SKILL_LEVEL_MAX, SKILL_LEVEL_MIN, Membership
from tenancy.permissions import check
from tenancy.services.changes import changes_between

# What a project's creator or manager may set; the API's project shape offers the same.
PROJECT_FIELDS = (
    "name",
    "codename",
    "description",
    "guidelines",
    "label_schema",
    "overlap",
    "settings",
    "is_active",
    "blind",
    "required_skills",
    "required_languages",
    "gold_rate",
    "gold_min_accuracy",
    "qualification_size",
    "qualification_min_accuracy",
    "qualification_cooldown_hours",
    "max_active_per_annotator",
    "lease_seconds",
    "review_mode",
    "review_rate",
    "review_levels",
    "reject_returns_to",
    "agreement_threshold",
    "show_suggestions",
)


REQUIRED_SKILLS_INVALID = f"Must map skill names to levels {SKILL_LEVEL_MIN} to {SKILL_LEVEL_MAX}."


def required_skills_valid(skills: Any) -> bool:
    """Whether `skills` maps skill names to levels a member can hold: what a project, or one of its tasks, asks."""
    return isinstance(skills, dict) and all(
        isinstance(name, str)
        and name
        and isinstance(level, int)
        and not isinstance(level, bool)
        and SKILL_LEVEL_MIN <= level <= SKILL_LEVEL_MAX
        for name, level in skills.items()
    )


def _validate_project_fields(fields: dict[str, Any]) -> None:
    errors = ErrorList()
    if "name" in fields and not str(fields["name"]).strip():
        errors.add("name", "This field may not be blank.", "blank")
    if "overlap" in fields and not 1 <= int(fields["overlap"]) <= config.MAX_OVERLAP:
        errors.add("overlap", f"Must be between 1 and {config.MAX_OVERLAP}.", "out_of_range")
    for key in ("label_schema", "settings"):
        if key in fields and not isinstance(fields[key], dict):
            errors.add(key, "Must be a JSON object.", "not_an_object")
    if not required_skills_valid(fields.get("required_skills", {})):
        errors.add("required_skills", REQUIRED_SKILLS_INVALID, "invalid")
    languages = fields.get("required_languages", [])
    if not isinstance(languages, list) or not all(isinstance(x, str) and 0 < len(x) <= 16 for x in languages):
        errors.add("required_languages", "Must be a list of language codes.", "invalid")
    if fields.get("blind") and not str(fields.get("codename", "x")).strip():
        errors.add("codename", "A blind project needs a codename to show annotators.", "required")
    if isinstance(fields.get("label_schema"), dict) and fields["label_schema"].get("fields") != []:
        try:
            schema = parse_schema(fields["label_schema"], max_bytes=config.label_schema_max_bytes())
        except InvalidInput as exc:
            errors.items.extend(exc.errors)
        else:
            # Names the schema gives to other apps' objects (a chat field's model connections) are theirs to check.
            for _, problems in label_schema_checking.send(sender=Project, schema=schema):
                errors.items.extend(cast(list[FieldError], problems or []))
    if fields.get("review_mode") == "sample" and not 0 < float(fields.get("review_rate", 0)) <= 1:
        errors.add("review_rate", "Sampled review needs a rate above 0 and at most 1.", "out_of_range")
    errors.raise_if_any()


def _canonical_schema(document: dict[str, Any]) -> dict[str, Any]:
    # Stored spelled out (defaults included), so two equal schemas compare equal and exports are explicit.
    if not document or document.get("fields") == []:
        return {"fields": []}
    return parse_schema(document, max_bytes=config.label_schema_max_bytes()).to_document()


def project_create(*, actor: Membership, name: str, **fields: Any) -> Project:
    """Create a project in the actor's organization."""
    check(permissions.project_create(actor))
    fields = {"name": name, **fields}
    unknown = set(fields) - set(PROJECT_FIELDS)
    if unknown:
        raise TypeError(f"unknown project fields: {sorted(unknown)}")
    _validate_project_fields(fields)
    fields["label_schema"] = _canonical_schema(fields.get("label_schema") or {})
    with transaction.atomic():
        project = Project.objects.create(created_by=actor.user, **fields)
        LabelSchemaVersion.objects.create(
            project=project, version=project.schema_version, document=project.label_schema, created_by=actor.user
        )
        audit_record(
            action="project.create",
            target=project,
            changes={k: [None, v] for k, v in fields.items() if k != "guidelines"},
            metadata={"guidelines_chars": len(fields.get("guidelines", ""))},
        )
    return project


def project_update(*, actor: Membership, project: Project, new_schema_version: bool = False, **fields: Any) -> Project:
    """Change a project's settings. New guidelines text gets a new version number. A schema change that
    annotations already made could not survive is refused unless `new_schema_version` asks for a new version;
    a compatible one (an added option, a new optional field) amends the current version in place."""
    check(permissions.project_change(actor))
    unknown = set(fields) - set(PROJECT_FIELDS)
    if unknown:
        raise TypeError(f"unknown project fields: {sorted(unknown)}")
    _validate_project_fields(fields)
    if "label_schema" in fields:
        fields["label_schema"] = _canonical_schema(fields["label_schema"] or {})
    before = {k: getattr(project, k) for k in fields}
    changed = {k: v for k, v in fields.items() if before[k] != v}
    if not changed and not new_schema_version:
        return project
    with transaction.atomic():
        project = Project.objects.select_for_update().get(pk=project.pk)
        for key, value in changed.items():
            setattr(project, key, value)
        if "label_schema" in changed or new_schema_version:
            _schema_version_next(
                actor=actor, project=project, before=before.get("label_schema"), force=new_schema_version
            )
        if "guidelines" in changed:
            project.guidelines_version += 1
        project.save()
        if "overlap" in changed:
            # Each task carries its overlap so the claim's index covers it; a lower overlap never takes back
            # work already handed out (taken may exceed it; the task simply gets no new annotators).
            Task.objects.filter(project=project).update(overlap=project.overlap)
        diff = changes_between(before, changed)
        if "guidelines" in diff:  # long text; the versions say what changed, the text itself stays out
            diff["guidelines"] = [f"v{project.guidelines_version - 1}", f"v{project.guidelines_version}"]
        audit_record(action="project.update", target=project, changes=diff)
    return project


def _schema_version_next(*, actor: Membership, project: Project, before: Any, force: bool) -> None:
    """Amend the current schema version in place, or open the next one (asked for, or needed by a breaking
    change to a version that annotations already use)."""
    current = project.schema_version
    # Through the relation the annotation app declares on Project: that app builds on this one, so none of its
    # modules is imported here.
    used = project.annotations.filter(schema_version=current).exists()
    problems: list[str] = []
    if used and isinstance(before, dict) and before.get("fields"):
        problems = schema_incompatibilities(parse_schema(before), parse_schema(project.label_schema))
    if problems and not force:
        raise Conflict(
            "This change would orphan annotations made under schema version "
            f"{current}: {' '.join(problems)} Send new_schema_version=true to create version {current + 1}.",
            errors=[FieldError("label_schema", p, "incompatible") for p in problems],
        )
    if force:
        project.schema_version = current + 1
        LabelSchemaVersion.objects.create(
            project=project, version=project.schema_version, document=project.label_schema, created_by=actor.user
        )
    else:
        LabelSchemaVersion.objects.update_or_create(
            project=project,
            version=current,
            defaults={"document": project.label_schema, "created_by": actor.user},
        )


def project_delete(*, actor: Membership, project: Project) -> None:
    """Delete a project and all its tasks, recording how much went with it."""
    check(permissions.project_delete(actor))
    with transaction.atomic():
        audit_record(
            action="project.delete", target=project, metadata={"name": project.name, "tasks": project.tasks.count()}
        )
        project.delete()
