from django.apps import AppConfig
from django.core.management import call_command
from django.db.models.signals import post_migrate


def create_cache_table(*, using: str = "default", verbosity: int = 1, **kwargs) -> None:
    """After every migrate: the database cache's table, when the settings use one.

    Sign-in limits and API throttles live in the cache (settings, "shared cache"); without
    Redis it is a table, which `migrate` alone would not make. Doing it here keeps
    `make run`, docker-compose's migrate and the system tests one command each.
    createcachetable does nothing for other backends or a table that exists.
    """
    call_command("createcachetable", database=using, verbosity=verbosity)


class AccessGroupsConfig(AppConfig):
    name = "accessgroups"
    verbose_name = "Access groups"

    def ready(self) -> None:
        from allauth.mfa.signals import authenticator_added
        from django.contrib.auth.signals import user_logged_in

        from accessgroups.auth.mfa import record_enrolment
        from accessgroups.auth.sessions import record_sign_in

        authenticator_added.connect(record_enrolment, dispatch_uid="accessgroups.mfa.enrolment")
        # Every way of signing in (allauth's pages, SSO) ends in Django's login(), which sends
        # this: the session's clocks start there.
        user_logged_in.connect(record_sign_in, dispatch_uid="accessgroups.record_sign_in")
        post_migrate.connect(create_cache_table, sender=self)
