from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Connects the answers to tenancy's signals, and tells the audit trail how to name this app's objects
        # (core.audit.targets); both need the models loaded.
        from projects import audit_targets, receivers  # noqa: F401
