from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "tenancy"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        import tenancy.api.schema  # noqa: F401  registers the OpenAPI description of bearer tokens
        from tenancy.migration_ops import apply_app_role_grants

        # Grants are infrastructure, re-applied after every migrate so new tables never miss theirs.
        post_migrate.connect(apply_app_role_grants, dispatch_uid="tenancy.app_role_grants")
