"""Passwords are hashed as Django hashes them (PBKDF2-SHA256, its iterations, its encoding),
with the key derived by `cryptography` (accessgroups.auth.hashers): either hasher checks
what the other made. The test settings hash with MD5 for speed; these tests put the
production list back."""

from __future__ import annotations

import pytest
from django.contrib.auth import hashers as django_hashers
from django.test import override_settings

import portal.settings as production
from accessgroups.auth.hashers import PBKDF2PasswordHasher
from tests.auth.test_local_login import PASSWORD, sign_in, signed_in_as

DJANGO = django_hashers.PBKDF2PasswordHasher()
OURS = PBKDF2PasswordHasher()


@pytest.mark.parametrize(
    "password", ["", "correct horse battery staple", "pässwörd € 密码", "x" * 4096, "a$b\0c"]
)
@pytest.mark.parametrize("salt", ["s", "TuNPnDCmtSdJ9rxdLzAYIK", "sel-€"])
@pytest.mark.parametrize("iterations", [1, 2, 1000])
def test_the_hash_is_djangos_byte_for_byte(password, salt, iterations):
    assert OURS.encode(password, salt, iterations) == DJANGO.encode(password, salt, iterations)


def test_by_default_it_makes_djangos_hash_with_djangos_iterations():
    encoded = OURS.encode("secret", "TuNPnDCmtSdJ9rxdLzAYIK")

    assert encoded.startswith(f"pbkdf2_sha256${DJANGO.iterations}$TuNPnDCmtSdJ9rxdLzAYIK$")
    assert DJANGO.verify("secret", encoded)


@override_settings(PASSWORD_HASHERS=production.PASSWORD_HASHERS)
def test_production_hashes_with_it_and_checks_every_kind_django_checks():
    by_algorithm = django_hashers.get_hashers_by_algorithm()
    # One hasher per name: a second pbkdf2_sha256 later in the list would replace it.
    assert len(by_algorithm) == len(production.PASSWORD_HASHERS)
    assert type(by_algorithm["pbkdf2_sha256"]) is PBKDF2PasswordHasher
    assert type(django_hashers.get_hasher()) is PBKDF2PasswordHasher

    made_by_django = DJANGO.encode("secret", "TuNPnDCmtSdJ9rxdLzAYIK", 1000)
    assert django_hashers.check_password("secret", made_by_django)
    assert not django_hashers.check_password("Secret", made_by_django)
    sha1 = django_hashers.PBKDF2SHA1PasswordHasher().encode("secret", "salt", 1000)
    assert django_hashers.check_password("secret", sha1)


@pytest.mark.django_db
@override_settings(PASSWORD_HASHERS=production.PASSWORD_HASHERS)
def test_signing_in_checks_a_django_hash_and_upgrades_it_to_one_django_checks(client, alice):
    alice.password = DJANGO.encode(PASSWORD, "TuNPnDCmtSdJ9rxdLzAYIK", 1000)
    alice.save(update_fields=["password"])

    assert sign_in(client, "alice", "not the password").status_code == 200
    assert sign_in(client, "alice").status_code == 302
    assert signed_in_as(client) == alice

    alice.refresh_from_db()
    algorithm, iterations, salt, _ = alice.password.split("$")
    assert (algorithm, int(iterations)) == ("pbkdf2_sha256", DJANGO.iterations)
    assert salt != "TuNPnDCmtSdJ9rxdLzAYIK"  # hashed again, with a new salt
    assert DJANGO.verify(PASSWORD, alice.password)
