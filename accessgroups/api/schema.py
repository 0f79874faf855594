"""The OpenAPI schema (/api/schema/) and its documentation pages (/api/docs/, /api/redoc/).

drf-spectacular resolves its extensions lazily and not thread-safely: a class-level
``target_class`` string is replaced by the class it names on first use, and two threads
doing that at once fail with a 500 (several requests at the schema right after a process
starts). Every use of the extensions here runs under one lock, and the schema is generated
once per process and kept: it depends only on the code, never on who asks.
"""

from __future__ import annotations

import threading
from typing import Any

from django.utils import translation
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)
from rest_framework.request import Request
from rest_framework.response import Response

_lock = threading.Lock()
# (api version, language) -> the schema. Only the plain schema and its translations into
# the languages of settings.LANGUAGES are kept, so that no query string can grow this
# without bound; anything else is generated for its request alone.
_schemas: dict[tuple[str | None, str], dict[str, Any]] = {}


def _cache_key(version: str | None) -> tuple[str | None, str] | None:
    if version is not None:
        return None
    try:
        return version, translation.get_supported_language_variant(translation.get_language())
    except LookupError:
        return None


class SchemaView(SpectacularAPIView):
    def _get_schema_response(self, request: Request) -> Response:
        version = self.api_version or request.version or self._get_version_parameter(request)
        # Who asks changes nothing in a public schema; a private one is not kept.
        key = _cache_key(version) if self.serve_public else None
        with _lock:
            schema = _schemas.get(key) if key else None
            if schema is None:
                generator = self.generator_class(
                    urlconf=self.urlconf, api_version=version, patterns=self.patterns
                )
                schema = generator.get_schema(request=request, public=self.serve_public)
                if key:
                    _schemas[key] = schema
        filename = self._get_filename(request, version)
        return Response(
            data=schema, headers={"Content-Disposition": f'inline; filename="{filename}"'}
        )


class SwaggerView(SpectacularSwaggerSplitView):
    """Swagger UI with its start-up script served as a file of its own (``?script``), not
    inline: the Content-Security-Policy allows no inline script."""

    template_name = "accessgroups/api_docs/swagger_ui.html"

    def _get_schema_auth_names(self) -> list[str]:
        with _lock:
            return super()._get_schema_auth_names()


class RedocView(SpectacularRedocView):
    """Redoc without the web fonts it fetches from Google by default: the docs work offline."""

    template_name = "accessgroups/api_docs/redoc.html"
