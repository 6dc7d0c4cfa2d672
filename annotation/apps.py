from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    """Routing, annotations, reviews, quality and exports."""

    name = "annotation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Connects the answers to tenancy's signals; they need the models loaded.
        import annotation.receivers  # noqa: F401
