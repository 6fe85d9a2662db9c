"""Example counts: a short run inside ``make test``, a long one under ``make fuzz``.

``make test`` loads Hypothesis's ``ci`` profile (derandomized, reproducible) and every
harness runs its short count, so the whole set adds a few seconds. ``make fuzz`` passes
``--hypothesis-profile=fuzz`` (tests/conftest.py): random seeds, and each harness runs
:data:`LONG_FACTOR` times its short count.
"""

from __future__ import annotations

from typing import Final

from hypothesis import HealthCheck, settings

FUZZ_PROFILE: Final = "fuzz"
LONG_FACTOR: Final = 50


def long_run() -> bool:
    """Whether the ``fuzz`` profile is loaded (read when a harness module is imported)."""
    return settings.get_current_profile_name() == FUZZ_PROFILE


def budget(short: int) -> settings:
    """Settings for one harness: ``short`` examples, or ``LONG_FACTOR`` times as many.

    Args:
        short: Examples in ``make test``; pick it so the harness takes a second or two.
    """
    return settings(
        max_examples=short * LONG_FACTOR if long_run() else short,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            # Harnesses that need a directory make a fresh one per example under tmp_path.
            HealthCheck.function_scoped_fixture,
        ],
    )
