from django.urls import path

from annotation import views

urlpatterns = [
    path("projects/<uuid:project_id>/label", views.label_workspace, name="project-label"),
    path("projects/<uuid:project_id>/review", views.review_workspace, name="project-review"),
    path("review/", views.review_queue, name="review-queue"),
]
