"""pytest plugin ``ditgp.verify.pytest_plugin``: the strategies in your own test suite.

It is registered through the ``pytest11`` entry point, so installing ditgp enables it in
every pytest session of that environment (``-p no:ditgp`` disables it).  It provides

* the fixture ``ditgp_strategies`` — the :mod:`ditgp.verify.strategies` module, for
  ``st.data()``-style draws inside a test;
* the marker ``ditgp_claim(id)`` — tag a test with the claim of the registry it exercises;
* the hypothesis profile ``ditgp`` (no deadline, derandomized, no database: numerics tests
  are slow and must be reproducible) — load it with ``--hypothesis-profile=ditgp`` or
  ``settings.load_profile("ditgp")``.
"""

from __future__ import annotations

import pytest
from hypothesis import settings

settings.register_profile("ditgp", deadline=None, derandomize=True, database=None,
                          print_blob=False)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "ditgp_claim(id): the ditgp theory claim (registry id) this test exercises")


@pytest.fixture
def ditgp_strategies():
    """The :mod:`ditgp.verify.strategies` module."""
    from ditgp.verify import strategies

    return strategies
