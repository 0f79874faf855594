from django.urls import path

from accessgroups.web import tokens

urlpatterns = [
    path("my/api-tokens/", tokens.api_tokens, name="api-tokens"),
    path("my/api-tokens/<int:pk>/revoke/", tokens.api_token_revoke_own, name="api-token-revoke"),
    path("manage/api-tokens/", tokens.manage_tokens, name="manage-api-tokens"),
    path("manage/api-tokens/new/", tokens.manage_token_create, name="manage-api-token-create"),
    path(
        "manage/api-tokens/<int:pk>/revoke/",
        tokens.manage_token_revoke,
        name="manage-api-token-revoke",
    ),
    path(
        "manage/service-accounts/new/",
        tokens.manage_service_account_create,
        name="manage-service-account-create",
    ),
]
