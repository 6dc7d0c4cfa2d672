"""Media: uploads sniffed by content and kept under the organization's prefix; signed URLs only for the member
holding the task's live lease, only for keys inside the organization, on record, for at most five minutes."""

import hashlib
import uuid
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from annotation.models import AssignmentState
from audit.models import AuditEvent
from projects.models import MediaObject
from projects.object_store import LocalObjectStore, object_store
from projects.services.media import media_key_allowed, media_key_of, media_name_sanitise, media_sniff
from tenancy.models import Role
from tests.annotation import exports_support
from tests.annotation.exports_support import (
    AssignmentFactory,
)
from tests.conftest import member_client
from tests.factories import AnnotationFactory, ProjectFactory, TaskFactory

object_root = exports_support.object_root

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(200))
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"


@pytest.fixture
def project(tenant, object_root):
    return ProjectFactory()


@pytest.fixture
def manager(tenant):
    client, _ = member_client(tenant, Role.MANAGER)
    return client


def upload(client, project, content, name="photo.png", content_type="image/png", **extra):
    file = SimpleUploadedFile(name, content, content_type=content_type)
    return client.post(f"/api/v1/projects/{project.uuid}/media/", {"file": file, **extra}, format="multipart")


# --- upload ---


def test_an_upload_is_stored_under_the_organizations_prefix_with_its_sniffed_type(tenant, project, manager):
    # The client claims HTML; the bytes say PNG, and the bytes win.
    response = upload(manager, project, PNG, name="../../Ünïcode photo (1).png", content_type="text/html")

    assert response.status_code == 201, response.content
    body = response.json()
    media = MediaObject.objects.get()
    prefix = f"orgs/{tenant.uuid}/media/{project.uuid}/"
    assert body == {
        "id": str(media.uuid),
        "key": media.key,
        "size": len(PNG),
        "sha256": hashlib.sha256(PNG).hexdigest(),
        "content_type": "image/png",
        "created_at": body["created_at"],
    }
    assert media.key.startswith(prefix)
    name = media.key[len(prefix) :]
    assert (str(uuid.UUID(name[:36])), name[36:]) == (name[:36], "-Unicode-photo-1-.png")
    with object_store().open(media.key) as stream:
        assert stream.read() == PNG
    event = AuditEvent.objects.get(action="media.upload")
    assert event.metadata == {"project": str(project.uuid), "key": media.key, "size": len(PNG), "type": "image/png"}


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (PNG, "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (PDF, "application/pdf"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "audio/wav"),
        (b"ID3\x04\x00\x00", "audio/mpeg"),
        (b"\xff\xfb\x90\x64", "audio/mpeg"),
        (b"OggS\x00\x02", "audio/ogg"),
        (b"fLaC\x00\x00", "audio/flac"),
        ("Plain words, naïve café.\n".encode(), "text/plain"),
        ("é".encode()[:1], "text/plain"),  # a character cut at the end of the sample
    ],
)
def test_allowed_types_are_recognised_by_content(content, kind):
    assert media_sniff(content) == kind


@pytest.mark.parametrize(
    "content",
    [
        b"PK\x03\x04zip archive",
        b"\x7fELF\x02\x01\x01",
        b"MZ\x90\x00executable\x00",
        b"text with a NUL\x00 inside",
        b"\xc3\x28 invalid UTF-8 in the middle of text",
    ],
)
def test_anything_else_is_refused_with_415_and_nothing_is_stored(project, manager, object_root, content):
    response = upload(manager, project, content, name="thing.png")

    assert (response.status_code, response.json()["code"]) == (415, "unsupported_media_type")
    assert MediaObject.objects.count() == 0
    assert [p for p in object_root.rglob("*") if p.is_file()] == []


def test_an_empty_file_is_refused(project, manager):
    assert upload(manager, project, b"", name="empty.txt").status_code == 415


def test_a_file_over_the_limit_is_413_and_nothing_is_stored(project, manager, settings, object_root):
    settings.PROJECTS_MEDIA_MAX_BYTES = 100

    response = upload(manager, project, PNG)

    assert (response.status_code, response.json()["code"]) == (413, "too_large")
    assert MediaObject.objects.count() == 0
    assert [p for p in object_root.rglob("*") if p.is_file()] == []


def test_a_request_declaring_more_than_the_limit_is_refused_before_it_is_read(project, manager, settings):
    settings.PROJECTS_MEDIA_MAX_BYTES = 1000

    response = manager.post(
        f"/api/v1/projects/{project.uuid}/media/",
        data=b"x" * 10,
        content_type="multipart/form-data; boundary=b",
        CONTENT_LENGTH=str(1000 + 64 * 1024 + 1),
    )

    assert (response.status_code, response.json()["code"]) == (413, "too_large")


