"""The load test's personas (bench/load.py runs them; they act on bench/load_org.py's people).

Each simulated person signs in through the sign-in form, as a browser does, and clicks
every 1 to 3 seconds. After 50 to 150 clicks they sign out and back in: a new visit (their
first visit ends at a random point of one).

- Requesters (7 in 10) read the catalogue, their access and their requests, and ask for an
  access group they are not in, with a justification.
- Approvers (2 in 10) read their queue and approve the oldest request waiting for them; now
  and then they reject one instead, through the confirmation page, with a reason.
- Auditors (1 in 10) read who has access (first page, filtered by an account, the next
  page), the access matrix and the audit log, and download the who-has-access CSV of one
  account.

Every person comes from their own address (X-Forwarded-For, the portal behind one proxy),
as people behind a load balancer do, so that the sign-in limits per address see them apart.
A request counts as failed when its answer is not the one a browser would act on.

The figures are reset ``LOAD_SETTLE`` seconds after the last person arrived: until then
everyone's first sign-in (PBKDF2, on purpose slow) and what queued behind it are still
being served. What those seconds looked like is logged as one line (``arrivals:``).
"""

from __future__ import annotations

import html
import itertools
import logging
import os
import random
import re

import gevent
from locust import HttpUser, between, events, task

from bench.load_org import APPROVERS, AUDITORS, MEASURING, PASSWORD

# The organisation's size, from bench/load.py.
USERS = int(os.environ.get("LOAD_USERS", "10000"))
GROUPS = int(os.environ.get("LOAD_GROUPS", "1000"))
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
APPROVE = re.compile(
    r'action="/approvals/requests/(\d+)/approve/".*?name="r\1-access_group_version" value="(\d+)"',
    re.DOTALL,
)
NEXT_PAGE = re.compile(r'<a href="([^"]+)" rel="next">')
ACCOUNTS = int(os.environ.get("LOAD_ACCOUNTS", "500"))
ACCOUNT_IDS = [f"{200000000000 + n:012d}" for n in range(ACCOUNTS)]

# Each run of bench/load.py's levels starts after the requesters of the runs before it, so
# that nobody asks again for what they asked for in an earlier level.
_requester_numbers = itertools.count(APPROVERS + int(os.environ.get("LOAD_FIRST_REQUESTER", "0")))
_approver_numbers = itertools.count()
_auditor_numbers = itertools.count()
_addresses = itertools.count(1)
SETTLE = float(os.environ.get("LOAD_SETTLE", "0"))
_environment = None


@events.init.add_listener
def _keep_environment(environment, **_) -> None:
    global _environment
    _environment = environment


@events.spawning_complete.add_listener
def _measure_once_settled(**_) -> None:
    environment = _environment

    def reset() -> None:
        total = environment.stats.total
        signed_in = sum(
            entry.num_requests
            for (name, method), entry in environment.stats.entries.items()
            if name == "sign in" and method == "POST"
        )
        logging.info(
            "arrivals: %d requests (%d sign-ins), p50 %.0f ms, p99 %.0f ms, slowest %.0f ms",
            total.num_requests,
            signed_in,
            total.get_response_time_percentile(0.5),
            total.get_response_time_percentile(0.99),
            total.max_response_time,
        )
        environment.stats.reset_all()
        logging.info(MEASURING)

    gevent.spawn_later(SETTLE, reset)


class Person(HttpUser):
    abstract = True
    wait_time = between(1, 3)

    def username(self) -> str:
        raise NotImplementedError

    def on_start(self) -> None:
        n = next(_addresses)
        self.client.headers["X-Forwarded-For"] = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"
        self.name = self.username()
        self.clicks_left = 0
        self.sign_in()
        # Each first visit is cut short at random, as if they had arrived in the middle of
        # one: later, people sign in again at about the rate of a long run, not all at once.
        self.clicks_left = random.randint(1, self.clicks_left)

    def csrf(self, html: str) -> str:
        found = CSRF.search(html)
        return found.group(1) if found else ""

    def sign_in(self) -> None:
        page = self.client.get("/accounts/login/", name="sign in (form)")
        with self.client.post(
            "/accounts/login/",
            data={
                "login": self.name,
                "password": PASSWORD,
                "csrfmiddlewaretoken": self.csrf(page.text),
            },
            allow_redirects=False,
            name="sign in",
            catch_response=True,
        ) as answer:
            if answer.status_code != 302:
                answer.failure(f"sign-in answered {answer.status_code}")
        self.clicks_left = random.randint(50, 150)

    def click(self) -> None:
        """Counts a click; a visit over, signs out and back in."""
        self.clicks_left -= 1
        if self.clicks_left <= 0:
            page = self.client.get("/", name="/")
            self.client.post(
                "/accounts/logout/",
                data={"csrfmiddlewaretoken": self.csrf(page.text)},
                allow_redirects=False,
                name="sign out",
            )
            self.sign_in()

    def post_expecting_redirect(self, url: str, data: dict[str, str], name: str) -> None:
        with self.client.post(
            url, data=data, allow_redirects=False, name=name, catch_response=True
        ) as answer:
            if answer.status_code != 302:
                answer.failure(f"answered {answer.status_code}, not a redirect")


