from django.urls import path

from accessgroups.web import changes, directory, manage

urlpatterns = [
    path("accounts/", manage.accounts, name="manage-accounts"),
    path("accounts/sync/", manage.accounts_sync, name="manage-accounts-sync"),
    path("users/", manage.users, name="manage-users"),
    path("users/<int:pk>/deactivate/", manage.user_deactivate, name="manage-user-deactivate"),
    path("users/<int:pk>/retry/", manage.user_retry, name="manage-user-retry"),
    path("groups/", manage.groups, name="manage-groups"),
    path("groups/new/", manage.group_create, name="manage-group-create"),
    path("groups/<int:pk>/", manage.group_detail, name="manage-group-detail"),
    path("groups/<int:pk>/edit/", manage.group_edit, name="manage-group-edit"),
    path("groups/<int:pk>/archive/", manage.group_archive, name="manage-group-archive"),
    path("groups/<int:pk>/retry/", manage.group_retry, name="manage-group-retry"),
    path("change-requests/", changes.change_list, name="manage-change-requests"),
    path("change-requests/<int:pk>/", changes.change_detail, name="manage-change-request"),
    path(
        "change-requests/<int:pk>/approve/",
        changes.change_approve,
        name="manage-change-request-approve",
    ),
    path(
        "change-requests/<int:pk>/reject/", changes.change_reject, name="manage-change-request-reject"
    ),
    path(
        "change-requests/<int:pk>/withdraw/",
        changes.change_withdraw,
        name="manage-change-request-withdraw",
    ),
    path("provisioning/", manage.provisioning, name="manage-provisioning"),
    path(
        "identity-center-groups/",
        directory.groups_page,
        name="manage-identity-center-groups",
    ),
    path(
        "identity-center-groups/refresh/",
        directory.groups_refresh,
        name="manage-identity-center-groups-refresh",
    ),
    path(
        "memberships/<int:pk>/retry/", manage.membership_retry, name="manage-membership-retry"
    ),
]
