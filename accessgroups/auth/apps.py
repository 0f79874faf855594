"""allauth's apps under names that say what they hold in Django admin.

allauth calls its sign-in app "Accounts", which sat beside the portal's AWS accounts (in
"Access groups") as a second "Accounts" section holding email addresses. Only the names
shown change: the labels, tables and migrations stay allauth's.
"""

from __future__ import annotations

from allauth.account.apps import AccountConfig
from allauth.mfa.apps import MFAConfig
from allauth.socialaccount.apps import SocialAccountConfig


class SignInConfig(AccountConfig):
    verbose_name = "Sign-in email addresses"


class SingleSignOnConfig(SocialAccountConfig):
    verbose_name = "Single sign-on identities"


class TwoFactorConfig(MFAConfig):
    verbose_name = "Two-factor authentication"
