from django.apps import AppConfig


class AccessGroupsConfig(AppConfig):
    name = "accessgroups"
    verbose_name = "Access groups"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from accessgroups.auth.sessions import record_sign_in

        # Every way of signing in (allauth's pages, SSO, the admin's and the browsable API's
        # own) ends in Django's login(), which sends this: the session's clocks start there.
        user_logged_in.connect(record_sign_in, dispatch_uid="accessgroups.record_sign_in")
