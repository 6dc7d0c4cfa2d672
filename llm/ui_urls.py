from django.urls import path

from llm import pages

P = "projects/<uuid:project_id>"

urlpatterns = [
    path("models/", pages.model_connections, name="model-connections"),
    path("models/<uuid:model_connection_id>", pages.model_connection_change, name="model-connection-change"),
    path(f"{P}/model-budget", pages.project_model_budget, name="project-model-budget"),
    path(f"{P}/model-calls", pages.project_model_calls, name="project-model-calls"),
]
