"""Identity: onboarding and deactivating portal users."""
