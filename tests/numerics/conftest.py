"""Shared fixtures of the numerics tests: small specs, deterministic single-threaded torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ditgp.theory.kernels import kernel
from ditgp.theory.spec import GPSpec, Schedule, Spatial


@pytest.fixture(autouse=True)
def _deterministic_single_thread_torch():
    """Tiny float64 problems: one intra-op thread is much faster (thread wake-ups dominate)
    and deterministic; restored afterwards so other layers' tests are unaffected."""
    threads, det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    yield
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(det)


def _make_spec(H: int = 10, d: int = 2, ell: float = 2.0, spatial: Spatial | None = None,
              t0: float = 0.05, T: float = 5.0) -> GPSpec:
    return GPSpec(kernel("laplace", ell=ell), H=H, d=d,
                  spatial=spatial or Spatial("ar", rho=0.3), schedule=Schedule(t0, T))


SPECS = {
    "laplace-H10-d2-ar": lambda: _make_spec(),
    "laplace-H16-d3-random": lambda: _make_spec(16, 3, 4.0, Spatial("random", kappa=5.0, seed=1)),
    "laplace-H7-d1-identity": lambda: _make_spec(7, 1, 1.0, Spatial("identity")),
}


@pytest.fixture(params=sorted(SPECS), ids=sorted(SPECS))
def spec(request) -> GPSpec:
    return SPECS[request.param]()


@pytest.fixture
def make_spec():
    """Factory of small Laplace specs: ``make_spec(H, d, ell, spatial, t0, T)``."""
    return _make_spec


@pytest.fixture
def small_spec() -> GPSpec:
    return _make_spec()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
