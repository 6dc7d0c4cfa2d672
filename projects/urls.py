from django.urls import path

from projects import api

urlpatterns = [
    path("projects/", api.ProjectListView.as_view(), name="project-list"),
    path("projects/<str:project_id>", api.ProjectDetailView.as_view(), name="project-detail"),
    path("projects/<str:project_id>/tasks/", api.TaskListView.as_view(), name="task-list"),
    path("projects/<str:project_id>/tasks/<str:task_id>", api.TaskDetailView.as_view(), name="task-detail"),
]