def test_unknown_fields_and_a_missing_file_are_400(project, manager):
    response = upload(manager, project, PNG, is_staff="true")
    assert (response.status_code, response.json()["errors"]) == (
        400,
        [{"field": "is_staff", "message": "Unknown field.", "code": "unknown_field"}],
    )
    response = manager.post(f"/api/v1/projects/{project.uuid}/media/", {}, format="multipart")
    assert (response.status_code, [e["field"] for e in response.json()["errors"]]) == (400, ["file"])
    response = manager.post(f"/api/v1/projects/{project.uuid}/media/", {"file": "x"}, format="json")
    assert response.status_code == 415
    assert MediaObject.objects.count() == 0


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.REVIEWER])
def test_below_manager_cannot_upload(tenant, project, role):
    client, _ = member_client(tenant, role)
    assert upload(client, project, PNG).status_code == 403
    assert MediaObject.objects.count() == 0


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("photo.png", "photo.png"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\evil.png", "evil.png"),
        ("héllo wörld.png", "hello-world.png"),
        ("..png", "png"),
        ("a..b", "a.b"),
        (".hidden", "hidden"),
        ("", "file"),
        ("////", "file"),
        ("x" * 300 + ".png", "x" * 100),
        ("漢字.jpg", "jpg"),
    ],
)
def test_names_are_sanitised(name, expected):
    assert media_name_sanitise(name) == expected


# --- signed URLs for the lease holder ---


@pytest.fixture
def held(tenant, project, manager):
    """An annotator holding a live lease on a task that names an uploaded image, a plain key and bad keys."""
    key = upload(manager, project, PNG).json()["key"]
    pdf_key = upload(manager, project, PDF, name="brief.pdf").json()["key"]
    client, member = member_client(tenant, Role.ANNOTATOR)
    other = str(uuid.uuid4())
    task = TaskFactory(
        project=project,
        data={
            "image": {"key": key, "width": 10, "height": 10},
            "brief": pdf_key,
            "climb": f"orgs/{tenant.uuid}/media/../../{other}/media/x.png",
            "dots": f"orgs/{tenant.uuid}/./media/x.png",
            "foreign": f"orgs/{other}/media/{project.uuid}/x.png",
            "absolute": f"/orgs/{tenant.uuid}/media/x.png",
            "web": {"url": "https://media.example.org/1.jpg", "width": 10, "height": 10},
            "missing": f"orgs/{tenant.uuid}/media/{project.uuid}/never-uploaded.png",
            "text": "Just words.",
        },
    )
    assignment = AssignmentFactory(
        task=task,
        annotator=member,
        state=AssignmentState.ACTIVE,
        lease_token=uuid.uuid4(),
        lease_expires_at=timezone.now() + timedelta(minutes=10),
    )
    return client, member, assignment, key, pdf_key


def media_url(assignment, field):
    return f"/api/v1/assignments/{assignment.uuid}/media?field={field}"


def test_the_lease_holder_gets_a_short_lived_signed_url_on_record(held, settings):
    client, _, assignment, key, _ = held
    settings.PROJECTS_SIGNED_URL_SECONDS = 120
    before = timezone.now()

    response = client.get(media_url(assignment, "image"))

    assert response.status_code == 200, response.content
    body = response.json()
    expires = parse_datetime(body["expires_at"])
    assert before + timedelta(seconds=119) <= expires <= timezone.now() + timedelta(seconds=120)
    file = client.get(body["url"])
    assert (file.status_code, b"".join(file.streaming_content), file["Content-Type"]) == (200, PNG, "image/png")
    assert file["X-Content-Type-Options"] == "nosniff"
    event = AuditEvent.objects.get(action="data_access.media_url")
    assert (event.category, event.target_type, event.target_id, event.metadata) == (
        "data_access",
        "annotation.assignment",
        str(assignment.uuid),
        {"task_ids": [str(assignment.task.uuid)], "field": "image", "key": key, "expires_in": 120},
    )
    # On the task's trail as well as the lease's.
    assert sorted(event.subjects.values_list("subject_id", flat=True)) == sorted(
        [str(assignment.uuid), str(assignment.task.uuid)]
    )


def test_a_plain_key_string_is_signed_too(held):
    client, _, assignment, _, _ = held

    response = client.get(media_url(assignment, "brief"))

    assert response.status_code == 200
    file = client.get(response.json()["url"])
    assert (b"".join(file.streaming_content), file["Content-Type"]) == (PDF, "application/pdf")


@pytest.mark.parametrize("field", ["climb", "dots", "foreign", "absolute", "web", "missing", "text", "nope"])
def test_keys_outside_the_organization_or_climbing_out_of_it_are_404(held, field):
    client, _, assignment, _, _ = held

    response = client.get(media_url(assignment, field))

    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert not AuditEvent.objects.filter(action="data_access.media_url").exists()


def test_the_field_must_be_named(held):
    client, _, assignment, _, _ = held
    assert client.get(f"/api/v1/assignments/{assignment.uuid}/media").status_code == 400
    assert client.get(media_url(assignment, "x" * 129)).status_code == 400