class Requester(Person):
    weight = 7

    def username(self) -> str:
        self.number = APPROVERS + (next(_requester_numbers) - APPROVERS) % (USERS - APPROVERS)
        # Groups 100 to 899 places after one's own: not held, nothing pending from the seed;
        # each asked for once, in a random order.
        self.offsets = random.sample(range(100, 900), 800)
        return f"user{self.number:05d}"

    @task(3)
    def catalogue(self) -> None:
        self.client.get("/", name="/")
        self.click()

    @task(1)
    def catalogue_search(self) -> None:
        self.client.get(f"/?q=group-{random.randint(0, 99):02d}", name="/?q=")
        self.click()

    @task(2)
    def my_access(self) -> None:
        self.client.get("/my/access/", name="/my/access/")
        self.click()

    @task(2)
    def my_requests(self) -> None:
        self.client.get("/my/requests/", name="/my/requests/")
        self.click()

    @task(1)
    def ask(self) -> None:
        offset = self.offsets.pop()
        group = (self.number * 5 + offset) % GROUPS + 1  # primary keys from 1, by name order
        url = f"/access-groups/{group}/request/"
        form = self.client.get(url, name="/access-groups/[id]/request/")
        self.post_expecting_redirect(
            url,
            {
                "justification": "Load test: on call for the payments service this week.",
                "csrfmiddlewaretoken": self.csrf(form.text),
            },
            name="/access-groups/[id]/request/ (send)",
        )
        self.client.get("/my/requests/", name="/my/requests/")
        self.click()


class Approver(Person):
    weight = 2

    def username(self) -> str:
        return f"user{next(_approver_numbers) % APPROVERS:05d}"

    @task(3)
    def queue(self) -> None:
        self.client.get("/approvals/", name="/approvals/")
        self.click()

    @task(2)
    def decide(self) -> None:
        page = self.client.get("/approvals/", name="/approvals/")
        card = APPROVE.search(page.text)
        if card is None:
            return  # nothing waiting for this approver any more
        pk, version = card.groups()
        if random.random() < 0.2:
            url = f"/approvals/requests/{pk}/reject/"
            confirm = self.client.get(url, name="/approvals/requests/[id]/reject/")
            data = {"csrfmiddlewaretoken": self.csrf(confirm.text), f"r{pk}-comment": "Not needed."}
            self.post_expecting_redirect(url, data, name="/approvals/requests/[id]/reject/ (send)")
        else:
            data = {
                "csrfmiddlewaretoken": self.csrf(page.text),
                f"r{pk}-access_group_version": version,
                f"r{pk}-comment": "",
            }
            self.post_expecting_redirect(
                f"/approvals/requests/{pk}/approve/", data, name="/approvals/requests/[id]/approve/"
            )
        self.click()


class Auditor(Person):
    weight = 1

    def username(self) -> str:
        return f"auditor{next(_auditor_numbers) % AUDITORS:02d}"

    @task(3)
    def who_has_access(self) -> None:
        page = self.client.get("/reports/", name="/reports/")
        later = NEXT_PAGE.search(page.text)
        if later:
            self.client.get(html.unescape(later.group(1)), name="/reports/?cursor=")
        self.click()

    @task(2)
    def by_account(self) -> None:
        self.client.get(
            f"/reports/?account={random.choice(ACCOUNT_IDS)}", name="/reports/?account="
        )
        self.click()

    @task(2)
    def matrix(self) -> None:
        self.client.get("/reports/matrix/", name="/reports/matrix/")
        self.click()

    @task(1)
    def audit_log(self) -> None:
        self.client.get("/reports/audit-log/", name="/reports/audit-log/")
        self.click()

    @task(1)
    def export_account(self) -> None:
        self.client.get(
            f"/api/v1/reports/who-has-access/?format=csv&account={random.choice(ACCOUNT_IDS)}",
            name="who-has-access CSV of an account",
        )
        self.click()
