"""Make the audit log append-only in the database itself.

PostgreSQL refuses UPDATE and DELETE of audit events (TRUNCATE stays possible for the
database owner, which is how test databases are emptied). SQLite refuses UPDATE; its
DELETE stays allowed because Django empties SQLite test databases with DELETE.
"""

from django.db import migrations

PG_FORWARD = """
CREATE OR REPLACE FUNCTION accessgroups_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER accessgroups_auditevent_append_only
    BEFORE UPDATE OR DELETE ON accessgroups_auditevent
    FOR EACH ROW EXECUTE FUNCTION accessgroups_auditevent_append_only();
"""
PG_BACKWARD = """
DROP TRIGGER IF EXISTS accessgroups_auditevent_append_only ON accessgroups_auditevent;
DROP FUNCTION IF EXISTS accessgroups_auditevent_append_only();
"""
SQLITE_FORWARD = """
CREATE TRIGGER accessgroups_auditevent_append_only
BEFORE UPDATE ON accessgroups_auditevent
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only (UPDATE refused)');
END;
"""
SQLITE_BACKWARD = "DROP TRIGGER IF EXISTS accessgroups_auditevent_append_only;"


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_FORWARD)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("accessgroups", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
