from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The kernel every app stands on; it has no models of its own."""

    name = "core"

    def ready(self) -> None:
        # Imported once the app registry is ready: the grants read every model's table.
        from django.db.models.signals import post_migrate

        from core.migration_ops import apply_app_role_grants

        # Grants are infrastructure, re-applied after every migrate so new tables never miss theirs.
        post_migrate.connect(apply_app_role_grants, dispatch_uid="core.app_role_grants")
