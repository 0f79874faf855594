"""API throttles: per signed-in user (token or session) and per anonymous client address.

DRF's own classes with two changes: the client address is the portal's rule
(accessgroups.core.throttling.client_address, TRUSTED_PROXY_COUNT) instead of DRF's, which
without NUM_PROXIES trusts whatever X-Forwarded-For a client writes; and the rate is read
when a request comes, in the portal's syntax ('120/minute', '5/15m'), not frozen when DRF
is imported. The history lives in Django's default cache, which the settings make shared
(Redis, else the database), so the limit holds across processes and replicas. A refused
call gets 429 with Retry-After from DRF.
"""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from accessgroups.core.throttling import address_for_limits, parse_rate


class _PortalRate:
    scope: str

    def get_rate(self) -> str:
        # DRF's THROTTLE_RATES is bound when rest_framework.throttling is imported; this
        # reads the setting as it is now.
        return api_settings.DEFAULT_THROTTLE_RATES[self.scope]

    def parse_rate(self, rate: str | None) -> tuple[int | None, int | None]:
        if rate is None:
            return None, None
        parsed = parse_rate(rate)
        return parsed.count, parsed.seconds

    def get_ident(self, request) -> str:
        return address_for_limits(request)


class UserThrottle(_PortalRate, UserRateThrottle):
    """Signed-in callers, by user: a token and a browser session of one person count together."""

    def get_cache_key(self, request, view) -> str | None:
        if not (request.user and request.user.is_authenticated):
            return None  # AnonThrottle counts these
        return super().get_cache_key(request, view)


class AnonThrottle(_PortalRate, AnonRateThrottle):
    """Callers without credentials, by client address."""
