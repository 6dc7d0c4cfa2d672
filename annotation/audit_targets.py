"""What the audit trail calls the annotation app's objects (core.audit.targets): assignments and annotations by
their task and annotator, an annotator's standing by member and project, conflict rules by what they exclude."""

import uuid
from collections.abc import Collection

from annotation.models import Annotation, AnnotatorProgress, Assignment, ConflictExclusion, SuggestionJob
from core.audit.targets import TargetKind, target_kinds_register
from tenancy.audit_targets import person_label


def _assignments(ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = Assignment.objects.filter(uuid__in=ids).values_list(
        "uuid", "task__external_id", "annotator__user__name", "annotator__user__email"
    )
    return {key: f"{external_id} for {person_label(name, email)}" for key, external_id, name, email in rows}


def _annotations(ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = Annotation.objects.filter(uuid__in=ids).values_list(
        "uuid", "task__external_id", "version", "annotator__user__name", "annotator__user__email"
    )
    return {
        key: f"{external_id} v{version} by {person_label(name, email)}"
        for key, external_id, version, name, email in rows
    }


def _progress(ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = AnnotatorProgress.objects.filter(uuid__in=ids).values_list(
        "uuid", "annotator__user__name", "annotator__user__email", "project__name"
    )
    return {key: f"{person_label(name, email)} on {project}" for key, name, email, project in rows}


def _exclusions(ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = ConflictExclusion.objects.filter(uuid__in=ids).values_list(
        "uuid", "membership__user__name", "membership__user__email", "attribute", "value", "project__name"
    )
    return {
        key: f"{person_label(name, email) if email else f'{attribute} = {value}'} off {project or 'every project'}"
        for key, name, email, attribute, value, project in rows
    }


def _suggestion_jobs(ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = SuggestionJob.objects.filter(uuid__in=ids).values_list("uuid", "agent", "project__name")
    return {key: f"suggestions by {agent} on {project}" for key, agent, project in rows}


target_kinds_register(
    {
        "annotation.assignment": TargetKind("assignment", _assignments),
        "annotation.annotation": TargetKind("annotation", _annotations),
        "annotation.annotatorprogress": TargetKind("standing", _progress),
        "annotation.conflictexclusion": TargetKind("conflict rule", _exclusions),
        "annotation.suggestionjob": TargetKind("suggestion job", _suggestion_jobs),
    }
)
