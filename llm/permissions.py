"""Who may do what with model connections and budgets: each rule once, over the acting member.

Connections carry credentials and decide where task data is sent, so they are the admins'; a project's budget is
money, so setting it is the admins' too. Managers see what connections exist (a chat field names them) and their
project's spending.
"""

from tenancy.models import Membership, Role
from tenancy.permissions import Refusal


def _needs(actor: Membership, role: Role, refusal: str) -> Refusal:
    return None if actor.role_enum.at_least(role) else refusal


def connection_manage(actor: Membership) -> Refusal:
    """Add, change or remove a model connection: where task data is sent, with which credentials."""
    return _needs(actor, Role.ADMIN, "Managing model connections needs the admin role or higher.")


def connection_read(actor: Membership) -> Refusal:
    """See the organization's model connections (never their keys), to name them in a label schema."""
    return _needs(actor, Role.MANAGER, "Model connections need the manager role or higher.")


def budget_change(actor: Membership) -> Refusal:
    """Set a project's token allowance and its limit of calls at once."""
    return _needs(actor, Role.ADMIN, "Setting a project's model budget needs the admin role or higher.")


def budget_read(actor: Membership) -> Refusal:
    """See a project's model budget and what it has spent."""
    return _needs(actor, Role.MANAGER, "A project's model budget needs the manager role or higher.")


def judge_run(actor: Membership) -> Refusal:
    """Start, follow, resume or cancel a model judging a project's answered tasks (it spends the project's budget)."""
    return _needs(actor, Role.MANAGER, "Judge runs need the manager role or higher.")
