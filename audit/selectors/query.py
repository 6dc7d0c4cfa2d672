"""The audit trail's search language: a typed query, and a parser for qualifier search strings.

    actor:alice@lab.example action:export.* created:>2026-11-01 outcome:denied target:<uuid> free words

Interface (used by the API and the audit UI):

- `AuditQuery`: an immutable filter. Every field is optional; the empty query matches every event.
- `parse_search(q) -> AuditQuery`: parse a search box string. Raises `core.errors.InvalidInput` whose
  `FieldError.field` names the offending qualifier (`q.created`, `q.outcome`, ...), which the API turns into a 400.
- `query_from_params(params) -> AuditQuery`: the same filters from separate query parameters (`actor`, `action`,
  `category`, `target`, `project`, `outcome`, `since`, `until`, `token`) combined with `q`.
- `AuditQuery.combine(other)`: both queries at once (AND); the same field given two different values is an error.

This module is pure Python (no database access); `audit.selectors.events.audit_event_search` turns a query into rows.
"""

import re
import shlex
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, time, timedelta

from core.errors import FieldError, InvalidInput

OUTCOMES = ("success", "denied", "failure")
QUALIFIERS = ("actor", "token", "action", "category", "target", "project", "outcome", "created", "since", "until")

_NAME = re.compile(r"^[a-z0-9_]+$")
_ACTION = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]*)?\*?$|^\*$")
_TARGET_TYPE = re.compile(r"^[a-z0-9_]+\.[a-z0-9_]+$")
_TARGET_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,64}$")
_TOKEN_PREFIX = re.compile(r"^[A-Za-z0-9_]{1,16}$")
_QUALIFIER = re.compile(r"^([A-Za-z_]+):(.*)$", re.DOTALL)
_RANGE = re.compile(r"^(>=|<=|>|<)?(.+)$")


@dataclass(frozen=True)
class AuditQuery:
    """Which events to list. `since` is inclusive and `until` exclusive; `action` may end in `*` (a prefix)."""

    actor: str | None = None  # an actor label (e-mail) or, without `@`, an e-mail's local part
    token: str | None = None  # an API token prefix
    action: str | None = None  # `category.verb`, or a prefix ending in `*` (`export.*`)
    category: str | None = None
    target_type: str | None = None  # `app_label.model`, e.g. `projects.task`
    target_id: str | None = None  # also matches task lists whose page contained this task
    project: str | None = None  # the project itself, or events whose metadata names it
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: tuple[str, ...] = ()  # words, each matched against actor, action and target

    @property
    def is_empty(self) -> bool:
        return self == AuditQuery()

    def combine(self, other: "AuditQuery") -> "AuditQuery":
        """Both queries at once; a field set to two different values in the two is an InvalidInput."""
        merged: dict[str, object] = {}
        for item in fields(self):
            mine, theirs = getattr(self, item.name), getattr(other, item.name)
            if item.name == "text":
                merged["text"] = tuple(mine) + tuple(theirs)
            elif mine is None or theirs is None or mine == theirs:
                merged[item.name] = theirs if mine is None else mine
            elif item.name == "since":
                merged["since"] = max(mine, theirs)
            elif item.name == "until":
                merged["until"] = min(mine, theirs)
            else:
                raise InvalidInput(
                    f"The filter {item.name!r} is given twice with different values.",
                    errors=[FieldError(item.name, f"Given as {mine!r} and {theirs!r}.", "conflict")],
                )
        return AuditQuery(**merged)  # type: ignore[arg-type]


def _invalid(qualifier: str, message: str, *, prefix: str = "q.") -> InvalidInput:
    return InvalidInput(f"Invalid search: {message}", errors=[FieldError(f"{prefix}{qualifier}", message)])


def _parse_moment(text: str, qualifier: str, prefix: str) -> tuple[datetime, bool]:
    """A date or ISO datetime (naive = UTC); the flag is True for a whole day (a date without a time)."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC), True
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise _invalid(qualifier, f"{text!r} is not a date (YYYY-MM-DD) or an ISO 8601 time.", prefix=prefix) from exc
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)), False


def parse_created(
    value: str, qualifier: str = "created", prefix: str = "q."
) -> tuple[datetime | None, datetime | None]:
    """`>D`, `>=D`, `<D`, `<=D`, `D` or `D1..D2` → (since inclusive, until exclusive).

    As in GitHub's search, a bare date means that whole day and `>2026-11-01` means from 2 November on.
    """
    if ".." in value:
        low, _, high = value.partition("..")
        since = until = None
        if low and low != "*":
            since = _parse_moment(low, qualifier, prefix)[0]
        if high and high != "*":
            end, whole_day = _parse_moment(high, qualifier, prefix)
            until = end + timedelta(days=1) if whole_day else end + timedelta(microseconds=1)
        return since, until
    match = _RANGE.match(value)
    if match is None:
        raise _invalid(qualifier, "a date is missing.", prefix=prefix)
    operator, moment_text = match.group(1) or "", match.group(2)
    moment, whole_day = _parse_moment(moment_text, qualifier, prefix)
    step = timedelta(days=1) if whole_day else timedelta(microseconds=1)
    if operator == ">":
        return moment + step, None
    if operator == ">=":
        return moment, None
    if operator == "<":
        return None, moment
    if operator == "<=":
        return None, moment + step
    return moment, moment + step if whole_day else moment + timedelta(microseconds=1)


def _canonical_id(value: str) -> str:
    """Public ids are stored in their canonical lower-case UUID form; other ids are kept as given."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return value


