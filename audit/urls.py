from django.urls import path

from audit.api import integrity as api_integrity
from audit.api import views as api

urlpatterns = [
    path("audit/verify", api_integrity.AuditVerifyView.as_view(), name="audit-verify"),
    path("audit/seal", api_integrity.AuditSealView.as_view(), name="audit-seal"),
    path("audit/checkpoints/", api_integrity.CheckpointListView.as_view(), name="audit-checkpoint-list"),
    path("audit/public-key", api_integrity.PublicKeyView.as_view(), name="audit-public-key"),
    path("audit/events/", api.AuditEventListView.as_view(), name="audit-event-list"),
    path("audit/events/export", api.AuditEventExportView.as_view(), name="audit-event-export"),
]
