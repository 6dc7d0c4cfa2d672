"""Storage connections: admins only, the secret encrypted and write-only, the endpoint refused when it points at
loopback, private, link-local or metadata addresses; the client held to the vetted address, refusing other hosts,
and describing failures without the store's own response."""

import ipaddress
import socket
from types import SimpleNamespace
from typing import Any

import pytest

from audit.models import AuditEvent
from core import outbound
from core.context import organization_context
from core.outbound import DestinationRefused
from projects.imports.services import import_create_s3
from projects.models import StorageConnection
from projects.services.storage import (
    S3Client,
    StorageError,
    s3_client,
    storage_connection_create,
    unseal_secret,
)
from tenancy.models import Role
from tests.factories import MembershipFactory, OrganizationFactory, ProjectFactory
from tests.projects import imports_support
from tests.projects.imports_support import connection_for

# Fixtures shared by the import tests, bound here so that pytest finds them in this module.
bucket = imports_support.bucket
loopback_allowed = imports_support.loopback_allowed
s3_endpoint = imports_support.s3_endpoint

URL = "/api/v1/storage-connections/"
BODY = {
    "name": "datasets",
    "bucket": "lab-datasets",
    "prefix": "incoming/",
    "endpoint_url": "https://s3.example.org",
    "region": "eu-west-1",
    "access_key_id": "AKIAEXAMPLE",
    "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
}


@pytest.fixture
def public_dns(monkeypatch: Any) -> dict[str, str]:
    """Names resolve to what the test says (s3.example.org to a public address unless told otherwise)."""
    answers = {"s3.example.org": "93.184.216.34", "s3.eu-west-1.amazonaws.com": "52.218.0.1"}
    real = socket.getaddrinfo

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in answers:
            family = socket.AF_INET6 if ":" in answers[host] else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(outbound.socket, "getaddrinfo", getaddrinfo)
    return answers


@pytest.fixture
def admin_api(tenant: Any, api_as: Any) -> Any:
    return api_as(tenant, Role.ADMIN)


def test_an_admin_adds_a_connection_whose_secret_is_encrypted_and_never_shown(tenant, admin_api, public_dns):
    response = admin_api.post(URL, BODY, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert "secret_access_key" not in body
    assert "wJalrXUtnFEMI" not in response.content.decode()
    assert {
        k: body[k] for k in ("name", "bucket", "prefix", "endpoint_url", "region", "access_key_id", "has_secret")
    } == {
        "name": "datasets",
        "bucket": "lab-datasets",
        "prefix": "incoming/",
        "endpoint_url": "https://s3.example.org",
        "region": "eu-west-1",
        "access_key_id": "AKIAEXAMPLE",
        "has_secret": True,
    }
    stored = StorageConnection.objects.get(uuid=body["id"])
    assert "wJalrXUtnFEMI" not in stored.secret_access_key_encrypted
    assert unseal_secret(stored.secret_access_key_encrypted, organization_id=tenant.pk) == BODY["secret_access_key"]
    assert admin_api.get(f"{URL}{body['id']}").json() == body
    event = AuditEvent.objects.get(action="storage.create")
    assert event.changes["secret_access_key"] == "[redacted]"
    assert "wJalrXUtnFEMI" not in str(event.changes)


@pytest.mark.parametrize(
    ("endpoint", "resolves_to", "message"),
    [
        ("http://127.0.0.1:9000", None, "Refused to connect to 127.0.0.1: a loopback address."),
        ("http://169.254.169.254", None, "Refused to connect to 169.254.169.254: a cloud metadata address."),
        ("http://10.0.0.1:9000", None, "Refused to connect to 10.0.0.1: a private address."),
        ("http://[::1]:9000", None, "Refused to connect to ::1: a loopback address."),
        ("https://s3.example.org", "127.0.0.1", "Refused to connect to 127.0.0.1: a loopback address."),
        (
            "https://s3.example.org",
            "169.254.169.254",
            "Refused to connect to 169.254.169.254: a cloud metadata address.",
        ),
        (
            "http://[2002:7f00:1::]:9000",
            None,
            "Refused to connect to 2002:7f00:1::: a 6to4 address embedding 127.0.0.1 (a loopback address).",
        ),
        (
            "https://s3.example.org",
            "64:ff9b::a9fe:a9fe",
            "Refused to connect to 64:ff9b::a9fe:a9fe: a NAT64 address embedding 169.254.169.254 "
            "(a cloud metadata address).",
        ),
        ("ftp://s3.example.org", None, "The endpoint must be an http:// or https:// URL."),
        ("https://user:pw@s3.example.org", None, "The endpoint URL must not carry credentials."),
        ("https://s3.example.org/bucket?x=1", None, "The endpoint URL must be scheme://host[:port] only."),
    ],
)
def test_an_endpoint_on_a_refused_address_is_a_400_naming_why(admin_api, public_dns, endpoint, resolves_to, message):
    if resolves_to:
        public_dns["s3.example.org"] = resolves_to

    response = admin_api.post(URL, {**BODY, "endpoint_url": endpoint}, format="json")

    assert (response.status_code, response.json()["errors"]) == (
        400,
        [{"field": "endpoint_url", "message": message, "code": "refused"}],
    )
    assert StorageConnection.objects.count() == 0


def test_metadata_addresses_stay_refused_even_inside_an_allowed_network(admin_api, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["169.254.0.0/16", "127.0.0.0/8"]

    refused = admin_api.post(URL, {**BODY, "endpoint_url": "http://169.254.169.254"}, format="json")
    allowed = admin_api.post(URL, {**BODY, "endpoint_url": "http://127.0.0.1:9000"}, format="json")

    assert refused.json()["errors"][0]["message"] == "Refused to connect to 169.254.169.254: a cloud metadata address."
    assert allowed.status_code == 201


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("bucket", "Not_A_Bucket", "invalid"),
        ("prefix", "data/../other/", "unsafe_key"),
        ("prefix", "/absolute", "unsafe_key"),
        ("region", "eu west", "invalid"),
    ],
)
def test_bad_fields_are_400s_naming_the_field(admin_api, public_dns, field, value, code):
    response = admin_api.post(URL, {**BODY, field: value}, format="json")

    assert response.status_code == 400
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [(field, code)]


