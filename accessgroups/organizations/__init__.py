"""Accounts by organizational unit: the stored AWS Organizations tree and what it grants."""
