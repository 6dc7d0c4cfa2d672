"""Which failures a retry can fix, decided in one place for every task and job that retries.

A retry is for what can succeed on retry: the database connection dropped, the server shut down or refused new
connections for a moment, a transaction lost a serialization check or a deadlock, a lock or a network call timed
out. Anything else (a syntax error, a missing privilege, bad data, a constraint a concurrent writer did not cause,
a bug of ours) fails the same way every time: retrying it only delays the failure and hides its cause behind
"the database kept failing". Those fail at once, and `Fault.cause` names what went wrong for the job's message.

An exception class of ours may decide for itself with a boolean `transient` attribute (StorageError does, from
the store's answer; SourceUnavailable always is).
"""

from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
from botocore import exceptions as botocore_errors  # type: ignore[import-untyped]
from django.db import Error as DjangoDatabaseError
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerError
from redis import exceptions as redis_errors

# SQLSTATE classes and codes that name a passing condition (PostgreSQL, Appendix A "Error Codes").
_TRANSIENT_CLASSES = frozenset(
    {
        "08",  # connection exception: the connection failed or was lost
        "40",  # transaction rollback: serialization failure, deadlock detected
        "53",  # insufficient resources: too many connections, out of memory or disk for now
    }
)
_TRANSIENT_CODES = frozenset(
    {
        "55P03",  # lock_not_available: lock_timeout expired, or NOWAIT found the row locked
        "57P01",  # admin_shutdown: the server is stopping (a restart, a failover)
        "57P02",  # crash_shutdown: another backend crashed and the server is resetting
        "57P03",  # cannot_connect_now: the server is starting up or in recovery
        "57P05",  # idle_session_timeout: the server closed an idle connection
    }
)
# libpq reports what goes wrong while connecting without a SQLSTATE; these are the answers no retry changes.
_PERMANENT_CONNECT_MESSAGES = ("authentication failed", "does not exist", "permission denied", "no pg_hba.conf entry")

# Network failures of the object store, the cache and the broker: the other end was away or slow.
_TRANSIENT_NETWORK: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    botocore_errors.EndpointConnectionError,
    botocore_errors.ConnectTimeoutError,
    botocore_errors.ReadTimeoutError,
    botocore_errors.ConnectionClosedError,
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    BrokerError,
)
# S3 error codes meaning "later" whatever the HTTP status they come with.
_TRANSIENT_S3_CODES = frozenset({"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError"})


@dataclass(frozen=True)
class Fault:
    """What a failure was: whether a retry can fix it, and its cause in words a job's message can carry (one
    clause, no final full stop)."""

    transient: bool
    cause: str


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, then what it was raised from (`raise ... from`), to the root."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__


def _database_fault(exc: psycopg.Error) -> Fault:
    primary = getattr(exc.diag, "message_primary", None) or (str(exc).strip().splitlines() or [""])[0]
    cause = f"{primary} ({type(exc).__name__})"
    code = exc.sqlstate
    if code:
        return Fault(transient=code[:2] in _TRANSIENT_CLASSES or code in _TRANSIENT_CODES, cause=cause)
    # No SQLSTATE: the client library's own error. A dropped or closed connection is worth another attempt;
    # misuse of the driver (a wrong number of parameters, say) is a bug.
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        lowered = str(exc).lower()
        return Fault(transient=not any(m in lowered for m in _PERMANENT_CONNECT_MESSAGES), cause=cause)
    return Fault(transient=False, cause=cause)


def _s3_fault(exc: botocore_errors.ClientError) -> Fault:
    response = exc.response if isinstance(exc.response, dict) else {}
    code = str(response.get("Error", {}).get("Code", ""))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    transient = status >= 500 or status == 429 or code in _TRANSIENT_S3_CODES
    return Fault(transient=transient, cause=f"the object store answered HTTP {status} ({code or 'no error code'})")


def fault_classify(exc: BaseException) -> Fault:
    """Whether `exc` is a fault a retry can fix, and its cause (`permission denied for table x
    (InsufficientPrivilege)`, `an internal error (KeyError)`).

    The chain of `raise ... from` is followed: Django wraps every driver error in its own class, keeping the
    driver's (with its SQLSTATE) as the cause. A bug's own text is not repeated (it may quote anything); its
    class is, and the log has the rest.
    """
    for link in _chain(exc):
        declared = getattr(link, "transient", None)
        if isinstance(declared, bool):
            return Fault(transient=declared, cause=str(link).rstrip(".") or type(link).__name__)
        if isinstance(link, psycopg.Error):
            return _database_fault(link)
        if isinstance(link, botocore_errors.ClientError):
            return _s3_fault(link)
        if isinstance(link, _TRANSIENT_NETWORK):
            return Fault(transient=True, cause=f"a network error ({type(link).__name__})")
        if isinstance(link, DjangoDatabaseError) and link.__cause__ is None:
            # Raised by Django itself, with no driver error under it: "connection already closed" and the like.
            return Fault(
                transient=isinstance(link, OperationalError | InterfaceError),
                cause=f"{str(link) or 'a database error'} ({type(link).__name__})",
            )
    return Fault(transient=False, cause=f"an internal error ({type(exc).__name__})")