def test_only_admins_and_owners_manage_connections(tenant, api_as, public_dns):
    for role in (Role.MANAGER, Role.REVIEWER, Role.ANNOTATOR):
        client = api_as(tenant, role)
        assert client.get(URL).status_code == 403
        assert client.post(URL, BODY, format="json").status_code == 403
    assert api_as(tenant, Role.OWNER).post(URL, BODY, format="json").status_code == 201


def test_patch_keeps_an_omitted_secret_replaces_a_new_one_and_empty_removes_it(tenant, admin_api, public_dns):
    connection_id = admin_api.post(URL, BODY, format="json").json()["id"]
    detail = f"{URL}{connection_id}"

    renamed = admin_api.patch(detail, {"name": "renamed"}, format="json")
    secret_after_rename = StorageConnection.objects.get(uuid=connection_id).secret_access_key_encrypted
    admin_api.patch(detail, {"secret_access_key": "new-secret"}, format="json")
    replaced = unseal_secret(
        StorageConnection.objects.get(uuid=connection_id).secret_access_key_encrypted, organization_id=tenant.pk
    )
    removed = admin_api.patch(detail, {"secret_access_key": ""}, format="json")

    assert (renamed.status_code, renamed.json()["name"], renamed.json()["has_secret"]) == (200, "renamed", True)
    assert unseal_secret(secret_after_rename, organization_id=tenant.pk) == BODY["secret_access_key"]
    assert replaced == "new-secret"
    assert removed.json()["has_secret"] is False
    moved = admin_api.patch(detail, {"endpoint_url": "http://10.0.0.1"}, format="json")
    assert (moved.status_code, moved.json()["errors"][0]["field"]) == (400, "endpoint_url")


def test_a_connection_used_by_an_import_cannot_be_deleted(tenant, admin_api, public_dns):
    connection_id = admin_api.post(URL, BODY, format="json").json()["id"]
    spare_id = admin_api.post(URL, {**BODY, "name": "spare"}, format="json").json()["id"]
    manager = MembershipFactory(organization=tenant, role=Role.MANAGER)
    import_create_s3(
        actor=manager,
        project=ProjectFactory(),
        storage=StorageConnection.objects.get(uuid=connection_id),
        prefix="",
        fmt="jsonl",
    )

    in_use = admin_api.delete(f"{URL}{connection_id}")
    spare = admin_api.delete(f"{URL}{spare_id}")

    assert (in_use.status_code, in_use.json()["detail"]) == (
        409,
        "Import or export jobs refer to this storage connection; it cannot be deleted.",
    )
    assert spare.status_code == 204
    assert list(StorageConnection.objects.values_list("name", flat=True)) == ["datasets"]


def test_two_connections_cannot_share_a_name(admin_api, public_dns):
    admin_api.post(URL, BODY, format="json")

    response = admin_api.post(URL, BODY, format="json")

    assert (response.status_code, response.json()["detail"]) == (
        409,
        "A storage connection named 'datasets' exists already.",
    )


# --- the client ---


def test_the_client_connects_to_the_vetted_address_whatever_the_name_resolves_to_later(
    tenant, bucket, s3_endpoint, monkeypatch
):
    client, name = bucket
    client.put_object(Bucket=name, Key="in/a.jsonl", Body=b"{}")
    port = int(s3_endpoint.rsplit(":", 1)[1])
    vetted: list[str] = []

    def resolve(host: str, port: int) -> Any:
        vetted.append(host)
        assert (
            host == "storage-rebinding-test"
        )  # a name no DNS server knows (dot-free: moto reads the bucket from the path)
        return ipaddress.ip_address("127.0.0.1")

    monkeypatch.setattr(outbound, "resolve", resolve)
    s3 = S3Client(
        bucket=name,
        endpoint_url=f"http://storage-rebinding-test:{port}",
        region="us-east-1",
        access_key_id="testing",
        secret="testing",
    )

    assert [o.key for o in s3.list_objects("in/")] == ["in/a.jsonl"]
    assert s3.open("in/a.jsonl").read() == b"{}"
    assert vetted == ["storage-rebinding-test"]  # resolved once, when the client was made


