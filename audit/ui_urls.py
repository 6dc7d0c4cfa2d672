from django.urls import path

from audit import views

urlpatterns = [
    path("audit/", views.audit_trail, name="audit"),
    path("audit/verify", views.audit_trail_verify, name="audit-verify"),
]
