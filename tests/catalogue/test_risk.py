"""A policy's risk and an access group's suggested risk: pure functions of its policy rows."""

from __future__ import annotations

import pytest

from accessgroups.catalogue.risk import policy_risk, suggested_risk
from accessgroups.models import AccessGroupPolicy, PolicyKind


def managed(name: str, prefix: str = "arn:aws:iam::aws:policy/") -> AccessGroupPolicy:
    return AccessGroupPolicy(kind=PolicyKind.AWS_MANAGED, arn=prefix + name)


def inline(*statements: dict) -> AccessGroupPolicy:
    return AccessGroupPolicy(
        kind=PolicyKind.INLINE, document={"Version": "2012-10-17", "Statement": list(statements)}
    )


@pytest.mark.parametrize("name", ["AdministratorAccess", "IAMFullAccess", "PowerUserAccess"])
def test_administration_is_high_risk(name):
    assert policy_risk(managed(name)) == "high"
    assert policy_risk(managed(name, "arn:aws-us-gov:iam::aws:policy/")) == "high"


@pytest.mark.parametrize(
    "name", ["ReadOnlyAccess", "job-function/Billing", "AdministratorAccess-Amplify"]
)
def test_other_managed_policies_are_normal(name):
    assert policy_risk(managed(name)) == "normal"


def test_customer_managed_is_normal_even_when_named_like_admin():
    policy = AccessGroupPolicy(kind=PolicyKind.CUSTOMER_MANAGED, name="AdministratorAccess")
    assert policy_risk(policy) == "normal"


@pytest.mark.parametrize(
    ("statement", "risk"),
    [
        ({"Effect": "Allow", "Action": "*", "Resource": "*"}, "high"),
        ({"Effect": "Allow", "Action": ["s3:Get*", "*"], "Resource": "*"}, "high"),
        ({"Effect": "Allow", "Action": "*:*", "Resource": "*"}, "high"),
        ({"Effect": "Deny", "Action": "*", "Resource": "*"}, "normal"),
        ({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, "normal"),
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, "normal"),
    ],
)
def test_inline_allowing_every_action_is_high_risk(statement, risk):
    assert policy_risk(inline(statement)) == risk


def test_inline_with_a_single_statement_object():
    policy = AccessGroupPolicy(
        kind=PolicyKind.INLINE,
        document={"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}},
    )
    assert policy_risk(policy) == "high"


def test_malformed_documents_are_not_an_error():
    for document in (None, [], "text", {"Statement": ["x", 3]}):
        assert policy_risk(AccessGroupPolicy(kind=PolicyKind.INLINE, document=document)) == "normal"


@pytest.mark.django_db
def test_suggested_risk_is_the_highest_of_the_groups_policies(make_group):
    calm = make_group("Calm")
    admin = make_group(
        "Admin",
        policies=(
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "arn:aws:iam::aws:policy/AdministratorAccess",
        ),
    )
    assert suggested_risk(calm) == "normal"
    assert suggested_risk(admin) == "high"
    # Prefetched rows are used as they are.
    admin.current_policy_rows = [managed("ReadOnlyAccess")]
    assert suggested_risk(admin) == "normal"
