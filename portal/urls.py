from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.templatetags.static import static
from django.urls import include, path
from django.views.defaults import page_not_found
from django.views.generic import RedirectView

from accessgroups.api.errors import not_found as api_not_found
from accessgroups.api.schema import RedocView, SchemaView, SwaggerView
from accessgroups.auth.mfa import login_redirect
from accessgroups.web.errors import bad_request
from portal.metrics import metrics_view

# A refused query parameter says which and why (accessgroups.web.common.query_text).
handler400 = bad_request
# allauth's limits answer 429 through this: the portal's page, with Retry-After.
handler429 = "accessgroups.auth.throttling.handler429"


def handler404(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return api_not_found(request, exception)
    return page_not_found(request, exception)


class FaviconView(RedirectView):
    """Browsers ask for /favicon.ico whatever the page says; the icon is a static SVG."""

    def get_redirect_url(self, *args, **kwargs) -> str:
        return static("favicon.svg")


urlpatterns = [
    path("favicon.ico", FaviconView.as_view(), name="favicon"),
    path("", include(("accessgroups.web.urls", "web"), namespace="web")),
    path("accounts/", include("allauth.urls")),
    # Every sign-in goes through allauth and its second factor: these two password-only
    # login pages send people there instead.
    path("admin/login/", login_redirect),
    path("api-auth/login/", login_redirect),
    path("admin/", admin.site.urls),
    path("api-auth/", include("rest_framework.urls")),
    path("api/v1/", include("accessgroups.api.urls")),
    # Generated once per process, under a lock (accessgroups/api/schema.py).
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", SwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", RedocView.as_view(url_name="schema"), name="api-redoc"),
    # Prometheus, with a bearer token (404 without METRICS_TOKEN). /healthz and /readyz are
    # answered by portal.health's middleware, before any URL is resolved.
    path("metrics", metrics_view, name="metrics"),
]
