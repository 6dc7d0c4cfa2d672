from django.urls import path

from projects import api, api_exports, api_imports

urlpatterns = [
    path("projects/", api.ProjectListView.as_view(), name="project-list"),
    path("projects/<str:project_id>", api.ProjectDetailView.as_view(), name="project-detail"),
    path("projects/<str:project_id>/schema-versions/", api.SchemaVersionListView.as_view(), name="schema-versions"),
    path("label-schemas/from-label-studio", api.LabelStudioConvertView.as_view(), name="label-studio-convert"),
    path("projects/<str:project_id>/tasks/", api.TaskListView.as_view(), name="task-list"),
    path("projects/<str:project_id>/tasks/<str:task_id>", api.TaskDetailView.as_view(), name="task-detail"),
    path("projects/<str:project_id>/exports/", api_exports.ProjectExportListView.as_view(), name="export-list"),
    path("exports/<str:export_id>", api_exports.ExportDetailView.as_view(), name="export-detail"),
    path("exports/<str:export_id>/download", api_exports.ExportDownloadView.as_view(), name="export-download"),
    path("projects/<str:project_id>/media/", api_exports.ProjectMediaView.as_view(), name="media-upload"),
    path("assignments/<str:assignment_id>/media", api_exports.AssignmentMediaView.as_view(), name="assignment-media"),
    path("projects/<str:project_id>/imports/", api_imports.ProjectImportListView.as_view(), name="import-list"),
    path("imports/<str:import_id>", api_imports.ImportDetailView.as_view(), name="import-detail"),
    path("imports/<str:import_id>/cancel", api_imports.ImportCancelView.as_view(), name="import-cancel"),
    path("storage-connections/", api_imports.StorageConnectionListView.as_view(), name="storage-connection-list"),
    path(
        "storage-connections/<str:connection_id>",
        api_imports.StorageConnectionDetailView.as_view(),
        name="storage-connection-detail",
    ),
]
