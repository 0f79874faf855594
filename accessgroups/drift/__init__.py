"""Drift: findings of Identity Center not matching the database, and the scans that find them."""
