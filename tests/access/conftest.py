"""Fixtures for the access services' tests."""

import pytest


@pytest.fixture
def enqueued(django_capture_on_commit_callbacks):
    """Capture what a block enqueues on commit, without running it."""
    return django_capture_on_commit_callbacks
