from django.urls import path

from annotation.api import chat as api_chat
from annotation.api import chat_review as api_chat_review
from annotation.api import exports as api_exports
from annotation.api import judge as api_judge
from annotation.api import quality as api_quality
from annotation.api import suggestions as api_suggestions
from annotation.api import views as api

A = "assignments/<str:assignment_id>"
P = "projects/<str:project_id>"
# The same assignment as A, named apart so the isolation suites can address a lease on a project with a chat field.
CHAT = "assignments/<str:chat_assignment_id>/chat"

urlpatterns = [
    path("projects/<str:project_id>/next", api.ProjectNextView.as_view(), name="project-next"),
    path("projects/<str:project_id>/assignments/", api.ProjectAssignmentListView.as_view(), name="project-assignments"),
    path(f"{A}/heartbeat", api.AssignmentHeartbeatView.as_view(), name="assignment-heartbeat"),
    path(f"{A}/submit", api.AssignmentSubmitView.as_view(), name="assignment-submit"),
    path(f"{A}/skip", api.AssignmentSkipView.as_view(), name="assignment-skip"),
    path(f"{A}/release", api.AssignmentReleaseView.as_view(), name="assignment-release"),
    path(f"{A}/revoke", api.AssignmentRevokeView.as_view(), name="assignment-revoke"),
    path(f"{A}/media", api.AssignmentMediaView.as_view(), name="assignment-media"),
    path(f"{CHAT}/<str:field_name>", api_chat.ChatConversationView.as_view(), name="assignment-chat"),
    path(f"{CHAT}/<str:field_name>/turns", api_chat.ChatTurnView.as_view(), name="assignment-chat-turns"),
    path(
        f"{CHAT}/<str:field_name>/messages/<str:message_id>/regenerate",
        api_chat.ChatRegenerateView.as_view(),
        name="assignment-chat-regenerate",
    ),
    path(
        f"{CHAT}/<str:field_name>/messages/<str:message_id>/edit",
        api_chat.ChatEditView.as_view(),
        name="assignment-chat-edit",
    ),
    path(
        "conversations/<str:conversation_id>",
        api_chat_review.ConversationDetailView.as_view(),
        name="conversation-detail",
    ),
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
    path("judge-runs/<str:judge_run_id>", api_judge.JudgeRunDetailView.as_view(), name="judge-run-detail"),
    path(
        f"{P}/suggestion-jobs/",
        api_suggestions.ProjectSuggestionJobListView.as_view(),
        name="project-suggestion-jobs",
    ),
    path(
        "suggestion-jobs/<str:suggestion_job_id>",
        api_suggestions.SuggestionJobDetailView.as_view(),
        name="suggestion-job-detail",
    ),
    path(
        "suggestion-jobs/<str:suggestion_job_id>/resume",
        api_suggestions.SuggestionJobResumeView.as_view(),
        name="suggestion-job-resume",
    ),
]
