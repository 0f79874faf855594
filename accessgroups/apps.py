from django.apps import AppConfig


class AccessGroupsConfig(AppConfig):
    name = "accessgroups"
    verbose_name = "Access groups"

    def ready(self) -> None:
        from allauth.mfa.signals import authenticator_added

        from accessgroups.auth.mfa import record_enrolment

        authenticator_added.connect(record_enrolment, dispatch_uid="accessgroups.mfa.enrolment")
