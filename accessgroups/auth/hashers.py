"""Passwords hashed as Django hashes them, in half the CPU.

Django's default hasher (PBKDF2-HMAC-SHA256, 1,000,000 iterations) derives the key with
``hashlib.pbkdf2_hmac``, through the OpenSSL that Python was built with. OpenSSL 3.0 calls
its MAC interface once per iteration, and a sign-in spent about 0.23 s of CPU on the
check (docs/performance.md). ``cryptography`` derives the same key through the OpenSSL it
ships, about twice as fast on the same machine.

Nothing else changes: the algorithm name, the iterations, the salt and the encoded hash
are Django's, byte for byte, so a hash made by either hasher is checked by the other, and
Django's own upgrade rules (``must_update``, ``harden_runtime``) apply as they are. An
attacker's cost is that of PBKDF2 itself, which is unchanged.
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from django.contrib.auth import hashers
from django.utils.encoding import force_bytes


class PBKDF2PasswordHasher(hashers.PBKDF2PasswordHasher):
    """Django's ``pbkdf2_sha256`` hasher with the key derived by ``cryptography``."""

    def encode(self, password: str, salt: str, iterations: int | None = None) -> str:
        self._check_encode_args(password, salt)
        iterations = iterations or self.iterations
        derived = PBKDF2HMAC(
            algorithm=SHA256(),
            length=self.digest().digest_size,
            salt=force_bytes(salt),
            iterations=iterations,
        ).derive(force_bytes(password))
        hash = base64.b64encode(derived).decode("ascii").strip()
        return "%s$%d$%s$%s" % (self.algorithm, iterations, salt, hash)
