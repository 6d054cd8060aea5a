"""The red-team battery. Its property-based tests (`test_fuzz_*.py`) share two hypothesis profiles:

- `ci` (the default): derandomized — the same examples on every run, so CI is reproducible —, a few hundred
  examples per test, a deadline per example, and no example database written into the repository;
- `long`: random examples, many thousands per test (`PTCE_KG_FUZZ_EXAMPLES`, default 5000), for
  `python -m bench.fuzz`.

`PTCE_KG_FUZZ_PROFILE=long` selects the long one. A failure prints the example and a `@reproduce_failure`
blob to replay it.
"""

from __future__ import annotations

import os
from datetime import timedelta

from hypothesis import HealthCheck, settings

PROFILE_VARIABLE = "PTCE_KG_FUZZ_PROFILE"
EXAMPLES_VARIABLE = "PTCE_KG_FUZZ_EXAMPLES"
# What one example may take (generous: CI machines are small and busy); the readers' own bounds keep every
# input far below it.
EXAMPLE_SECONDS = float(os.environ.get("PTCE_KG_FUZZ_EXAMPLE_SECONDS", "10"))

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=300,
    deadline=timedelta(seconds=EXAMPLE_SECONDS),
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "long",
    derandomize=False,
    max_examples=int(os.environ.get(EXAMPLES_VARIABLE, "5000")),
    deadline=timedelta(seconds=EXAMPLE_SECONDS),
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get(PROFILE_VARIABLE, "ci"))
