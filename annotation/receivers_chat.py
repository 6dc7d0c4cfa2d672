"""The annotation app's answer to projects' label_schema_checking signal: a chat field's model connections must be
the organization's, by name, when the schema is set (connected when Django starts, annotation.apps)."""

from typing import Any

from django.dispatch import receiver

from core.errors import FieldError
from llm.selectors import connections_by_name
from projects.label_schema import ChatField, LabelSchema
from projects.signals import label_schema_checking


@receiver(label_schema_checking)
def chat_connections_exist(*, schema: LabelSchema, **_: Any) -> list[FieldError]:
    """Each connection a chat field names that the organization does not have, at its path."""
    problems: list[FieldError] = []
    for index, field in enumerate(schema.fields):
        if not isinstance(field, ChatField):
            continue
        found = connections_by_name(names=list(field.connections))
        for position, name in enumerate(field.connections):
            if name not in found:
                problems.append(
                    FieldError(
                        f"label_schema.fields[{index}].connections[{position}]",
                        f"The organization has no model connection called {name!r}.",
                        "unknown_connection",
                    )
                )
    return problems
