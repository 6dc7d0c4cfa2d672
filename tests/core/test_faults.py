"""core.faults: which failures a retry can fix (a dropped connection, a lost serialization check, a lock or
network timeout) and which fail at once (syntax, privilege, bad data, bugs), each with its cause in words."""

from typing import Any

import psycopg
import pytest
from botocore import exceptions as botocore_errors
from django.db import DatabaseError, IntegrityError, InterfaceError, connection, transaction
from redis import exceptions as redis_errors

from core.faults import Fault, fault_classify
from projects.imports.errors import SourceUnavailable
from projects.models import ImportRow, Project
from projects.services.storage import StorageError
from tests.factories import ProjectFactory
from tests.faults_support import revoke_from_app_role, table_locked_elsewhere


def failure_of(sql: str, params: list[Any] | None = None) -> DatabaseError:
    """What Django raises for `sql`, run in a savepoint of the test's transaction."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    except DatabaseError as exc:
        return exc
    raise AssertionError(f"{sql!r} did not fail")


def test_a_syntax_error_is_never_retried(tenant):
    exc = failure_of("SELEC 1")

    assert fault_classify(exc) == Fault(transient=False, cause='syntax error at or near "SELEC" (SyntaxError)')


def test_a_missing_privilege_is_never_retried_and_named(tenant):
    revoke_from_app_role("SELECT", ImportRow)

    exc = failure_of("SELECT count(*) FROM projects_importrow")

    assert fault_classify(exc) == Fault(
        transient=False, cause="permission denied for table projects_importrow (InsufficientPrivilege)"
    )


def test_bad_data_is_never_retried(tenant):
    exc = failure_of("SELECT %s::integer", ["twelve"])

    assert fault_classify(exc) == Fault(
        transient=False, cause='invalid input syntax for type integer: "twelve" (InvalidTextRepresentation)'
    )


def test_a_constraint_violation_is_never_retried(tenant):
    project = ProjectFactory()

    with pytest.raises(IntegrityError) as raised, transaction.atomic():
        Project.objects.filter(pk=ProjectFactory().pk).update(uuid=project.uuid)

    fault = fault_classify(raised.value)
    assert fault.transient is False
    assert fault.cause.startswith("duplicate key value violates unique constraint ")
    assert fault.cause.endswith(" (UniqueViolation)")


def test_a_lock_timeout_is_retried(tenant):
    with table_locked_elsewhere(ImportRow):
        # The setting dies with the savepoint the statement fails in.
        exc = failure_of("SET LOCAL lock_timeout = '50ms'; SELECT count(*) FROM projects_importrow")

    assert fault_classify(exc) == Fault(
        transient=True, cause="canceling statement due to lock timeout (LockNotAvailable)"
    )


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (psycopg.errors.SerializationFailure("could not serialize access due to concurrent update"), True),
        (psycopg.errors.DeadlockDetected("deadlock detected"), True),
        (psycopg.errors.AdminShutdown("terminating connection due to administrator command"), True),
        (psycopg.errors.CannotConnectNow("the database system is starting up"), True),
        (psycopg.errors.TooManyConnections("sorry, too many clients already"), True),
        (psycopg.errors.ConnectionFailure("connection failure"), True),
        (psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly"), True),
        (psycopg.InterfaceError("the connection is closed"), True),
        (psycopg.errors.InsufficientPrivilege("permission denied to create temporary tables"), False),
        (psycopg.errors.UndefinedTable('relation "import_row_batch" does not exist'), False),
        (psycopg.errors.NumericValueOutOfRange("integer out of range"), False),
        (psycopg.errors.QueryCanceled("canceling statement due to statement timeout"), False),
        (psycopg.OperationalError('connection failed: FATAL:  password authentication failed for user "a"'), False),
        (psycopg.ProgrammingError("the query has 2 placeholders but 1 parameters were passed"), False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_database_errors_are_classified_by_sqlstate_under_djangos_wrapper(error, transient):
    # Django raises its own class from the driver's, as its cursor wrapper does.
    wrapped = DatabaseError(str(error))
    wrapped.__cause__ = error

    assert fault_classify(wrapped) == Fault(transient=transient, cause=f"{error} ({type(error).__name__})")
    assert fault_classify(error).transient is transient


def test_djangos_own_closed_connection_error_is_retried():
    assert fault_classify(InterfaceError("connection already closed")) == Fault(
        transient=True, cause="connection already closed (InterfaceError)"
    )


def client_error(status: int, code: str) -> botocore_errors.ClientError:
    return botocore_errors.ClientError(
        {"Error": {"Code": code, "Message": "their words"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject"
    )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            botocore_errors.ReadTimeoutError(endpoint_url="https://s3.test"),
            Fault(transient=True, cause="a network error (ReadTimeoutError)"),
        ),
        (
            botocore_errors.EndpointConnectionError(endpoint_url="https://s3.test"),
            Fault(transient=True, cause="a network error (EndpointConnectionError)"),
        ),
        (client_error(503, "SlowDown"), Fault(transient=True, cause="the object store answered HTTP 503 (SlowDown)")),
        (
            client_error(400, "RequestTimeout"),
            Fault(transient=True, cause="the object store answered HTTP 400 (RequestTimeout)"),
        ),
        (
            client_error(403, "AccessDenied"),
            Fault(transient=False, cause="the object store answered HTTP 403 (AccessDenied)"),
        ),
        (redis_errors.ConnectionError("Error 111"), Fault(transient=True, cause="a network error (ConnectionError)")),
        (ConnectionResetError(104, "reset"), Fault(transient=True, cause="a network error (ConnectionResetError)")),
        (TimeoutError(), Fault(transient=True, cause="a network error (TimeoutError)")),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else "",
)
def test_network_and_store_errors(error, expected):
    assert fault_classify(error) == expected


def test_our_own_errors_say_whether_they_are_transient():
    unavailable = SourceUnavailable("Reading the file failed (ReadTimeoutError).")
    refused = StorageError("Access was denied: check the credentials and the bucket's policy.")

    assert fault_classify(unavailable) == Fault(transient=True, cause="Reading the file failed (ReadTimeoutError)")
    assert fault_classify(refused) == Fault(
        transient=False, cause="Access was denied: check the credentials and the bucket's policy"
    )


def test_the_chain_is_followed_to_the_database_error():
    try:
        try:
            raise psycopg.errors.DeadlockDetected("deadlock detected")
        except psycopg.Error as inner:
            raise RuntimeError("while merging") from inner
    except RuntimeError as outer:
        fault = fault_classify(outer)

    assert fault == Fault(transient=True, cause="deadlock detected (DeadlockDetected)")


@pytest.mark.parametrize("error", [KeyError("secret value"), ValueError("secret value"), AttributeError("x")])
def test_a_bug_is_never_retried_and_its_text_is_not_repeated(error):
    assert fault_classify(error) == Fault(transient=False, cause=f"an internal error ({type(error).__name__})")
