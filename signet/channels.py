"""Redis pub/sub channel names shared by the issuer and the verifiers.

Kept in a module of its own so that both sides import it without importing each other.
"""

# The issuer publishes its URL here whenever its published key set changes (a key
# created, activated, retired). Signet verifiers that trust that issuer refetch its JWKS
# at once instead of at their next scheduled refresh. A message only triggers a fetch
# from the trusted issuer URL, so whoever can publish here cannot inject a key.
ISSUER_KEYS_CHANGED = "signet:issuer-keys-changed"
