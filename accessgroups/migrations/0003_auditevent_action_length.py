"""Widen AuditEvent.action to fit "identity_center." plus Identity Center's longest operation
names (e.g. DetachCustomerManagedPolicyReferenceFromPermissionSet).

On SQLite, Django alters a column by rebuilding the table, which drops the append-only
trigger of 0002; it is created again here. PostgreSQL alters the column in place and keeps
its trigger.
"""

from django.db import migrations, models

SQLITE_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS accessgroups_auditevent_append_only
BEFORE UPDATE ON accessgroups_auditevent
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only (UPDATE refused)');
END;
"""


def restore_sqlite_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(SQLITE_TRIGGER)


class Migration(migrations.Migration):
    dependencies = [("accessgroups", "0002_auditevent_append_only")]

    operations = [
        migrations.AlterField(model_name="auditevent", name="action", field=models.CharField(max_length=128)),
        migrations.RunPython(restore_sqlite_trigger, migrations.RunPython.noop),
    ]
