"""The tenant context: which organization the current request or task acts for.

Set once, by the base API view, the UI's organization middleware or the task decorator; read by the scoped
managers (app layer) and mirrored into the `app.organization_id` setting of the open transaction, which the
row-level security policies read (database layer).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import connection, transaction

from core import db

_organization_id: ContextVar[int | None] = ContextVar("tenancy_organization_id", default=None)


class TenantContextMissing(RuntimeError):
    """Raised when tenant-owned rows are queried with no organization in context: fail closed."""


def current_organization_id() -> int:
    """The organization in context; raises rather than returning every tenant's rows."""
    organization_id = _organization_id.get()
    if organization_id is None:
        raise TenantContextMissing(
            "No organization in context. Enter core.context.organization_context(...) first, "
            "or use the model's unscoped() manager in an admin command."
        )
    return organization_id


def current_organization_id_or_none() -> int | None:
    return _organization_id.get()


@contextmanager
def organization_context(organization_id: int) -> Iterator[None]:
    """Act for one organization: scope the ORM and the open transaction's row-level security to it.

    Opens a transaction (or a savepoint) because the database setting is transaction-local: it can never leak
    to the next request on a pooled connection.
    """
    previous = _organization_id.get()
    nested = connection.in_atomic_block
    token = _organization_id.set(organization_id)
    try:
        with transaction.atomic():
            db.set_guc(db.GUC_ORGANIZATION, str(organization_id))
            yield
            # A released savepoint keeps the setting; give the enclosing scope its tenant back. On error the
            # savepoint rollback already restored it, and the aborted transaction accepts no more statements.
            if nested:
                db.set_guc(db.GUC_ORGANIZATION, "" if previous is None else str(previous))
    finally:
        _organization_id.reset(token)


def enter_organization(organization_id: int) -> None:
    """Set the tenant for the rest of the current transaction; the caller owns the transaction and reset."""
    if not connection.in_atomic_block:
        raise RuntimeError("enter_organization() needs an open transaction to hold the tenant setting")
    _organization_id.set(organization_id)
    db.set_guc(db.GUC_ORGANIZATION, str(organization_id))


def _set_guc_if_usable(organization_id: int | None) -> None:
    # Only inside a transaction that can still run statements; in autocommit the setting would die at once anyway.
    if connection.in_atomic_block and not connection.needs_rollback:
        db.set_guc(db.GUC_ORGANIZATION, "" if organization_id is None else str(organization_id))


@contextmanager
def no_organization() -> Iterator[None]:
    """A scope in which no tenant is set (request start, task start); restores the previous one on exit.

    Inside an enclosing transaction (a test, a command) the database setting follows the context variable both
    ways, so the row policies never admit a tenant the app layer has left, nor keep one the scope entered.
    """
    previous = _organization_id.get()
    token = _organization_id.set(None)
    if previous is not None:
        _set_guc_if_usable(None)
    try:
        yield
    finally:
        _organization_id.reset(token)
        _set_guc_if_usable(previous)
