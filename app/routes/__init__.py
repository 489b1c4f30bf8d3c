"""HTTP routes of the issuer, one module per concern."""
