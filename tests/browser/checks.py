"""For the manager and admin page tests: members who can sign in, and the checks every page passes."""

from typing import Any

from core.context import organization_context
from tenancy.models import Membership, Organization, Role
from tests.factories import MembershipFactory, UserFactory

PASSWORD = "correct horse battery staple"


def member(organization: Organization, role: Role, email: str) -> Membership:
    """A member of `organization` who signs in with PASSWORD."""
    with organization_context(organization.pk):
        user = UserFactory(email=email)
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
        return MembershipFactory(role=role, user=user)


def page_check(page: Any, axe: Any, screenshot: Any, name: str) -> None:
    """No serious accessibility violation, a screenshot to look at, no script error, nothing scrolls sideways."""
    axe(page)
    screenshot(page, name)
    assert page.console_errors == []
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
