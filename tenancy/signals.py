"""What tenancy asks of, and announces to, the apps built on it, which it must not import.

Tenancy is below projects, annotation and audit: a membership can be removed, a skill renamed or an organization
setting changed without tenancy knowing what those apps keep. Each of these signals is sent inside the caller's
transaction (Signal.send, not send_robust), so a receiver that refuses by raising a DomainError stops the change,
and what a receiver writes commits or rolls back with it.
"""

from django.dispatch import Signal

member_removing = Signal()
"""Before a membership is deleted (kwargs: actor, membership). A receiver refuses with a DomainError, or releases
what the member holds and answers a dict of counts for the `member.remove` event's metadata."""

skill_requirers = Signal()
"""Before a skill is renamed or deleted (kwargs: name). A receiver answers what requires it by that name, to be
named in the refusal ("project 'Cardiology triage'"), or None."""

organization_setting_clean = Signal()
"""An organization setting another app owns is being changed; sent with the setting's key as sender (kwargs:
actor, organization, incoming, current). The one receiver connected for that key answers the value to store
(None to remove it) or refuses with a DomainError. A change to a key with no receiver is refused
(tenancy.services.organizations): its rules, and the sealing of its secrets, are that app's."""
