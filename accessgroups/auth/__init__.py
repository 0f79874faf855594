"""Signing in: allauth adapters and the MFA rule for approvers and admins."""
