"""What the audit trail calls the projects app's objects (core.audit.targets): a project by its name, a task by its
external id and project, jobs, storage connections and media by what they are and the project they serve."""

import uuid
from collections.abc import Collection

from core.audit.targets import TargetKind, target_kinds_register
from projects.models import ExportJob, ImportJob, MediaObject, Project, StorageConnection, Task


def _projects(ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    return dict(Project.objects.filter(uuid__in=ids).values_list("uuid", "name"))


def _tasks(ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = Task.objects.filter(uuid__in=ids).values_list("uuid", "external_id", "project__name")
    return {key: f"{external_id} in {project}" for key, external_id, project in rows}


def _exports(ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = ExportJob.objects.filter(uuid__in=ids).values_list("uuid", "format", "project__name")
    return {key: f"{export_format} export of {project}" for key, export_format, project in rows}


def _imports(ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = ImportJob.objects.filter(uuid__in=ids).values_list("uuid", "format", "project__name")
    return {key: f"{import_format} import into {project}" for key, import_format, project in rows}


def _storage(ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    return dict(StorageConnection.objects.filter(uuid__in=ids).values_list("uuid", "name"))


def _media(ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    rows = MediaObject.objects.filter(uuid__in=ids).values_list("uuid", "key", "project__name")
    return {key: f"{name.rsplit('/', 1)[-1]} in {project}" for key, name, project in rows}


target_kinds_register(
    {
        "projects.project": TargetKind("project", _projects),
        "projects.task": TargetKind("task", _tasks),
        "projects.exportjob": TargetKind("export", _exports),
        "projects.importjob": TargetKind("import", _imports),
        "projects.storageconnection": TargetKind("storage connection", _storage),
        "projects.mediaobject": TargetKind("media file", _media),
    }
)
