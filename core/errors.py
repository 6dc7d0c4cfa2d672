"""Domain errors raised by services; the API layer maps each to its HTTP status."""

from dataclasses import dataclass, field
from typing import Any


@dataclass
class FieldError:
    """One problem with the input, located by a path such as `tasks[3].external_id`."""

    field: str
    message: str
    code: str = "invalid"

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "message": self.message, "code": self.code}


class DomainError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: str, *, errors: list[FieldError] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []


class InvalidInput(DomainError):
    """The request asks for something the data does not allow; nothing was written."""


class NotAllowed(DomainError):
    """The actor's role does not allow this action."""

    status = 403
    code = "permission_denied"


class UnsupportedFormat(DomainError):
    """The request carries content in a format this endpoint does not read; nothing was written."""

    status = 415
    code = "unsupported_format"


class Conflict(DomainError):
    """The action conflicts with the current state of the data."""

    status = 409
    code = "conflict"


@dataclass
class ErrorList:
    """Collects field errors so a request reports every problem at once, not the first one only."""

    items: list[FieldError] = field(default_factory=list)

    def add(self, path: str, message: str, code: str = "invalid") -> None:
        self.items.append(FieldError(path, message, code))

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self, message: str = "The request has invalid fields.") -> None:
        if self.items:
            raise InvalidInput(message, errors=self.items)
