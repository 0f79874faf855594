"""Adopting what a team already has in IAM Identity Center."""
