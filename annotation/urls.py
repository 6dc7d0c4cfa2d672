from django.urls import path

from annotation.api import exports as api_exports
from annotation.api import quality as api_quality
from annotation.api import views as api

A = "assignments/<str:assignment_id>"
P = "projects/<str:project_id>"

urlpatterns = [
    path("projects/<str:project_id>/next", api.ProjectNextView.as_view(), name="project-next"),
    path("projects/<str:project_id>/assignments/", api.ProjectAssignmentListView.as_view(), name="project-assignments"),
    path(f"{A}/heartbeat", api.AssignmentHeartbeatView.as_view(), name="assignment-heartbeat"),
    path(f"{A}/submit", api.AssignmentSubmitView.as_view(), name="assignment-submit"),
    path(f"{A}/skip", api.AssignmentSkipView.as_view(), name="assignment-skip"),
    path(f"{A}/release", api.AssignmentReleaseView.as_view(), name="assignment-release"),
    path(f"{A}/revoke", api.AssignmentRevokeView.as_view(), name="assignment-revoke"),
    path(f"{A}/media", api.AssignmentMediaView.as_view(), name="assignment-media"),
    path("exclusions/", api.ExclusionListView.as_view(), name="exclusion-list"),
    path("exclusions/<str:exclusion_id>", api.ExclusionDetailView.as_view(), name="exclusion-detail"),
    path(f"{P}/exclusions/", api.ProjectExclusionListView.as_view(), name="project-exclusions"),
    path(f"{P}/progress/", api.ProjectProgressListView.as_view(), name="project-progress"),
    path(f"{P}/progress/<str:member_id>/pause", api.ProgressPauseView.as_view(), name="progress-pause"),
    path(f"{P}/progress/<str:member_id>/unpause", api.ProgressUnpauseView.as_view(), name="progress-unpause"),
    path(f"{P}/dispatch", api.ProjectDispatchView.as_view(), name="project-dispatch"),
    path(f"{P}/reviews/queue", api_quality.ProjectReviewQueueView.as_view(), name="project-review-queue"),
    path(
        "annotations/<str:annotation_id>/review", api_quality.AnnotationReviewView.as_view(), name="annotation-review"
    ),
    path("annotations/<str:annotation_id>/media", api_quality.AnnotationMediaView.as_view(), name="annotation-media"),
    path("tasks/<str:task_id>/annotations/", api_quality.TaskAnnotationListView.as_view(), name="task-annotations"),
    path(f"{P}/agreement", api_quality.ProjectAgreementView.as_view(), name="project-agreement"),
    path(f"{P}/adjudication/", api_quality.ProjectAdjudicationListView.as_view(), name="project-adjudication"),
    path("tasks/<str:task_id>/adjudicate", api_quality.TaskAdjudicateView.as_view(), name="task-adjudicate"),
    path(f"{P}/exports/", api_exports.ProjectExportListView.as_view(), name="export-list"),
    path("exports/<str:export_id>", api_exports.ExportDetailView.as_view(), name="export-detail"),
    path("exports/<str:export_id>/download", api_exports.ExportDownloadView.as_view(), name="export-download"),
    path(f"{P}/gold-accuracy", api_quality.ProjectGoldAccuracyView.as_view(), name="project-gold-accuracy"),
]
