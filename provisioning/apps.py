from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    name = "provisioning"
    verbose_name = "Identity Center provisioning"

    def ready(self) -> None:
        # The domain asks for syncs through its port and never imports provisioning: this is
        # where the port learns which task brings each kind of row in line.
        from accessgroups.core import sync
        from accessgroups.models import AccessGroup, Membership, User
        from provisioning.tasks import (
            access_group_sync_task,
            accounts_sync_task,
            drift_scan_task,
            group_sync_task,
            membership_sync_task,
            user_onboard_task,
        )

        sync.register(User, user_onboard_task)
        sync.register(AccessGroup, access_group_sync_task)
        sync.register(Membership, membership_sync_task)
        sync.register(sync.ACCOUNTS, accounts_sync_task)
        sync.register(sync.DRIFT_SCAN, drift_scan_task)
        sync.register(sync.GROUP_SYNC, group_sync_task)
