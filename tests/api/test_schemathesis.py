"""The schema tells the truth: schemathesis against a live portal finds nothing.

Every operation of /api/schema/, with all of schemathesis's checks (undocumented status
codes, responses that break their schema, invalid requests accepted, valid ones refused,
server errors, deleted rows still served...), once as an admin and once as a requester, over
data that gives the ids something real to hit. It runs the schemathesis command itself, the
way a client of the API would, with tests/api/schemathesis.toml (bounded and
deterministic) and the failures it may drop, each with its reason, in schemathesis_hooks.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# A run takes one to two minutes; the bound leaves room for a loaded machine.
RUN_TIMEOUT = 280


@pytest.fixture
def portal(alice, carol, dave, erin, readonly, limited, make_account, in_a_week):
    """Rows for every resource to hit: accounts, two groups that bob approves, active
    memberships, pending requests (one of them alice's), an open review with items."""
    from accessgroups.access.services import (
        access_request_create,
        membership_activated,
        membership_grant,
    )
    from accessgroups.reviews.services import access_review_open

    make_account("staging")
    for user, group in ((carol, readonly), (erin, readonly), (alice, limited)):
        membership = membership_grant(
            user=user, access_group=group, granted_by=dave, justification="on call"
        )
        membership_activated(membership_id=membership.pk)
    access_request_create(requester=alice, access_group=readonly, justification="debugging")
    access_request_create(
        requester=erin, access_group=limited, justification="release", duration_hours=4
    )
    access_review_open(opened_by=carol, access_group=readonly, deadline=in_a_week)


@pytest.fixture
def unthrottled(settings):
    """Rates no run reaches: the run tests the schema, not the limits (tests/api/
    test_throttling.py does), and a 429, which every operation documents, tells nothing."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "1000000/minute", "anon": "1000000/minute"},
    }


@pytest.mark.timeout(RUN_TIMEOUT + 20)
@pytest.mark.parametrize("persona", ["dave", "alice"])
def test_schemathesis_finds_no_failure(
    request, live_server, unthrottled, portal, token_for, persona
):
    user = request.getfixturevalue(persona)
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "run",
        f"{live_server.url}/api/schema/",
        "--checks",
        "all",
        "--header",
        f"Authorization: Token {token_for(user)}",
        # The test server answers in two writes; on a kept-alive connection the second waits
        # for a delayed ACK (Nagle), 40 ms a request. A closed connection is flushed at once.
        "--header",
        "Connection: close",
        "--no-color",
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": str(HERE / "schemathesis_hooks.py")}
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-30000:]
    # Every operation of the schema was tested, none filtered out or skipped.
    selected = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", report)
    assert selected, report[-5000:]
    assert selected[1] == selected[2] == selected[3], selected[0]
