"""Hypothesis profiles for the fuzz tests (tests/unit/test_fuzz_verifier.py and
tests/integration/test_fuzz_openapi.py).

- `ci` (default): a modest, derandomized budget, so `make test` stays fast and a failure
  reproduces on every run.
- `fuzz` (`make fuzz`, HYPOTHESIS_PROFILE=fuzz): a long randomized run, not in CI, of
  SIGNET_FUZZ_EXAMPLES examples per test (default 5000); what it finds is kept in
  .hypothesis/ and replayed first next time.

The deadline is a hang detector, not a speed limit: one example taking seconds means a
loop or a blocking wait, which is a bug whatever the machine.
"""

from __future__ import annotations

import os
from datetime import timedelta

from hypothesis import HealthCheck, settings

HANG = timedelta(seconds=5)
_COMMON = {"deadline": HANG, "suppress_health_check": [HealthCheck.too_slow]}

settings.register_profile("ci", max_examples=150, derandomize=True, print_blob=True, **_COMMON)
settings.register_profile("fuzz", max_examples=int(os.environ.get("SIGNET_FUZZ_EXAMPLES", "5000")),
                          print_blob=True, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def budget(ci_examples: int) -> int:
    """Examples for a test whose CI budget differs from the profile's: the fuzz profile's
    count under `make fuzz`, else `ci_examples`."""
    fuzzing = settings.get_current_profile_name() == "fuzz"
    return settings.default.max_examples if fuzzing else ci_examples
