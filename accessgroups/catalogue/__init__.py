"""The catalogue: AWS accounts and access groups, their accounts and policies."""
