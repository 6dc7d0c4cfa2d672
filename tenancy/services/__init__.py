"""Writes of the tenancy app, one module per sub-domain: organizations, members, invitations, tokens, skills, and
what signing in leaves on the audit trail. Each service checks who may act (tenancy.permissions) and records its
audit event."""
