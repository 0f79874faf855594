"""The portal's domain: who may reach which AWS accounts, and why.

The database says what *should* be true in IAM Identity Center; provisioning/ makes it so.
Rows that have an Identity Center side carry a provisioning status and the last error.
History is never deleted: memberships are end-dated, an access group's accounts and
policies are dated versions, and audit events are append-only.
"""

# One module per subject; everything is re-exported here so that imports and migrations
# keep reading ``accessgroups.models``.
from accessgroups.models.access import (
    APPROVING_OUTCOMES,
    OPEN_STATUSES,
    AccessRequest,
    AccessRequestQuerySet,
    BreakGlassReview,
    Decision,
    DecisionOutcome,
    EndReason,
    Membership,
    MembershipExtension,
    MembershipQuerySet,
    MembershipSource,
    RequestStatus,
)
from accessgroups.models.audit import (
    AuditEvent,
)
from accessgroups.models.catalogue import (
    APPROVALS_REQUIRED_MAX,
    AccessGroup,
    AccessGroupAccount,
    AccessGroupPolicy,
    AccessGroupQuerySet,
    Account,
    AccountSource,
    AccountStatus,
    PolicyKind,
    Risk,
)
from accessgroups.models.changes import (
    ChangeAction,
    ChangeRequest,
    ChangeRequestQuerySet,
    ChangeStatus,
)
from accessgroups.models.directory import (
    GroupSync,
    IdentityCenterGroup,
    IdentityCenterGroupMember,
    IdentityCenterGroupQuerySet,
)
from accessgroups.models.drift import (
    DriftFinding,
    DriftFindingQuerySet,
    DriftKind,
    DriftResolution,
    DriftScan,
    PrincipalType,
)
from accessgroups.models.identity import (
    PortalUserManager,
    User,
)
from accessgroups.models.mail import (
    MailDelivery,
)
from accessgroups.models.organizations import (
    OrganizationalUnit,
    OrganizationsSync,
)
from accessgroups.models.provisioned import (
    Provisioned,
    ProvisioningStatus,
)
from accessgroups.models.reviews import (
    AccessReview,
    ReviewDecision,
    ReviewItem,
    ReviewOnDeadline,
    ReviewOutcome,
)
from accessgroups.models.sessions import (
    LiftReason,
    SessionRevocation,
    SessionRevocationQuerySet,
)
from accessgroups.models.tokens import (
    LAST_USE_RESOLUTION,
    ApiToken,
    ApiTokenQuerySet,
    ApiTokenState,
)

__all__ = [
    "OrganizationalUnit",
    "OrganizationsSync",
    "GroupSync",
    "IdentityCenterGroup",
    "IdentityCenterGroupMember",
    "IdentityCenterGroupQuerySet",
    "ProvisioningStatus",
    "Provisioned",
    "PortalUserManager",
    "User",
    "AccountStatus",
    "AccountSource",
    "Account",
    "AccessGroupQuerySet",
    "AccessGroup",
    "AccessGroupAccount",
    "PolicyKind",
    "Risk",
    "APPROVALS_REQUIRED_MAX",
    "AccessGroupPolicy",
    "MembershipSource",
    "EndReason",
    "MembershipQuerySet",
    "Membership",
    "MembershipExtension",
    "RequestStatus",
    "OPEN_STATUSES",
    "AccessRequestQuerySet",
    "AccessRequest",
    "DecisionOutcome",
    "APPROVING_OUTCOMES",
    "BreakGlassReview",
    "Decision",
    "AuditEvent",
    "ReviewOnDeadline",
    "AccessReview",
    "ReviewDecision",
    "ReviewOutcome",
    "ReviewItem",
    "MailDelivery",
    "ApiTokenState",
    "ApiTokenQuerySet",
    "ApiToken",
    "LAST_USE_RESOLUTION",
    "LiftReason",
    "SessionRevocationQuerySet",
    "SessionRevocation",
    "DriftKind",
    "DriftResolution",
    "PrincipalType",
    "DriftFindingQuerySet",
    "DriftFinding",
    "DriftScan",
    "ChangeAction",
    "ChangeStatus",
    "ChangeRequestQuerySet",
    "ChangeRequest",
]
