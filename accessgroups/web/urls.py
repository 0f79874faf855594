"""The browser portal's pages. Each subject keeps its routes in its own module."""

from django.urls import include, path

urlpatterns = [
    path("", include("accessgroups.web.requester_urls")),
    path("", include("accessgroups.web.token_urls")),
    path("approvals/", include("accessgroups.web.approver_urls")),
    path("reports/", include("accessgroups.web.auditor_urls")),
    path("manage/", include("accessgroups.web.manage_urls")),
    path("reviews/", include("accessgroups.web.review_urls")),
]
