from django.urls import path

from projects.api import imports as api_imports
from projects.api import media as api_media
from projects.api import views as api

urlpatterns = [
    path("projects/", api.ProjectListView.as_view(), name="project-list"),
    path("projects/<str:project_id>", api.ProjectDetailView.as_view(), name="project-detail"),
    path("projects/<str:project_id>/schema-versions/", api.SchemaVersionListView.as_view(), name="schema-versions"),
    path("label-schemas/from-label-studio", api.LabelStudioConvertView.as_view(), name="label-studio-convert"),
    path("projects/<str:project_id>/tasks/", api.TaskListView.as_view(), name="task-list"),
    path("projects/<str:project_id>/tasks/<str:task_id>", api.TaskDetailView.as_view(), name="task-detail"),
    path("projects/<str:project_id>/media/", api_media.ProjectMediaView.as_view(), name="media-upload"),
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
