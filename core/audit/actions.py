"""The audit actions the platform records: each declared once (placeholder until the registry lands)."""


def action_check(action: str, outcome: str) -> None:
    category, _, verb = action.partition(".")
    if not category or not verb:
        raise ValueError(f"audit action must be 'category.verb', got {action!r}")
