"""How hard a property or fuzz test tries: the full count in CI, a fifth of it in the loop
a developer runs all the time.

scripts/test passes `--hypothesis-profile=ci`, which keeps every count as its test wrote it
(hypothesis's own default of 100 examples is the scale); without it tests/conftest.py loads
`quick`, 20 on that scale, so `python -m pytest tests/unit` stays a quick loop while CI keeps
the strength the counts were chosen for. Seeded loops (not hypothesis) scale the same way.
"""

from __future__ import annotations

from hypothesis import settings

FULL = 100  # the ci profile's max_examples: counts are as written
QUICK = 20

settings.register_profile("ci", max_examples=FULL)
settings.register_profile("quick", max_examples=QUICK)


def examples(full: int) -> int:
    """`full` under the ci profile, proportionally fewer (at least 10) under quick."""
    return max(min(full, 10), full * settings().max_examples // FULL)
