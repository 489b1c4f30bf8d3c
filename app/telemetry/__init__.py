"""What the issuer tells its operators: structured JSON logs and Prometheus metrics."""
