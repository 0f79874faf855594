"""Routes of the REST API under /api/v1/ (included by portal/urls.py)."""

from rest_framework.routers import DefaultRouter

from accessgroups.api import reports, reviews, views

router = DefaultRouter()
# The format is chosen with ?format= on the reports; no `.json` / `.csv` URL suffixes.
router.include_format_suffixes = False
router.register("users", views.UserViewSet, basename="user")
router.register("accounts", views.AccountViewSet, basename="account")
router.register("access-groups", views.AccessGroupViewSet, basename="access-group")
router.register("access-requests", views.AccessRequestViewSet, basename="access-request")
router.register("memberships", views.MembershipViewSet, basename="membership")
router.register("reports/who-has-access", reports.WhoHasAccessViewSet, basename="who-has-access")
router.register("audit-events", reports.AuditEventViewSet, basename="audit-event")
router.register("access-reviews", reviews.AccessReviewViewSet, basename="access-review")
router.register(
    r"access-reviews/(?P<review_pk>[0-9]+)/items",
    reviews.AccessReviewItemViewSet,
    basename="access-review-item",
)

urlpatterns = router.urls
