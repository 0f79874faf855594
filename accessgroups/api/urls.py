"""Routes of the REST API under /api/v1/ (included by portal/urls.py)."""

from rest_framework.routers import DefaultRouter

from accessgroups.api import (
    access_groups,
    access_requests,
    accounts,
    audit_events,
    change_requests,
    drift,
    identity_center_groups,
    memberships,
    organizational_units,
    reports,
    review_items,
    reviews,
    users,
)

router = DefaultRouter()
# The format is chosen with ?format= on the reports; no `.json` / `.csv` URL suffixes.
router.include_format_suffixes = False
router.register("users", users.UserViewSet, basename="user")
router.register("accounts", accounts.AccountViewSet, basename="account")
router.register("access-groups", access_groups.AccessGroupViewSet, basename="access-group")
router.register("access-requests", access_requests.AccessRequestViewSet, basename="access-request")
router.register("change-requests", change_requests.ChangeRequestViewSet, basename="change-request")
router.register("memberships", memberships.MembershipViewSet, basename="membership")
router.register("reports/who-has-access", reports.WhoHasAccessViewSet, basename="who-has-access")
router.register("audit-events", audit_events.AuditEventViewSet, basename="audit-event")
router.register(
    "organizational-units",
    organizational_units.OrganizationalUnitViewSet,
    basename="organizational-unit",
)
router.register("drift", drift.DriftFindingViewSet, basename="drift-finding")
router.register(
    "identity-center-groups",
    identity_center_groups.IdentityCenterGroupViewSet,
    basename="identity-center-group",
)
router.register("access-reviews", reviews.AccessReviewViewSet, basename="access-review")
router.register(
    r"access-reviews/(?P<review_pk>[0-9]+)/items",
    review_items.AccessReviewItemViewSet,
    basename="access-review-item",
)

urlpatterns = router.urls
