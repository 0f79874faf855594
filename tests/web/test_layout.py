"""The layout every page shares: a favicon, a navigation that keeps its items, messages that
say error or success in words."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accessgroups.models import ReviewItem

pytestmark = pytest.mark.django_db


def test_favicon(client, client_for, alice):
    response = client.get("/favicon.ico")
    assert response.status_code in (301, 302)
    assert response["Location"].endswith("favicon.svg")
    html = client_for(alice).get(reverse("web:catalogue")).content.decode()
    assert 'rel="icon" href="/static/favicon.svg"' in html


def test_the_csp_lets_the_favicon_load(client_for, alice):
    policy = client_for(alice).get(reverse("web:catalogue"))["Content-Security-Policy"]
    img_src = next(d for d in policy.split(";") if d.strip().startswith("img-src")).split()
    assert "'self'" in img_src


def test_reviews_stays_in_the_menu_after_the_last_decision(
    client_for, alice, bob, carol, readonly, grant, in_a_week
):
    from accessgroups.reviews.services import access_review_open, review_item_decide

    grant(alice, readonly)
    review = access_review_open(opened_by=carol, access_group=readonly, deadline=in_a_week)
    client = client_for(bob)
    assert ">Reviews</a>" in client.get(reverse("web:approvals")).content.decode()
    review_item_decide(item=review.items.get(), reviewer=bob, decision="keep", comment="")
    assert not ReviewItem.objects.filter(outcome="").exists()
    assert ">Reviews</a>" in client.get(reverse("web:approvals")).content.decode()


def test_the_menu_is_a_disclosure_open_by_default(client_for, dave):
    html = client_for(dave).get(reverse("web:catalogue")).content.decode()
    nav = html[html.index('<nav aria-label="Main"') : html.index("</nav>")]
    assert '<details class="menu" open>' in nav and "<summary>Menu</summary>" in nav
    for label in (
        "Access groups",
        "Approvals",
        "Audit log",
        "Reviews",
        "Manage groups",
        "Provisioning",
    ):
        assert f">{label}</a>" in nav
    assert "Two-factor authentication" in html


def test_error_messages_say_so_in_words():
    from django.conf import settings

    css = (settings.BASE_DIR / "static" / "css" / "portal.css").read_text()
    assert '.message-error::before { content: "✕ Error:"' in css
    assert "--focus: #0b3d91" in css


def test_a_form_sums_up_all_its_errors_at_the_top(client_for, dave):
    response = client_for(dave).post(
        reverse("web:manage-group-create"),
        {"name": "bad name!", "session_duration": "", "max_duration_hours": "0"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    summary = html[
        html.index('id="error-summary"') : html.index("</div>", html.index('id="error-summary"'))
    ]
    errors = response.context["form"].errors
    assert len(errors) >= 2
    assert f"{len(errors)} problems" in summary
    for name in errors:
        if name != "__all__":
            assert f'href="#id_{name}"' in summary


def test_the_justification_says_its_limit(client_for, alice, readonly):
    html = client_for(alice).get(reverse("web:request-create", args=[readonly.pk])).content.decode()
    assert "up to 4,000 characters" in html


def test_labels_have_no_colons(client_for, carol, dave):
    import re

    for client, url in (
        (client_for(carol), reverse("web:audit-log")),
        (client_for(carol), reverse("web:who-has-access")),
        (client_for(dave), reverse("web:manage-group-create")),
    ):
        labels = re.findall(r"<label[^>]*>([^<]*)</label>", client.get(url).content.decode())
        assert labels and not [label for label in labels if label.endswith(":")], (url, labels)


def test_the_portal_and_the_api_docs_link_to_each_other(client_for, alice):
    client = client_for(alice)
    assert (
        'href="/api/docs/">API documentation</a>'
        in client.get(reverse("web:catalogue")).content.decode()
    )
    docs = client.get("/api/docs/").content.decode()
    assert '<a href="/">← Back to the access portal</a>' in docs


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("4 hours", "PT4H"),
        ("1 hour 30 minutes", "PT1H30M"),
        ("90 min", "PT1H30M"),
        ("PT2H", "PT2H"),
    ],
)
def test_a_session_duration_can_be_typed_in_words(client_for, dave, typed, stored):
    from accessgroups.models import AccessGroup

    response = client_for(dave).post(
        reverse("web:manage-group-create"),
        {
            "name": "Deploy",
            "aws_managed_policies": "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "session_duration": typed,
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    assert AccessGroup.objects.get().session_duration == stored


def test_a_session_duration_out_of_range_keeps_what_was_typed(client_for, dave):
    response = client_for(dave).post(
        reverse("web:manage-group-create"),
        {
            "name": "Deploy",
            "aws_managed_policies": "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "session_duration": "13 hours",
        },
    )
    assert response.status_code == 400
    assert 'value="13 hours"' in response.content.decode()


def test_editing_a_group_keeps_its_session_duration_as_stored(client_for, dave, make_group):
    group = make_group("Deploy", session_duration="PT90M")
    client = client_for(dave)
    html = client.get(reverse("web:manage-group-edit", args=[group.pk])).content.decode()
    assert 'value="1 hour 30 minutes"' in html
    from accessgroups.web.manage_forms import AccessGroupForm

    form = AccessGroupForm(
        {
            "aws_managed_policies": "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "session_duration": "1 hour 30 minutes",
        },
        access_group=group,
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["session_duration"] == "PT90M"
