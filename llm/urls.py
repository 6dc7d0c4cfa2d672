from django.urls import path

from llm.api import judge as api_judge
from llm.api import views as api

urlpatterns = [
    path("model-connections/", api.ModelConnectionListView.as_view(), name="model-connection-list"),
    path(
        "model-connections/<str:model_connection_id>",
        api.ModelConnectionDetailView.as_view(),
        name="model-connection-detail",
    ),
    path("projects/<str:project_id>/model-budget", api.ModelBudgetView.as_view(), name="model-budget"),
    path("projects/<str:project_id>/model-calls/", api.ModelCallListView.as_view(), name="model-call-list"),
    path("projects/<str:project_id>/judge-runs/", api_judge.ProjectJudgeRunListView.as_view(), name="judge-run-list"),
    path("judge-runs/<str:judge_run_id>/cancel", api_judge.JudgeRunCancelView.as_view(), name="judge-run-cancel"),
    path("judge-runs/<str:judge_run_id>/resume", api_judge.JudgeRunResumeView.as_view(), name="judge-run-resume"),
    path("judge-runs/<str:judge_run_id>/verdicts/", api_judge.JudgeVerdictListView.as_view(), name="judge-verdicts"),
]
