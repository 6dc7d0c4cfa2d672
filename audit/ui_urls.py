from django.urls import path

from audit import pages

urlpatterns = [
    path("audit/", pages.audit_trail, name="audit"),
    path("audit/verify", pages.audit_trail_verify, name="audit-verify"),
]
