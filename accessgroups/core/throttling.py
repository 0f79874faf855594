"""Request limits: the rate syntax of the settings, and the client address limits count.

Sign-in limits (allauth) and API throttles (DRF) read their rates from the environment in
one syntax, and count "per client address" by one rule, so that an operator sets each
once and both surfaces agree (docs/authentication.md, "Limits on signing in and the API").

This module imports nothing from Django at import time: portal/settings.py parses rates
with it.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.http import HttpRequest

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_WORDS = {"sec": "s", "second": "s", "min": "m", "minute": "m", "hour": "h", "day": "d"}
_RATE = re.compile(r"\s*(\d+)\s*/\s*(\d*)\s*([a-z]+)\s*")
RATE_SYNTAX = (
    "COUNT/PERIOD, the period a unit (s, m, h, d, second, minute, hour, day) with an "
    "optional number before it: '120/minute', '5/15m'"
)


@dataclass(frozen=True)
class Rate:
    count: int
    seconds: int

    def __str__(self) -> str:
        return f"{self.count}/{self.seconds}s"


def parse_rate(value: str) -> Rate:
    """'120/minute' -> Rate(120, 60); '5/15m' -> Rate(5, 900). ValueError saying why if not."""
    match = _RATE.fullmatch(value.lower())
    unit = match and _WORDS.get(match.group(3), match.group(3))
    if not match or unit not in _UNITS:
        raise ValueError(f"{value!r} is not a rate: write {RATE_SYNTAX}.")
    count, multiple = int(match.group(1)), int(match.group(2) or 1)
    if count < 1 or multiple < 1:
        raise ValueError(f"{value!r}: the count and the period must be at least 1.")
    return Rate(count, multiple * _UNITS[unit])


def _clean_address(value: str) -> str | None:
    """An IP address from a header entry ('203.0.113.9', '[2001:db8::1]:443'), or None."""
    value = value.strip()
    if value.startswith("[") and "]" in value:
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:
        value = value.partition(":")[0]  # IPv4 with a port, as some balancers append it
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def client_address(request: HttpRequest) -> str:
    """The address of the client that sent the request, "" when there is none.

    With ``TRUSTED_PROXY_COUNT`` = 0 (the default) it is REMOTE_ADDR and X-Forwarded-For is
    ignored: anyone can write that header. Behind N proxies that each append the address
    they received the request from, the client is the N-th entry from the right; entries
    further left were written by the client and are never read. A header shorter than N
    (a request that skipped the outer proxies) gives its leftmost entry, as DRF does.
    """
    from django.conf import settings

    remote = request.META.get("REMOTE_ADDR") or ""
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if proxies > 0:
        entries = [e for e in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if e.strip()]
        if entries:
            found = _clean_address(entries[-min(proxies, len(entries))])
            if found:
                return found
    return _clean_address(remote) or remote


def address_for_limits(request: HttpRequest) -> str:
    """The client address as limits count it: an IPv6 client by its /64, as allauth does.

    One IPv6 subscriber usually holds a whole /64; counting single addresses would give
    them 2**64 fresh allowances.
    """
    from django.conf import settings

    address = client_address(request)
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        prefix = getattr(settings, "ALLAUTH_RATE_LIMIT_IPV6_PREFIX", 64)
        return str(ipaddress.IPv6Network(f"{parsed}/{prefix}", strict=False).network_address)
    return address
