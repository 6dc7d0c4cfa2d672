from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Connects the answers to tenancy's signals; they need the models loaded.
        import projects.receivers  # noqa: F401
