from django.urls import path

from accessgroups.web import approver, break_glass

urlpatterns = [
    path("", approver.approvals, name="approvals"),
    path("access/", approver.approvals_access, name="approvals-access"),
    path("decisions/", approver.approvals_decisions, name="approvals-decisions"),
    path("requests/<int:pk>/approve/", approver.request_approve, name="request-approve"),
    path("requests/<int:pk>/reject/", approver.request_reject, name="request-reject"),
    path("memberships/<int:pk>/revoke/", approver.membership_revoke, name="approvals-revoke"),
    path("requests/<int:pk>/acknowledge/", break_glass.break_glass_acknowledge, name="break-glass-acknowledge"),
    path("requests/<int:pk>/break-glass-revoke/", break_glass.break_glass_revoke, name="break-glass-revoke"),
]
