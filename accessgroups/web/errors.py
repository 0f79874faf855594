"""The portal's own 400 page: it says what was wrong when the portal knows."""

from __future__ import annotations

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.template import loader


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    # Only the portal's own refusals are shown; any other reason stays in the logs.
    reason = str(exception) if type(exception) is BadRequest else ""
    return HttpResponseBadRequest(loader.render_to_string("400.html", {"reason": reason}, request))
