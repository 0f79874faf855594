from django.urls import path

from accessgroups.web import requester

urlpatterns = [
    path("", requester.catalogue, name="catalogue"),
    path("access-groups/<int:group_id>/request/", requester.request_create, name="request-create"),
    path("my/requests/", requester.my_requests, name="my-requests"),
    path("my/requests/list/", requester.my_requests_fragment, name="my-requests-fragment"),
    path("my/requests/<int:pk>/cancel/", requester.request_cancel, name="request-cancel"),
    path("my/access/", requester.my_access, name="my-access"),
    path("my/access/<int:pk>/revoke/", requester.my_access_revoke, name="my-access-revoke"),
]
