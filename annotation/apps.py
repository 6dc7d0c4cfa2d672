from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    """Routing, annotations, reviews, quality and exports."""

    name = "annotation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Connects the answers to tenancy's signals, and tells the audit trail how to name this app's objects
        # (core.audit.targets); both need the models loaded.
        from annotation import audit_targets, receivers, receivers_chat  # noqa: F401
