"""Who may read and check the audit trail, and decide where it is streamed: each rule once, over the acting member.

A rule answers None when the actor may, or the refusal in the words the member reads (tenancy.permissions, whose
`check` and `allows` every app uses). The trail holds what every member did, refusals included: owners and admins
read it, export it and check it, and the audit API's routes on it and the trail page open at that role
(`TRAIL_ROLE`, in their `required_roles` and `role_page`). The signing key's public half is anyone's.
"""

from tenancy.models import Membership, Role
from tenancy.permissions import Refusal

# The least role that reads the trail (search, export, checkpoints) and checks it (verify, seal now).
TRAIL_ROLE = Role.ADMIN


def _reads_the_trail(actor: Membership) -> Refusal:
    if actor.role_enum.at_least(TRAIL_ROLE):
        return None
    return f"This action needs the {TRAIL_ROLE.value} role or higher."


def audit_trail_verify(actor: Membership) -> Refusal:
    """Recompute the chains and checkpoints now, and see what was found."""
    return _reads_the_trail(actor)


def audit_trail_seal(actor: Membership) -> Refusal:
    """Seal the new events into a signed checkpoint now, rather than at the next beat."""
    return _reads_the_trail(actor)


def audit_stream_configure(actor: Membership) -> Refusal:
    """Set, change or remove where the trail is streamed: owners only, since it decides who else reads everything."""
    if actor.role_enum is Role.OWNER:
        return None
    return "Only owners may change where the audit trail is streamed."
