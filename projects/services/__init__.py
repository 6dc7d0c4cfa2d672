"""Writes of the projects app, one module per sub-domain: projects, tasks, media, storage connections, schema
versions and the leases of background jobs. Each service records its audit event in the same transaction."""
