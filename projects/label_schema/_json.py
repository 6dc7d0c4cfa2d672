"""JSON value predicates and the error paths that name a place inside a document (`result.entities[2].end`)."""

import json
import math
import re
from typing import Any, TypeGuard

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def key_path(path: str, key: str) -> str:
    """`path.key`, or `path["odd key"]` when the key is not identifier-like (candidate ids, criterion names)."""
    if _PLAIN_KEY.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def index_path(path: str, index: int) -> str:
    return f"{path}[{index}]"


def is_int(value: Any) -> TypeGuard[int]:
    """A JSON integer. `true` is an int to Python and never one here; neither is 3.0."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A finite JSON number that is not a boolean."""
    if isinstance(value, float):
        return math.isfinite(value)
    return is_int(value)


def is_non_finite(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def describe(value: Any) -> str:
    """How a value reads in an error message: what was sent instead of what was expected."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_non_finite(value):
        return "NaN" if math.isnan(value) else "Infinity"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def non_finite_paths(value: Any, path: str) -> list[str]:
    """Paths of every NaN or Infinity anywhere inside `value`, in document order. Iterative: a deeply nested
    value cannot exhaust the stack."""
    found: list[str] = []
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if is_non_finite(item):
            found.append(where)
        elif isinstance(item, dict):
            stack.extend((key_path(where, str(k)), v) for k, v in reversed(list(item.items())))
        elif isinstance(item, list | tuple):
            stack.extend((index_path(where, i), v) for i, v in reversed(list(enumerate(item))))
    return found


def json_size(value: Any) -> int | None:
    """Bytes of `value` serialized as compact UTF-8 JSON, or None when it is not JSON at all."""
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError):
        return None
    return len(text.encode())
