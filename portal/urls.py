from django.contrib import admin
from django.urls import include, path

from accessgroups.api.schema import RedocView, SchemaView, SwaggerView
from accessgroups.web.errors import bad_request

# A refused query parameter says which and why (accessgroups.web.common.query_text).
handler400 = bad_request

urlpatterns = [
    path("", include(("accessgroups.web.urls", "web"), namespace="web")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("api-auth/", include("rest_framework.urls")),
    path("api/v1/", include("accessgroups.api.urls")),
    # Generated once per process, under a lock (accessgroups/api/schema.py).
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", SwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", RedocView.as_view(url_name="schema"), name="api-redoc"),
]
