"""What the ``estate`` fixture (tests/conftest.py) builds its access groups from."""

from __future__ import annotations

INLINE = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"], "Resource": "*"}
    ],
}
DESCRIPTION = "Builds things — für Entwickler 🚀\nSecond line: ask #platform first.\n"
