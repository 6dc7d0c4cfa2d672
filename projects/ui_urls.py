from django.urls import path

from projects import pages
from projects.api import downloads

P = "projects/<uuid:project_id>"

urlpatterns = [
    path("files/<str:token>", downloads.object_download, name="object-download"),
    path(f"{P}/settings", pages.project_settings, name="project-settings"),
    path(f"{P}/schema", pages.project_schema, name="project-schema"),
    path(f"{P}/import", pages.project_import, name="project-import"),
]
