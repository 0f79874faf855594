from django.urls import path

from accessgroups.web import auditor, drift, matrix

urlpatterns = [
    path("", auditor.who_has_access, name="who-has-access"),
    path("audit-log/", auditor.audit_log, name="audit-log"),
    path("matrix/", matrix.access_matrix_page, name="access-matrix"),
    path("drift/", drift.drift_page, name="drift"),
    path("drift/scan/", drift.drift_scan, name="drift-scan"),
]
