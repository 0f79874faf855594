"""Give audit events a seal: an HMAC of their hash under a key derived from SECRET_KEY.

Existing events keep an empty seal. Sealing them now would vouch for whatever the table
holds today, and the append-only trigger refuses the UPDATE anyway; verify_audit accepts
unsealed events only before the first sealed one. PostgreSQL adds the column in place (no
row is rewritten, no trigger fires). SQLite adds a column with a default by rebuilding the
table, which drops the append-only trigger of 0002; it is created again here, as in 0003.
"""

from importlib import import_module

from django.db import migrations, models

restore_sqlite_trigger = import_module(
    "accessgroups.migrations.0003_auditevent_action_length"
).restore_sqlite_trigger


class Migration(migrations.Migration):
    dependencies = [("accessgroups", "0007_mail_delivery")]

    operations = [
        # Unapplied, the column goes by the same rebuild: the trigger comes back after it.
        migrations.RunPython(migrations.RunPython.noop, restore_sqlite_trigger),
        migrations.AddField(
            model_name="auditevent",
            name="seal",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.RunPython(restore_sqlite_trigger, migrations.RunPython.noop),
    ]
