from django.apps import AppConfig


class LlmConfig(AppConfig):
    """The lab's own models in the loop: connections to them, their budgets, and every call made to them."""

    name = "llm"
    label = "llm"
    verbose_name = "Models in the loop"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from llm import audit_targets  # noqa: F401
