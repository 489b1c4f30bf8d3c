"""The `signet` command: serve, dev, keys, clients, token."""
