from django.urls import path

from annotation.pages import dashboards, home, judge, labelling, project, tasks

P = "projects/<uuid:project_id>"

urlpatterns = [
    path("", home.home, name="home"),
    path(f"{P}/", project.project_overview, name="project-overview"),
    path(f"{P}/dashboard", dashboards.project_dashboard, name="project-dashboard"),
    path(f"{P}/queues", project.project_queues, name="project-queues"),
    path(
        f"{P}/queues/<uuid:assignment_id>/revoke", project.project_assignment_revoke, name="project-assignment-revoke"
    ),
    path(f"{P}/tasks", tasks.project_tasks, name="project-tasks"),
    path(f"{P}/tasks/bulk", tasks.project_tasks_bulk, name="project-tasks-bulk"),
    path(f"{P}/tasks/<uuid:task_id>", tasks.project_task, name="project-task"),
    path(f"{P}/quality", project.project_quality, name="project-quality"),
    path(f"{P}/quality/judge", judge.project_judge, name="project-judge"),
    path(f"{P}/exports", project.project_exports, name="project-exports"),
    path(f"{P}/exports/<uuid:export_id>/download", project.project_export_download, name="project-export-download"),
    path(f"{P}/label", labelling.label_workspace, name="project-label"),
    path(f"{P}/review", labelling.review_workspace, name="project-review"),
    path("review/", labelling.review_queue, name="review-queue"),
    path("workforce/", dashboards.workforce, name="workforce"),
    path("workforce/export.csv", dashboards.workforce_csv, name="workforce-export"),
]
