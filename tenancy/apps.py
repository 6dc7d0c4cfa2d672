from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "tenancy"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the OpenAPI description of bearer tokens, which needs the models loaded.
        import tenancy.api.schema  # noqa: F401

        # Tells the audit trail how to name this app's objects (core.audit.targets).
        from tenancy import audit_targets  # noqa: F401
