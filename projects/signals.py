"""What the projects app asks of the apps built on it, which it must not import.

Sent inside the caller's transaction, with the organization in context.
"""

from django.dispatch import Signal

label_schema_checking = Signal()
"""A label schema is about to be set on a project (kwargs: schema, the parsed LabelSchema). A receiver answers a list
of core.errors.FieldError for what the schema names that its app does not have (a chat field's model connection),
each at its path under `label_schema`, or an empty list."""
