"""What every writer needs besides the rows: the job, and each label schema version the annotations name."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from annotation.exports.filters import ExportFilters
from projects.label_schema import parse_schema
from projects.label_schema.fields import Field, LabelSchema
from projects.models import LabelSchemaVersion, Project

F = TypeVar("F", bound=Field)


@dataclass
class ExportContext:
    """One export's settings and schemas. `schemas` maps each schema version of the project to its parsed schema
    (None for a version without fields: free-form results)."""

    export_id: str
    project_id: str
    created_at: datetime
    filters: ExportFilters
    current_version: int
    schemas: dict[int, LabelSchema | None] = field(default_factory=dict)

    def schema(self, version: int) -> LabelSchema | None:
        """The schema an annotation was made under; the current one if that version is unknown."""
        if version in self.schemas:
            return self.schemas[version]
        return self.schemas.get(self.current_version)

    def fields_of(self, version: int, kind: type[F]) -> list[F]:
        """The fields of one type in the schema of `version`, in display order."""
        schema = self.schema(version)
        return [] if schema is None else [f for f in schema if isinstance(f, kind)]

    def versions_newest_first(self) -> list[LabelSchema]:
        """Every known schema, the current one first, then older versions from newest to oldest."""
        ordered = sorted(self.schemas, key=lambda v: (v != self.current_version, -v))
        return [s for v in ordered if (s := self.schemas[v]) is not None]

    def field_names(self) -> list[str]:
        """Every field name any version has: the current schema's in display order, then names only older
        versions had (newest version first)."""
        names: dict[str, None] = {}
        for schema in self.versions_newest_first():
            names.update(dict.fromkeys(schema.names))
        return list(names)

    def union_of(self, kind: type[F]) -> dict[str, list[F]]:
        """Fields of one type by name across versions, newest definition first."""
        found: dict[str, list[F]] = {}
        for schema in self.versions_newest_first():
            for item in schema:
                if isinstance(item, kind):
                    found.setdefault(item.name, []).append(item)
        return found


def _parsed(document: Any) -> LabelSchema | None:
    if not isinstance(document, dict) or not document.get("fields"):
        return None
    return parse_schema(document)


def export_schemas(project: Project) -> dict[int, LabelSchema | None]:
    """Every schema version of the project (a handful of rows), parsed; call inside the organization's context."""
    schemas = {
        version: _parsed(document)
        for version, document in LabelSchemaVersion.objects.filter(project=project).values_list("version", "document")
    }
    if project.schema_version not in schemas:
        schemas[project.schema_version] = _parsed(project.label_schema)
    return schemas


def export_context_build(
    *, export_id: str, project: Project, filters: ExportFilters, created_at: datetime
) -> ExportContext:
    """Load every schema version of the project; call inside the organization's context."""
    return ExportContext(
        export_id=export_id,
        project_id=str(project.uuid),
        created_at=created_at,
        filters=filters,
        current_version=project.schema_version,
        schemas=export_schemas(project),
    )
