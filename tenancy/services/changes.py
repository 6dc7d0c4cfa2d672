"""What an audit event records as a change, for every service that writes one."""

from typing import Any


def changes_between(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """`{field: [old, new]}` for the fields whose value differs, as audit events record them."""
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
