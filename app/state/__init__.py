"""Short-lived shared state: Redis when configured, bounded process memory otherwise."""
