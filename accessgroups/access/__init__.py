"""Access: requests, decisions and memberships."""
