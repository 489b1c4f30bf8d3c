"""The token endpoint's logic: form parsing, client authentication (secrets, assertions,
throttle, replay), the client registry, grants, OAuth errors and the audit trail."""
