from django.apps import AppConfig


class WorkersConfig(AppConfig):
    name = "workers"

    def ready(self) -> None:
        # Register the tasks in every process (web included), so enqueue-by-name always finds them.
        import workers.tasks  # noqa: F401