@pytest.mark.parametrize("role", [Role.ANNOTATOR, Role.MANAGER, Role.OWNER])
def test_someone_elses_assignment_is_404_whatever_the_role(held, tenant, role):
    _, _, assignment, _, _ = held
    client, _ = member_client(tenant, role)

    response = client.get(media_url(assignment, "image"))

    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert not AuditEvent.objects.filter(action="data_access.media_url").exists()


@pytest.mark.parametrize(
    "change",
    [
        {"lease_expires_at": timezone.now() - timedelta(seconds=1)},
        {"state": AssignmentState.SUBMITTED},
        {"state": AssignmentState.QUEUED, "lease_token": None, "lease_expires_at": None},
    ],
)
def test_a_lapsed_or_finished_lease_gets_nothing(held, change):
    client, _, assignment, _, _ = held
    type(assignment).objects.filter(pk=assignment.pk).update(**change)

    assert client.get(media_url(assignment, "image")).status_code == 404


def test_an_expired_media_url_is_404(held, object_root):
    client, _, _, key, _ = held
    # A URL built with an expiry already past, as one handed out five minutes ago would be now.
    expired = LocalObjectStore(object_root).signed_url(key, expires_in=-1)

    assert client.get(expired).status_code == 404
    assert client.get(LocalObjectStore(object_root).signed_url(key, expires_in=5)).status_code == 200


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("orgs/a/b.png", "orgs/a/b.png"),
        ({"key": "orgs/a/b.png", "width": 1}, "orgs/a/b.png"),
        ({"url": "https://x.test/b.png"}, None),
        ("https://x.test/b.png", None),
        ("s3://platform/orgs/a/b.png", "orgs/a/b.png"),
        ("s3://someone-else/orgs/a/b.png", None),
        ({"url": "s3://platform/orgs/a/c.png"}, "orgs/a/c.png"),
        (42, None),
    ],
)
def test_what_a_task_data_value_names(settings, value, key):
    settings.OBJECT_STORAGE_BUCKET = "platform"
    assert media_key_of(value) == key


def test_an_s3_url_names_nothing_when_the_platform_has_no_bucket(settings):
    settings.OBJECT_STORAGE_BUCKET = ""
    assert media_key_of("s3://platform/orgs/a/b.png") is None


@pytest.mark.parametrize(
    ("key", "allowed"),
    [
        ("orgs/{org}/media/p/x.png", True),
        ("orgs/{org}/media/p/../x.png", False),
        ("orgs/{org}/media/p/./x.png", False),
        ("orgs/{org}//x.png", False),
        ("orgs/{org}/media\\x.png", False),
        ("orgs/{org}/media/x\x00.png", False),
        ("/orgs/{org}/x.png", False),
        ("orgs/{other}/x.png", False),
        ("orgs/{org}", False),
        ("media/x.png", False),
        ("", False),
    ],
)
def test_which_keys_are_inside_the_organization(key, allowed):
    org, other = uuid.uuid4(), uuid.uuid4()
    assert media_key_allowed(key.format(org=org, other=other), org) is allowed


# --- signed URLs for the reviewer of an annotation ---


def test_a_reviewer_gets_the_image_of_an_annotation_waiting_for_them_and_nobody_else_does(tenant, project, manager):
    key = upload(manager, project, PNG).json()["key"]
    task = TaskFactory(project=project, data={"image": {"key": key, "width": 10, "height": 10}})
    reviewer, reviewer_member = member_client(tenant, Role.REVIEWER)
    annotator, annotator_member = member_client(tenant, Role.ANNOTATOR)
    annotation = AnnotationFactory(
        project=project, task=task, annotator=annotator_member, review_state="pending", review_level=1
    )
    own = AnnotationFactory(
        project=project, task=task, annotator=reviewer_member, review_state="pending", review_level=1
    )
    decided = AnnotationFactory(project=project, task=task, review_state="accepted", review_level=1)

    def media(client, target, field="image"):
        return client.get(f"/api/v1/annotations/{target.uuid}/media", {"field": field})

    response = media(reviewer, annotation)
    assert response.status_code == 200, response.content
    file = reviewer.get(response.json()["url"])
    assert (file.status_code, b"".join(file.streaming_content)) == (200, PNG)
    event = AuditEvent.objects.get(action="data_access.media_url")
    assert (event.target_type, event.target_id, event.metadata["task_ids"]) == (
        "annotation.annotation",
        str(annotation.uuid),
        [str(task.uuid)],
    )

    assert media(annotator, annotation).status_code == 403  # below reviewer
    assert media(reviewer, own).status_code == 404  # their own work is never theirs to review
    assert media(reviewer, decided).status_code == 404  # no longer waiting
    assert media(reviewer, annotation, field="text").status_code == 404  # names no file
    assert media(reviewer, annotation, field="").json()["errors"][0]["field"] == "field"
    assert AuditEvent.objects.filter(action="data_access.media_url").count() == 1
