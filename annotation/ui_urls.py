from django.urls import path

from annotation.pages import home, labelling, project

P = "projects/<uuid:project_id>"

urlpatterns = [
    path("", home.home, name="home"),
    path(f"{P}/", project.project_overview, name="project-overview"),
    path(f"{P}/queues", project.project_queues, name="project-queues"),
    path(
        f"{P}/queues/<uuid:assignment_id>/revoke", project.project_assignment_revoke, name="project-assignment-revoke"
    ),
    path(f"{P}/quality", project.project_quality, name="project-quality"),
    path(f"{P}/exports", project.project_exports, name="project-exports"),
    path(f"{P}/exports/<uuid:export_id>/download", project.project_export_download, name="project-export-download"),
    path(f"{P}/label", labelling.label_workspace, name="project-label"),
    path(f"{P}/review", labelling.review_workspace, name="project-review"),
    path("review/", labelling.review_queue, name="review-queue"),
]
