"""Data for the browser tests: a lab, its members (who can sign in with PASSWORD), projects and real images."""

import io
import struct
import zlib
from dataclasses import dataclass
from typing import Any

from core.audit.context import ActorContext, actor_context
from core.context import organization_context
from projects.models import Project
from projects.services.media import media_upload
from projects.services.projects import project_create
from projects.services.tasks import task_bulk_create
from tenancy.models import Membership, Organization, Role
from tests.factories import MembershipFactory, OrganizationFactory, UserFactory

PASSWORD = "correct horse battery staple"


def png(width: int, height: int, rgb: tuple[int, int, int] = (200, 214, 230)) -> bytes:
    """A real PNG of one colour with a darker diagonal band, so a screenshot shows where the image is."""
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            band = abs(x * height - y * width) < width * 6
            row += bytes(c // 2 for c in rgb) if band else bytes(rgb)
        rows.append(bytes(row))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


@dataclass
class Lab:
    organization: Organization
    members: dict[Role, Membership]

    def member(self, role: Role) -> Membership:
        return self.members[role]

    def as_owner(self) -> Any:
        owner = self.members[Role.OWNER]
        return actor_context(ActorContext(user_id=owner.user_id, user_label=owner.user.email, ip="127.0.0.1"))


def make_lab(name: str = "Northwind Lab", roles: tuple[Role, ...] = (Role.OWNER, Role.ANNOTATOR)) -> Lab:
    organization = OrganizationFactory(name=name)
    slug = organization.slug
    members: dict[Role, Membership] = {}
    with organization_context(organization.pk):
        for role in roles:
            user = UserFactory(email=f"{role.value}@{slug}.example")
            user.set_password(PASSWORD)
            user.save(update_fields=["password"])
            members[role] = MembershipFactory(role=role, user=user)
    return Lab(organization=organization, members=members)


def make_project(lab: Lab, *, tasks: list[dict[str, Any]] | None = None, **fields: Any) -> Project:
    """A project with `tasks` (each a task's data), created through the services as the owner."""
    with organization_context(lab.organization.pk), lab.as_owner():
        project = project_create(actor=lab.member(Role.OWNER), **fields)
    if tasks:
        add_tasks(lab, project, tasks)
    return project


def add_tasks(lab: Lab, project: Project, tasks: list[dict[str, Any]], *, first: int = 1) -> None:
    items = [{"external_id": f"t-{first + i}", "data": data} for i, data in enumerate(tasks)]
    with organization_context(lab.organization.pk), lab.as_owner():
        task_bulk_create(actor=lab.member(Role.OWNER), project=project, items=items)


def upload_image(lab: Lab, project: Project, width: int, height: int) -> str:
    """Upload a PNG to the project's media; returns its storage key for task data."""
    owner = lab.member(Role.OWNER)
    body = png(width, height)
    with organization_context(lab.organization.pk), lab.as_owner():
        media = media_upload(actor=owner, project=project, stream=io.BytesIO(body), size=len(body), name="photo.png")
    return media.key
