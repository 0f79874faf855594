"""HTTPS redirect, HSTS and the Content-Security-Policy as the portal sends them, and the
templates that make a policy without inline script possible."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client

REPO = Path(__file__).resolve().parents[2]
BALANCER = {"X-Forwarded-Proto": "https"}


@pytest.fixture
def production(settings):
    """What a production start gives (portal/settings.py with DEBUG off), behind a balancer."""
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True


def policy(response) -> dict[str, list[str]]:
    directives = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def test_plain_http_is_redirected_to_https(db, production):
    response = Client().get("/accounts/login/?next=/my/requests/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/accounts/login/?next=/my/requests/"


def test_what_the_balancer_forwards_is_served_with_hsts(db, production):
    response = Client().get("/accounts/login/", headers=BALANCER)
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


def test_a_client_that_says_http_to_the_balancer_is_redirected(db, production):
    response = Client().get("/accounts/login/", headers={"X-Forwarded-Proto": "http"})
    assert response.status_code == 301


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/healthz/"])
def test_health_checks_are_not_redirected(db, production, path):
    # A load balancer probes its targets over plain HTTP and takes a redirect for a failure.
    assert Client().get(path).status_code != 301


def test_a_lookalike_of_a_health_check_is_redirected(db, production):
    assert Client().get("/healthz-and-more").status_code == 301


def test_pages_allow_scripts_and_styles_from_the_portal_only(client_for, alice):
    response = client_for(alice).get("/")
    assert response.status_code == 200
    directives = policy(response)
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]


@pytest.mark.parametrize("path", ["/api/v1/access-groups/", "/api/redoc/"])
def test_pages_of_other_projects_may_style_inline_but_never_script(client_for, alice, path):
    response = client_for(alice).get(path, headers={"Accept": "text/html"})
    assert response.status_code == 200
    directives = policy(response)
    assert "'unsafe-inline'" in directives["style-src"]
    assert directives["script-src"] == ["'self'"]


def test_the_api_docs_have_no_inline_script(db):
    page = Client().get("/api/docs/").content.decode()
    assert re.findall(r"<script(?![^>]*\ssrc=)", page) == []
    script = re.search(r'<script src="([^"]*\?[^"]*script[^"]*)"', page)
    assert script, "Swagger UI's start-up script is not loaded as a file"
    init = Client().get(script.group(1).replace("&amp;", "&"))
    assert init.status_code == 200
    assert init["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle(" in init.content


INLINE_SCRIPT = [
    # A <script> without src, unless it only holds data (json_script, allauth's onload data).
    (r"<script(?![^>]*\ssrc=)(?![^>]*type=\"application/json\")", "an inline <script>"),
    (r"\son[a-z]+\s*=", "an inline event handler"),
    (r"javascript:", "a javascript: URL"),
    (r"\shx-on", "an htmx hx-on handler"),
    (r"\sstyle\s*=", "an inline style attribute"),
    (r"<style", "an inline <style>"),
]


def test_the_portal_templates_hold_no_inline_script_or_style():
    # Mail templates are not served pages: mail clients need their inline styles.
    pages = [
        p for p in (REPO / "templates").rglob("*.html")
        if "notifications" not in p.relative_to(REPO / "templates").parts
    ]
    assert len(pages) > 20
    found = []
    for template in pages:
        text = re.sub(r"{% comment %}.*?{% endcomment %}", "", template.read_text(), flags=re.S)
        found += [
            f"{template.relative_to(REPO)}: {what}"
            for pattern, what in INLINE_SCRIPT
            if re.search(pattern, text, re.I)
        ]
    assert found == []
