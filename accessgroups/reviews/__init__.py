"""Access reviews: opening them, deciding their items, closing them at the deadline."""
