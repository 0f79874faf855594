"""The Content-Security-Policy of the portal (django-csp), with one allowance by path.

The policy itself is in settings (``CONTENT_SECURITY_POLICY``): scripts and styles from the
portal's own files only. Some pages are drawn by other projects' templates that style
elements inline: the browsable API and its sign-in page (Django REST framework) and Redoc,
which writes its styles into the page as it runs and searches in a worker it makes from a
blob. Those pages get what they need, and no more; inline script is refused everywhere.
"""

from __future__ import annotations

from typing import Any

from csp.constants import UNSAFE_INLINE
from csp.middleware import CSPMiddleware, PolicyParts
from django.http import HttpRequest, HttpResponseBase

# Path prefix -> sources added to the policy's directives there.
ALLOWANCES: dict[str, dict[str, list[str]]] = {
    "/api/v1/": {"style-src": [UNSAFE_INLINE]},
    "/api-auth/": {"style-src": [UNSAFE_INLINE]},
    "/api/redoc/": {"style-src": [UNSAFE_INLINE], "worker-src": ["blob:"]},
}


class PortalCSPMiddleware(CSPMiddleware):
    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        for prefix, allowance in ALLOWANCES.items():
            if request.path_info.startswith(prefix):
                update: dict[str, Any] = dict(parts.update or {})
                for directive, sources in allowance.items():
                    update[directive] = [*update.get(directive, ()), *sources]
                parts.update = update
        return parts
