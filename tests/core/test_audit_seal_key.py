"""The audit seal's key derivation never changes: seals already in the log must verify."""

from accessgroups.core.audit import event_seal

# Computed once with Django's salted_hmac, the salt "accessgroups.audit.event_seal" and
# SHA-256. Moving or renaming the module must not move the salt with it: every sealed event
# in a deployed log would then fail verify_audit.
SEAL_OF_GENESIS = "67f6f24990f32180c26b8eeb1e09247b9819bb5144f8c71af37b71efa3155421"


def test_the_seal_of_a_known_hash_under_a_known_secret_is_unchanged():
    assert event_seal("0" * 64, secret="a fixed secret") == SEAL_OF_GENESIS