def parse_target(value: str, qualifier: str = "target", prefix: str = "q.") -> tuple[str | None, str | None]:
    """`<id>`, `<type>` (`projects.task`) or `<type>:<id>` → (target_type, target_id)."""
    if ":" in value:
        target_type, _, target_id = value.partition(":")
    elif _TARGET_TYPE.match(value) and not _looks_like_uuid(value):
        target_type, target_id = value, ""
    else:
        target_type, target_id = "", value
    if target_type and not _TARGET_TYPE.match(target_type):
        raise _invalid(qualifier, f"{target_type!r} is not a target type such as projects.task.", prefix=prefix)
    if target_id in ("", "*"):
        target_id = ""
    elif not _TARGET_ID.match(target_id):
        raise _invalid(qualifier, f"{target_id!r} is not a target id.", prefix=prefix)
    if not target_type and not target_id:
        raise _invalid(qualifier, "a target type or id is missing.", prefix=prefix)
    return target_type or None, _canonical_id(target_id) if target_id else None


def _looks_like_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _qualified(name: str, value: str, prefix: str) -> dict[str, object]:
    """The AuditQuery fields one `name:value` pair sets; raises InvalidInput naming `name` when it is wrong."""
    if value == "":
        raise _invalid(name, f"{name}: needs a value.", prefix=prefix)
    if name == "actor":
        if len(value) > 254:
            raise _invalid(name, "an actor is at most 254 characters.", prefix=prefix)
        return {"actor": value}
    if name == "token":
        if not _TOKEN_PREFIX.match(value):
            raise _invalid(name, f"{value!r} is not a token prefix.", prefix=prefix)
        return {"token": value}
    if name == "action":
        if not _ACTION.match(value):
            raise _invalid(name, f"{value!r} is not an action such as project.update or export.*.", prefix=prefix)
        return {} if value == "*" else {"action": value}
    if name == "category":
        if not _NAME.match(value):
            raise _invalid(name, f"{value!r} is not a category such as data_access.", prefix=prefix)
        return {"category": value}
    if name == "outcome":
        if value not in OUTCOMES:
            raise _invalid(name, f"{value!r} is not one of {', '.join(OUTCOMES)}.", prefix=prefix)
        return {"outcome": value}
    if name == "target":
        target_type, target_id = parse_target(value, name, prefix)
        return {"target_type": target_type, "target_id": target_id}
    if name == "project":
        if not _looks_like_uuid(value):
            raise _invalid(name, f"{value!r} is not a project id.", prefix=prefix)
        return {"project": _canonical_id(value)}
    if name == "created":
        since, until = parse_created(value, name, prefix)
        return {"since": since, "until": until}
    if name == "since":
        return {"since": parse_created(f">={value}", name, prefix)[0]}
    if name == "until":
        # `until:2026-11-20` includes that whole day, like `created:<=2026-11-20`.
        return {"until": parse_created(f"<={value}", name, prefix)[1]}
    raise _invalid(name, f"unknown qualifier {name}:, use one of {', '.join(QUALIFIERS)}.", prefix=prefix)


def parse_search(q: str) -> AuditQuery:
    """Parse a search string of `qualifier:value` pairs and free words (quotes group words: `actor:"a b"`)."""
    try:
        tokens = shlex.split(q or "", posix=True)
    except ValueError as exc:
        raise _invalid("", "a quote is not closed.", prefix="q") from exc
    query = AuditQuery()
    words: list[str] = []
    for token in tokens:
        match = _QUALIFIER.match(token)
        if match is None:
            words.append(token)
            continue
        name = match.group(1).lower()
        query = query.combine(_as_query(_qualified(name, match.group(2), "q.")))
    if words:
        query = replace(query, text=tuple(words))
    return query


def _as_query(values: dict[str, object]) -> AuditQuery:
    return AuditQuery(**{k: v for k, v in values.items() if v is not None})  # type: ignore[arg-type]


PARAMETERS = ("actor", "token", "action", "category", "target", "project", "outcome", "since", "until")


def query_from_params(params: Mapping[str, str]) -> AuditQuery:
    """The query of an API request: the separate parameters and the `q` search string, combined (AND)."""
    query = AuditQuery()
    for name in PARAMETERS:
        value = params.get(name)
        if value not in (None, ""):
            query = query.combine(_as_query(_qualified(name, str(value).strip(), "")))
    return query.combine(parse_search(params.get("q") or ""))