def test_the_client_refuses_to_send_anything_to_another_host(bucket, s3_endpoint):
    _, name = bucket
    s3 = S3Client(bucket=name, endpoint_url=s3_endpoint, region="", access_key_id="testing", secret="testing")
    redirected = SimpleNamespace(url="http://169.254.169.254/latest/meta-data/", headers={})

    with pytest.raises(DestinationRefused, match="redirected the request to another host"):
        s3._before_send(redirected)


def test_a_redirecting_store_is_never_followed(tenant, loopback_allowed):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    hits: list[str] = []

    class Redirecting(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            hits.append(self.path)
            body = (
                b"<Error><Code>PermanentRedirect</Code><Message>SECRET-UPSTREAM-TEXT</Message>"
                b"<Endpoint>169.254.169.254</Endpoint><Bucket>b</Bucket></Error>"
            )
            self.send_response(301)
            self.send_header("Location", "http://169.254.169.254/b")
            self.send_header("x-amz-bucket-region", "eu-west-1")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        s3 = S3Client(
            bucket="b",
            endpoint_url=f"http://127.0.0.1:{server.server_address[1]}",
            region="us-east-1",
            access_key_id="testing",
            secret="testing",
        )
        with pytest.raises(StorageError) as caught:
            list(s3.list_objects(""))
    finally:
        server.shutdown()
        server.server_close()

    assert caught.value.message in (
        "The bucket is in another region: set the connection's region.",
        "The storage redirected the request to another host; refused.",
    )
    assert "SECRET-UPSTREAM-TEXT" not in caught.value.message
    assert all(path.startswith("/b") for path in hits)


def test_store_errors_are_described_without_the_stores_own_words(tenant, bucket, s3_endpoint):
    admin = MembershipFactory(organization=tenant, role=Role.ADMIN)
    missing = connection_for(admin, s3_endpoint, "no-such-bucket-here", name="missing")
    wrong_key = connection_for(admin, s3_endpoint, bucket[1], name="wrong key")

    with pytest.raises(StorageError) as no_bucket:
        list(s3_client(missing).list_objects(""))
    with pytest.raises(StorageError) as no_key:
        s3_client(wrong_key).open("absent.jsonl")

    assert no_bucket.value.message == "The bucket does not exist."
    assert no_key.value.message == "The object does not exist."


def test_a_connection_stored_before_its_address_was_refused_cannot_be_used(tenant, bucket, s3_endpoint, settings):
    admin = MembershipFactory(organization=tenant, role=Role.ADMIN)
    connection = connection_for(admin, s3_endpoint, bucket[1])
    settings.OUTBOUND_ALLOWED_NETWORKS = []

    with pytest.raises(StorageError) as caught:
        s3_client(connection)

    assert (caught.value.message, caught.value.transient) == (
        "Refused to connect to 127.0.0.1: a loopback address.",
        False,
    )


def test_creating_through_the_service_checks_the_role(tenant, public_dns):
    manager = MembershipFactory(organization=tenant, role=Role.MANAGER)

    from core.errors import NotAllowed

    with pytest.raises(NotAllowed):
        storage_connection_create(actor=manager, name="x", bucket="lab-datasets")


def test_a_secret_copied_to_another_organizations_connection_does_not_open_there(tenant, public_dns, monkeypatch):
    bravo = OrganizationFactory()
    with organization_context(bravo.pk):
        bravo_admin = MembershipFactory(organization=bravo, role=Role.ADMIN)
        bravo_connection = storage_connection_create(
            actor=bravo_admin, name="bravo", bucket="bravo-data", secret_access_key="bravo-s3-secret"
        )
    admin = MembershipFactory(organization=tenant, role=Role.ADMIN)
    alpha_connection = storage_connection_create(
        actor=admin, name="alpha", bucket="alpha-data", secret_access_key="alpha-s3-secret"
    )
    # Whatever copies the column (a restore, a bug elsewhere), the value stays bound to its organization.
    StorageConnection.objects.filter(pk=alpha_connection.pk).update(
        secret_access_key_encrypted=bravo_connection.secret_access_key_encrypted
    )
    alpha_connection.refresh_from_db()
    given: list[str] = []
    monkeypatch.setattr(
        "projects.services.storage.S3Client", lambda **fields: given.append(fields["secret"]) or SimpleNamespace()
    )

    s3_client(alpha_connection)
    with organization_context(bravo.pk):
        s3_client(bravo_connection)

    assert given == ["", "bravo-s3-secret"]
