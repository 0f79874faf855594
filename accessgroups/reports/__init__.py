"""Reports for auditors: who has access, the access matrix, and their exports."""
