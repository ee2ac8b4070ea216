"""Tiny training runs made inside the tests (seconds on one core), shared by the trained-model
test modules: a Laplace run and its Γ = I control (Laplace with ℓ = 10⁻³: γ(m) = e^{-1000m},
zero in float64 for m ≥ 1)."""

from __future__ import annotations

import pytest
import torch
from ditgp.theory.kernels import kernel
from ditgp.theory.spec import GPSpec, Schedule, Spatial

T0 = 0.1
#: a non-isotropic Σ, so that the spatial claim can decide (with Σ = I every rotation keeps it)
SIGMA = Spatial("ar", rho=0.5)
SPEC = GPSpec(kernel("laplace", ell=3.0), H=8, d=2, spatial=SIGMA, schedule=Schedule(T0, 10.0))
CONTROL_SPEC = GPSpec(kernel("laplace", ell=1e-3), H=8, d=2, spatial=SIGMA,
                      schedule=Schedule(T0, 10.0))
STEPS = 400


def train_tiny(spec: GPSpec, out, steps: int = STEPS):
    from ditgp.models import ModelConfig
    from ditgp.models.train import TrainConfig, train

    torch.set_num_threads(1)
    cfg = ModelConfig("dit", width=32, depth=2, heads=4)
    tc = TrainConfig(steps=steps, batch=32, lr=2e-3, warmup=20, ema=0.95, eval_every=steps,
                     ckpt_every=steps, n_eval=16, eval_points=3, seed=0,
                     t_sampling="log-uniform")
    train(spec, cfg, tc, out, quiet=True, report=False)
    return out


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    return train_tiny(SPEC, tmp_path_factory.mktemp("runs") / "laplace")


@pytest.fixture(scope="session")
def control_run(tmp_path_factory):
    return train_tiny(CONTROL_SPEC, tmp_path_factory.mktemp("runs") / "control")


@pytest.fixture(scope="session")
def trained_ctx(tiny_run, control_run):
    from ditgp.verify.claims.trained import context_for_run

    return context_for_run(tiny_run, control=control_run, eps=1e-2)
