"""Core of the domain: rules, limits, errors, the audit log and the sync port.

Imports only models; every subject and surface may import it.
"""
