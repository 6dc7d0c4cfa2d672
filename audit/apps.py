from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The trail's writer needs the models, so it is installed once they are loaded.
        from audit.services.recording import AuditTrail
        from core.audit.record import trail_install

        trail_install(AuditTrail())
        import audit.receivers  # noqa: F401  connects the answers to tenancy's signals
