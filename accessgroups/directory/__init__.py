"""Approvers and eligibility by Identity Center group: the cached groups and their refresh."""
