"""Before anything is uploaded or started: the server answers, the token is accepted and may do what the command
needs, and the project exists in the token's organization. Each failure stops the command with the one thing to
fix, rather than with the refusal of a large upload half-way through."""

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from annotate_cli.client import API_PREFIX, ApiError, Client, CliError

# Lowest first, as the server ranks them (tenancy.models.Role); the client cannot import the server's code.
ROLES = ("annotator", "reviewer", "manager", "admin", "owner")


@dataclass(frozen=True)
class Target:
    """Who the token acts as, and the project the command works on."""

    organization: str  # "Northwind Lab (northwind)", as the messages name it
    role: str
    project: dict[str, Any]


def _rank(role: str) -> int:
    return ROLES.index(role) if role in ROLES else -1


def _whoami(client: Client) -> dict[str, Any]:
    try:
        me = client.call("GET", "me")
    except ApiError as exc:
        if exc.status in (401, 403):
            raise CliError(
                f"the token was refused: {exc.detail or 'no reason given'} "
                "Check --token (or ANNOTATE_TOKEN); an admin issues tokens on the API tokens page."
            ) from exc
        if exc.status == 404:
            raise CliError(_not_annotate(client)) from exc
        raise
    if not isinstance(me, dict) or not isinstance(me.get("organization"), dict):
        raise CliError(_not_annotate(client))
    return me


def _not_annotate(client: Client) -> str:
    return f"{client.root} does not answer like an Annotate server (GET me). Check --url (or ANNOTATE_URL)."


def preflight(client: Client, project_id: str, *, needs: str, to: str) -> Target:
    """Check the token and the project; `needs` is the role the command's endpoints require, `to` says what for
    ("import tasks")."""
    me = _whoami(client)
    organization = me["organization"]
    named = f"{organization.get('name', '')} ({organization.get('slug', '')})"
    role = str(me.get("role", ""))
    if _rank(role) < _rank(needs):
        raise CliError(
            f"the token acts as {role} in organization {named}; to {to} it needs the {needs} role or above. "
            "Ask an admin for a token with that role."
        )
    try:
        project = client.call("GET", f"projects/{quote(project_id, safe='')}")
    except ApiError as exc:
        if exc.status != 404:
            raise
        error = CliError(f"project {project_id} not found in organization {named}.")
        error.hint = "A project's id is in the address of its page (/projects/<id>/)"
        error.hint += "." if _looks_like_an_id(project_id) else ", a UUID such as 3f2b9c1e-7d4a-4c55-9a1e-2b8f6d0c4e71."
        raise error from exc
    return Target(organization=named, role=role, project=dict(project))


def _looks_like_an_id(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def has_label_fields(project: dict[str, Any]) -> bool:
    schema = project.get("label_schema")
    return isinstance(schema, dict) and bool(schema.get("fields"))


def site_url(client: Client) -> str:
    """The server's own address, for links to its pages (the API root without its prefix)."""
    return client.root.removesuffix(API_PREFIX)
