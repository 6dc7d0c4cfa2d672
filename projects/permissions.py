"""Who may do what with projects, their tasks and the data going in: each rule once, over the acting member.

A rule answers None when the actor may, or the refusal in the words the member reads (tenancy.permissions, whose
`check` and `allows` every app uses). Services `check` the rule before they write, whoever calls them: the API,
a page, a test or a script. Pages and API views ask `allows` what to show or offer. The API's `required_roles`
stay the first gate of each route, because they document its 403 in the OpenAPI schema; these rules hold beyond
it.
"""

from tenancy.models import Membership, Role
from tenancy.permissions import Refusal


def _needs(actor: Membership, role: Role, refusal: str) -> Refusal:
    return None if actor.role_enum.at_least(role) else refusal


# --- projects and their label schema ---


def project_create(actor: Membership) -> Refusal:
    """Start a project."""
    return _needs(actor, Role.MANAGER, "Creating projects needs the manager role or higher.")


def project_settings_read(actor: Membership) -> Refusal:
    """See a project whole: its real name behind a codename, routing, review and quality settings. Below, members
    see what they label with (the brief)."""
    return _needs(actor, Role.MANAGER, "A project's settings need the manager role or higher.")


def project_change(actor: Membership) -> Refusal:
    """Change a project's settings, its label schema (a new version included) or its guidelines."""
    return _needs(actor, Role.MANAGER, "Changing a project needs the manager role or higher.")


def project_delete(actor: Membership) -> Refusal:
    """Delete a project with all its tasks and the work done on them."""
    return _needs(actor, Role.ADMIN, "Deleting a project needs the admin role or higher.")


# --- data in ---


def task_create(actor: Membership) -> Refusal:
    """Add tasks to a project through the API's bulk route."""
    return _needs(actor, Role.MANAGER, "Adding tasks needs the manager role or higher.")


def import_manage(actor: Membership) -> Refusal:
    """Start an import into a project, or cancel one."""
    return _needs(actor, Role.MANAGER, "Imports need the manager role or higher.")


def media_upload(actor: Membership) -> Refusal:
    """Upload a file that a project's tasks refer to."""
    return _needs(actor, Role.MANAGER, "Uploading media needs the manager role or higher.")


def storage_manage(actor: Membership) -> Refusal:
    """Add, change or remove the organization's S3 locations, whose credentials reach the lab's own data."""
    return _needs(actor, Role.ADMIN, "Managing storage connections needs the admin role or higher.")


def task_change(actor: Membership) -> Refusal:
    """Change tasks already in a project: priority, overlap, gold status."""
    return _needs(actor, Role.MANAGER, "Changing tasks needs the manager role or higher.")
