"""What the audit trail calls the objects its events name: a project by its name, a task by its external id, a
member by name and e-mail, rather than a model label and a UUID.

The trail stores `target_type` (a model label such as `projects.task`) and `target_id` (the row's public id); the
names live in the apps that own the rows, which the audit app must not import. So each app declares here, when
Django starts, how to name its own kinds of target (`<app>/audit_targets.py`), and the audit page asks once per kind
for a whole page of ids. A name is read when the page is shown, not stored in the event: the trail stays as
written, and a renamed project shows its current name.
"""

import uuid
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass

# Given the ids of one kind of target (within the organization in context), the names of those still there.
TargetNamer = Callable[[Collection[uuid.UUID]], Mapping[uuid.UUID, str]]


@dataclass(frozen=True)
class TargetKind:
    """One kind of target: what to call the kind ("task"), and how to name rows of it in bulk."""

    noun: str
    names: TargetNamer


_kinds: dict[str, TargetKind] = {}


def target_kinds_register(kinds: Mapping[str, TargetKind]) -> None:
    """Called by each app when Django starts, with its own target types; a type is declared once."""
    for target_type, kind in kinds.items():
        if target_type in _kinds and _kinds[target_type] != kind:
            raise ValueError(f"audit target type {target_type!r} is declared twice")
        _kinds[target_type] = kind


def target_noun(target_type: str) -> str:
    """The noun of a kind ("task" for `projects.task`); the stored type itself for a kind nobody declared (the page
    or API view of a refusal)."""
    kind = _kinds.get(target_type)
    return kind.noun if kind is not None else target_type


def _parsed(target_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(target_id)
    except ValueError:
        return None


def target_names(targets: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The names of (target_type, target_id) pairs that can be named: one read per declared type present. Ids that
    are not public ids, types nobody declared, and rows gone since are left out."""
    wanted: dict[str, dict[uuid.UUID, str]] = {}
    for target_type, target_id in targets:
        parsed = _parsed(target_id) if target_type in _kinds else None
        if parsed is not None:
            wanted.setdefault(target_type, {})[parsed] = target_id
    named: dict[tuple[str, str], str] = {}
    for target_type, ids in sorted(wanted.items()):
        for found, name in _kinds[target_type].names(list(ids)).items():
            if found in ids:
                named[(target_type, ids[found])] = name
    return named
