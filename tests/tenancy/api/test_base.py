"""The request's transaction (tenancy/api/base.py): an error answer undoes everything the request wrote, and a
transaction that loses a race at commit is answered 503, in the API's error shape, with a Retry-After."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from rest_framework import exceptions

from audit.models import AuditEvent
from core.context import organization_context
from core.errors import Conflict
from projects.models import ImportJob
from projects.services.storage import storage_connection_create
from tenancy.models import Membership, Role
from tenancy.services import members
from tests.conftest import member_client
from tests.factories import MembershipFactory, OrganizationFactory, ProjectFactory

TRY_AGAIN = {
    "detail": "The request met a concurrent one and was undone; send it again.",
    "code": "try_again",
    "errors": [],
}


def _role_update_then(failure: BaseException, monkeypatch: Any) -> None:
    """The member PATCH changes the role, then its second service fails with `failure`."""

    def failing(**kwargs: Any) -> Membership:
        raise failure

    monkeypatch.setattr(members, "membership_update_profile", failing)


def test_a_rejected_language_leaves_the_role_as_it_was(tenant):
    client, _ = member_client(tenant, Role.OWNER)
    member = MembershipFactory(role=Role.ANNOTATOR)

    response = client.patch(
        f"/api/v1/members/{member.uuid}", {"role": "reviewer", "languages": ["not a language!"]}, format="json"
    )

    assert (response.status_code, response.json()["errors"]) == (
        400,
        [{"field": "languages[0]", "message": "Must be a language code such as `en` or `pt-br`.", "code": "invalid"}],
    )
    assert Membership.objects.get(pk=member.pk).role == "annotator"
    assert list(AuditEvent.objects.filter(action="member.update").values_list("target_id", flat=True)) == []


def test_a_handled_server_error_after_a_write_undoes_it(tenant, monkeypatch):
    client, _ = member_client(tenant, Role.OWNER)
    member = MembershipFactory(role=Role.ANNOTATOR)
    _role_update_then(exceptions.APIException(), monkeypatch)

    response = client.patch(f"/api/v1/members/{member.uuid}", {"role": "reviewer", "languages": ["en"]}, format="json")

    assert (response.status_code, response.json()) == (
        500,
        {"detail": "A server error occurred.", "code": "error", "errors": []},
    )
    assert Membership.objects.get(pk=member.pk).role == "annotator"
    assert AuditEvent.objects.filter(action="member.update").count() == 0


def test_a_conflict_after_a_write_undoes_it(tenant, monkeypatch):
    client, _ = member_client(tenant, Role.OWNER)
    member = MembershipFactory(role=Role.ANNOTATOR)
    _role_update_then(Conflict("Someone changed the member meanwhile."), monkeypatch)

    response = client.patch(f"/api/v1/members/{member.uuid}", {"role": "reviewer", "languages": ["en"]}, format="json")

    assert (response.status_code, response.json()) == (
        409,
        {"detail": "Someone changed the member meanwhile.", "code": "conflict", "errors": []},
    )
    assert Membership.objects.get(pk=member.pk).role == "annotator"


def test_a_successful_request_still_commits_its_writes(tenant):
    client, _ = member_client(tenant, Role.OWNER)
    member = MembershipFactory(role=Role.ANNOTATOR)

    response = client.patch(f"/api/v1/members/{member.uuid}", {"role": "reviewer", "languages": ["en"]}, format="json")

    assert response.status_code == 200
    stored = Membership.objects.get(pk=member.pk)
    assert (stored.role, stored.languages) == ("reviewer", ["en"])
    # One event per service: the role, then the languages.
    assert AuditEvent.objects.filter(action="member.update").count() == 2


# --- a race lost at commit: the transaction really commits here, so these tests do not run inside one ---


@pytest.fixture
def fails_at_commit(transactional_db: Any) -> Iterator[Any]:
    """`fail(table, sqlstate)`: from then on, a transaction that inserts into `table` fails at COMMIT with that
    SQLSTATE, as PostgreSQL fails a transaction that lost a deadlock or a serialization check there (a deferred
    constraint trigger, installed by the suite's superuser login and removed afterwards)."""
    installed: list[str] = []
    app_role = connection.ops.quote_name(settings.DATABASE_APP_ROLE)

    def fail(table: str, sqlstate: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
            cursor.execute(
                "CREATE FUNCTION test_fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                f" RAISE EXCEPTION 'lost a race at commit' USING ERRCODE = '{sqlstate}'; END $$"
            )
            cursor.execute(
                f"CREATE CONSTRAINT TRIGGER test_fail_at_commit AFTER INSERT ON {connection.ops.quote_name(table)}"
                " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_fail_at_commit()"
            )
            cursor.execute(f"SET ROLE {app_role}")
        installed.append(table)

    yield fail
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
        for table in installed:
            cursor.execute(f"DROP TRIGGER test_fail_at_commit ON {connection.ops.quote_name(table)}")
            cursor.execute("DROP FUNCTION test_fail_at_commit()")
        cursor.execute(f"SET ROLE {app_role}")


def _importing_tenant() -> tuple[Any, Any, Any]:
    organization = OrganizationFactory()
    client, admin = member_client(organization, Role.ADMIN)
    with organization_context(organization.pk):
        project = ProjectFactory()
        storage = storage_connection_create(
            actor=admin,
            name="datasets",
            bucket="datasets",
            prefix="",
            endpoint_url="http://93.184.216.34:9000",
            access_key_id="KEY",
            secret_access_key="secret",
        )
    return client, project, storage


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"], ids=["deadlock", "serialization_failure"])
def test_an_import_that_loses_a_race_at_commit_is_a_503_to_retry(fails_at_commit, sqlstate):
    client, project, storage = _importing_tenant()
    fails_at_commit(ImportJob._meta.db_table, sqlstate)

    response = client.post(
        f"/api/v1/projects/{project.uuid}/imports/",
        {"storage": str(storage.uuid), "prefix": "in/", "format": "jsonl"},
        format="json",
    )

    assert (response.status_code, response["Content-Type"], response["Retry-After"]) == (503, "application/json", "1")
    assert response.json() == TRY_AGAIN
    with organization_context(project.organization_id):
        assert ImportJob.objects.count() == 0
        assert AuditEvent.objects.filter(action="import.create").count() == 0
