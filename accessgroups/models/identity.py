"""People: portal users, their roles and their Identity Center user."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import F
from django.db.models.functions import Lower
from django.utils import timezone

from accessgroups.core import compiled
from accessgroups.core.roles import ADMIN, AUDITOR
from accessgroups.models.provisioned import Provisioned, ProvisioningStatus


def _by_pk(pk: int) -> models.QuerySet[User]:
    return User.objects.filter(pk=pk).order_by()


class PortalUserManager(UserManager):
    def get(self, *args, **kwargs) -> User:
        """``User.objects.get(pk=...)``, which Django's auth backends ask on every signed-in
        request (``ModelBackend.get_user``), with its SQL built once per process; any other
        get, and the managers of relations (subclasses of this one), as the ORM does."""
        pk = kwargs.get("pk")
        if (
            type(self) is PortalUserManager
            and self.model is User  # not a migration's historical model
            and self._db is None
            and not args
            and len(kwargs) == 1
            and type(pk) is int
        ):
            found = compiled.instances("user by pk", _by_pk, (pk,))
            if found:
                return found[0]
            raise self.model.DoesNotExist(
                f"{self.model._meta.object_name} matching query does not exist."
            )
        return super().get(*args, **kwargs)

    def get_by_natural_key(self, username: str) -> User:
        # Sign-in accepts the username; email look-ups go through for_email().
        return self.get(**{self.model.USERNAME_FIELD: username})

    def for_email(self, email: str) -> models.QuerySet[User]:
        return self.filter(email__iexact=email.strip())

    def create_superuser(self, username, email=None, password=None, **extra_fields):
        # `createsuperuser --noinput` gives only username, email and password; a
        # superuser can be onboarded into Identity Center once names are filled in.
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser, Provisioned):
    first_name = None  # type: ignore[assignment]
    last_name = None  # type: ignore[assignment]

    email = models.EmailField("email address")
    given_name = models.CharField(max_length=64, blank=True)
    family_name = models.CharField(max_length=64, blank=True)
    display_name = models.CharField(max_length=128, blank=True)
    is_auditor = models.BooleanField(default=False)
    is_portal_admin = models.BooleanField(default=False)
    # An API client, not a person: only identity.services.service_account_create sets it, on
    # a user it creates. It cannot sign in, and it is the only kind of user an admin may
    # create API tokens for (people create their own, after a second factor).
    is_service_account = models.BooleanField(default=False)

    identity_center_user_id = models.CharField(max_length=64, blank=True)
    # The identity provider's own id for this person (OIDC ``sub``, SAML NameID, SCIM
    # externalId): how IDENTITY_MATCH=external_id finds their identity store user.
    external_id = models.CharField(max_length=255, blank=True)
    # A user is onboarded into Identity Center only when the portal is asked to (the
    # onboarding API, or their first granted access); demo and local-only users are not.
    onboarding_requested = models.BooleanField(default=False)

    objects = PortalUserManager()

    REQUIRED_FIELDS = ["email"]

    class Meta:
        ordering = ["username"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_unique_ci"),
        ]

    def __str__(self) -> str:
        return self.username

    @property
    def is_admin(self) -> bool:
        return self.is_active and (self.is_superuser or self.is_portal_admin)

    @property
    def can_audit(self) -> bool:
        return self.is_active and (self.is_auditor or self.is_admin)

    @property
    def roles(self) -> list[str]:
        roles = []
        if self.is_auditor:
            roles.append(AUDITOR)
        if self.is_portal_admin or self.is_superuser:
            roles.append(ADMIN)
        return roles

    @property
    def effective_display_name(self) -> str:
        return self.display_name or f"{self.given_name} {self.family_name}".strip()

    def missing_identity_fields(self) -> list[str]:
        """Fields Identity Center requires that this user lacks."""
        return [f for f in ("email", "given_name", "family_name") if not getattr(self, f)]

    def store_identity_center_id(self, user_id: str) -> None:
        """Keep the Identity Center UserId found, created or imported for this user.

        The row then says the user is onboarded too, unless a provisioning task holds it and
        will say so itself.
        """
        User.objects.filter(pk=self.pk).update(identity_center_user_id=user_id)
        self.identity_center_user_id = user_id
        User.objects.filter(pk=self.pk).exclude(
            provisioning_status__in=(ProvisioningStatus.IN_SYNC, ProvisioningStatus.PROVISIONING)
        ).update(
            provisioning_status=ProvisioningStatus.IN_SYNC,
            synced_generation=F("generation"),
            last_error="",
            onboarding_requested=True,
            provisioned_at=timezone.now(),
        )
