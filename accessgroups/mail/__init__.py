"""Mail about access: who is told what, and the tasks that send it."""
