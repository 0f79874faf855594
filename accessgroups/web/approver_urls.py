from django.urls import path

from accessgroups.web import approver

urlpatterns = [
    path("", approver.approvals, name="approvals"),
    path("requests/<int:pk>/approve/", approver.request_approve, name="request-approve"),
    path("requests/<int:pk>/reject/", approver.request_reject, name="request-reject"),
    path("memberships/<int:pk>/revoke/", approver.membership_revoke, name="approvals-revoke"),
]
