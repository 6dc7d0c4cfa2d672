from django.apps import AppConfig


class AnnotationConfig(AppConfig):
    """Routing, annotations, reviews and quality; its models arrive with the routing and schema work."""

    name = "annotation"
    default_auto_field = "django.db.models.BigAutoField"
