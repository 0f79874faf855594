"""`make run`'s command, `manage.py serve --seed-demo`, as a user runs it: twice on the same
var folder, with no broker and no AWS endpoint configured.
"""

from __future__ import annotations

import re
import signal
import sys
from pathlib import Path

import boto3
import pytest
import requests

from provisioning.fake import free_port
from tests.system.harness import Processes, descendants, pid_alive, portal_env, wait_until

pytestmark = pytest.mark.slow

DEMO_GROUPS = {"ReadOnly", "Developers", "ProductionAdmin"}
DEMO_READ_ONLY = {"alice", "bob", "carol"}  # seed_demo's READ_ONLY_MEMBERS
CREDENTIAL_LINE = re.compile(r"^\s+(alice|bob|carol|admin)\s+(\S+)\s+([0-9a-f]{40})\s", re.MULTILINE)


def fake_state(endpoint_url: str) -> dict[str, set[str]]:
    """Groups in the fake Identity Center and the usernames in each."""
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    identitystore = session.client("identitystore", endpoint_url=endpoint_url)
    store = session.client("sso-admin", endpoint_url=endpoint_url).list_instances()["Instances"][0]["IdentityStoreId"]
    usernames = {u["UserId"]: u["UserName"] for u in identitystore.list_users(IdentityStoreId=store)["Users"]}
    state = {}
    for group in identitystore.list_groups(IdentityStoreId=store)["Groups"]:
        members = identitystore.list_group_memberships(IdentityStoreId=store, GroupId=group["GroupId"])
        state[group["DisplayName"]] = {usernames.get(m["MemberId"]["UserId"], "?") for m in members["GroupMemberships"]}
    return state


def api(base_url: str, method: str, path: str, token: str, **kwargs) -> requests.Response:
    return requests.request(
        method, f"{base_url}/api/v1/{path}", headers={"Authorization": f"Token {token}"}, timeout=15, **kwargs
    )


def test_serve_runs_the_demo_twice_and_stops_cleanly(processes: Processes, tmp_path: Path) -> None:
    env = portal_env(DEBUG="1", PORTAL_VAR_DIR=str(tmp_path / "var"))
    processes.run("migrate", [sys.executable, "manage.py", "migrate", "--noinput"], env=env)
    # The second run finds the first run's rows, whose Identity Center ids are now stale.
    serve_once(processes, env, run=1, also_request=True)
    serve_once(processes, env, run=2, also_request=False)


def serve_once(processes: Processes, env: dict[str, str], *, run: int, also_request: bool) -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    # At LOG_LEVEL=DEBUG the console prints whole mails (the first run reads a link in one);
    # at INFO one line each.
    env = {**env, "LOG_LEVEL": "DEBUG" if also_request else "INFO"}
    serve = processes.start(
        f"serve-{run}", [sys.executable, "manage.py", "serve", "--seed-demo", "--port", str(port)], env=env
    )
    log = processes.wait_for_log(serve, "the portal is ready", timeout=120)
    docs = processes.wait_http(f"{base_url}/api/docs/", serve)
    assert "swagger" in docs.text.lower()

    tokens = {user: token for user, _password, token in CREDENTIAL_LINE.findall(log)}
    assert set(tokens) == {"alice", "bob", "carol", "admin"}
    for user, token in tokens.items():
        response = api(base_url, "GET", "access-groups/", token)
        assert response.status_code == 200, (user, response.text[:300])
        assert {g["name"] for g in response.json()["results"]} == DEMO_GROUPS

    # The fake started empty; the worker filled it from what seeding enqueued, through
    # the filesystem broker (and, on the second run, healed the stale stored ids).
    fake_url = re.search(r"fake Identity Center \(moto server\) at (http://\S+)", log).group(1)
    state = wait_until(
        lambda: (s := fake_state(fake_url)) and DEMO_GROUPS <= set(s) and s["ReadOnly"] == DEMO_READ_ONLY and s,
        timeout=90,
        what="the demo groups and the ReadOnly memberships in the fake Identity Center",
        interval=1,
    )
    assert state["ReadOnly"] == DEMO_READ_ONLY

    # The demo's access review, one however often seeding runs: bob decides two items
    # (alice's and carol's); his own is the admin's.
    reviews = api(base_url, "GET", "access-reviews/", tokens["bob"]).json()
    assert reviews["count"] == 1 and reviews["results"][0]["outcomes"]["pending"] == 2, reviews

    if also_request:
        # A request made over HTTP is provisioned by the worker, not in the request.
        groups = api(base_url, "GET", "access-groups/", tokens["alice"]).json()["results"]
        developers = next(g for g in groups if g["name"] == "Developers")
        created = api(
            base_url, "POST", "access-requests/", tokens["alice"],
            json={"access_group": developers["id"], "justification": "Try the demo.", "duration_hours": 2},
        )
        assert created.status_code == 201, created.text
        request_path = f"access-requests/{created.json()['id']}/"
        # The demo's Developers grants PowerUserAccess: high risk, approved with a comment.
        approved = api(
            base_url, "POST", f"{request_path}approve/", tokens["bob"], json={"comment": "demo"}
        )
        assert approved.status_code in (200, 202), approved.text
        wait_until(
            lambda: api(base_url, "GET", request_path, tokens["alice"]).json()["status"] == "active",
            timeout=90,
            what="alice's Developers request to become active",
            interval=1,
        )
        assert "alice" in fake_state(fake_url)["Developers"]
        # The mail telling her (printed whole by the console backend at DEBUG) links to
        # this server.
        processes.wait_for_log(serve, f"{base_url}/my/access/", timeout=30)
    else:
        # The run's demo users table comes after the worker's and beat's start-up lines.
        assert log.index("Connected to filesystem") < log.index("Demo users")
        assert log.index("beat: Starting") < log.index("Demo users")

    children = descendants(serve.pid)
    assert len(children) >= 4, "fake Identity Center, worker, beat and web server"
    assert processes.stop(serve, sig=signal.SIGINT, timeout=60) == 0
    leftovers = sorted(pid for pid in children if pid_alive(pid))
    assert leftovers == [], f"processes left behind: {leftovers}"
