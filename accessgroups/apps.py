from django.apps import AppConfig


class AccessGroupsConfig(AppConfig):
    name = "accessgroups"
    verbose_name = "Access groups"
