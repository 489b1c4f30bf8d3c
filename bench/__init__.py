"""Benchmarks that print Signet's figures beside their baselines, measured in the same run."""
