from django.urls import path

from projects import pages, views

P = "projects/<uuid:project_id>"

urlpatterns = [
    path("files/<str:token>", views.object_download, name="object-download"),
    path(f"{P}/", pages.project_overview, name="project-overview"),
    path(f"{P}/settings", pages.project_settings, name="project-settings"),
    path(f"{P}/schema", pages.project_schema, name="project-schema"),
    path(f"{P}/import", pages.project_import, name="project-import"),
    path(f"{P}/queues", pages.project_queues, name="project-queues"),
    path(
        f"{P}/queues/<uuid:assignment_id>/revoke",
        pages.project_assignment_revoke,
        name="project-assignment-revoke",
    ),
    path(f"{P}/quality", pages.project_quality, name="project-quality"),
    path(f"{P}/exports", pages.project_exports, name="project-exports"),
    path(f"{P}/exports/<uuid:export_id>/download", pages.project_export_download, name="project-export-download"),
]
