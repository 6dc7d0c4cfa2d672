"""Signing in: what an attempt leaves on the audit trail.

A person signs in to the installation, not to one organization, so an attempt is one event, on one trail: the trail
of the organization a sign-in opens first (the first of the account's organizations by name), which is also where
its successful sign-ins (`auth.login`) go, so that failures and the success after them read in order in one place.
Writing a refused attempt into every organization of the account, as before, multiplied each wrong password's
writes by the number of organizations, and spread one account's attempts over trails whose admins see only a part.

An attempt on an address with no account, or on an account of no organization, belongs to no tenant: it goes to
the log (the client address only, never the name typed, which is sometimes a password typed into the wrong field),
and django-axes counts it like any other (tenancy.throttling).
"""

import logging

from core.audit.context import set_actor
from core.audit.record import audit_record, audit_record_denied
from core.context import organization_context
from tenancy import selectors
from tenancy.models import Membership, User

logger = logging.getLogger(__name__)


def login_record(*, membership: Membership) -> None:
    """Record a successful sign-in, in the organization the session opens."""
    with organization_context(membership.organization_id):
        set_actor(user_id=membership.user_id, user_label=membership.user.email)
        audit_record(action="auth.login", target=membership.user)


def login_failure_record(*, email: str, locked_out: bool, client_address: str | None) -> None:
    """Record a refused sign-in once: wrong password, or refused by the lockout (`locked_out`)."""
    user = User.objects.filter(email=email.strip().lower()).first()
    memberships = selectors.user_memberships(user=user) if user is not None else []
    if user is None or not memberships:
        logger.warning(
            "auth.login_failed_outside_organizations", extra={"ip": client_address, "locked_out": locked_out}
        )
        return
    audit_record_denied(
        organization_id=memberships[0].organization_id,
        action="auth.login_failed",
        target_type="tenancy.user",
        target_id=str(user.uuid),
        metadata={"locked_out": locked_out},
    )
