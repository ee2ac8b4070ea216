"""Reverse-time samplers for any score function (docs/theory.md §2): Euler–Maruyama on the
reverse SDE and Heun on the probability-flow ODE, from ``T`` down to ``t0``.

Forward process ``dX = -½X dt + dW`` (``α_t = e^{-t/2}``, ``σ_t² = 1 - e^{-t}``).  With the
score ``s(x, t) = ∇ log p_t(x)`` the reverse-time dynamics, run with decreasing ``t``, are

    SDE   dX = [-½X - s(X, t)] dt + dW̄            (Anderson 1982)
    ODE   dX/dt = -½X - ½ s(X, t)                  (probability flow; same marginals)

On a grid ``T = t_0' > t_1' > … > t_K' = t0`` with steps ``h_k = t_k' - t_{k+1}' > 0``:

* **Euler–Maruyama** (weak order 1):
  ``X_{k+1} = X_k + h_k(½X_k + s(X_k, t_k')) + √h_k Z_k``;
* **Heun** (order 2): with ``f(x, t) = -½x - ½s(x, t)`` and ``Δ = -h_k``,
  ``X̃ = X_k + Δ f(X_k, t_k')``, ``X_{k+1} = X_k + ½Δ[f(X_k, t_k') + f(X̃, t_{k+1}')]``.

Grids: ``uniform`` in ``t`` or ``log`` (uniform in ``log t``: fine steps near ``t0`` where the
score is stiff, ``‖s‖ ~ 1/σ_t²``).  The prior at ``T`` is ``exact`` (``X_T ~ N(0, A_T)``, the
true marginal, default: the output error is then discretisation + score error only) or
``standard`` (``N(0, I)``, what a practitioner uses; adds the ``A_T ≠ I`` mismatch).

**Score functions** are ``score_fn(X (n, d, H) float64, t: float) -> (n, d, H)``: the exact
oracle (:func:`exact_score_fn`), any bundle (:func:`ditgp.models.export.load_network`) or a
training run (:func:`load_score`: its ``final/`` bundle).

**Exact covariance of a linear sampler.**  For a score linear in ``x`` (the oracle, any
fixed-``t`` construction) every step is a linear map ``x ↦ M_k x (+ √h Z)``, so the output
covariance is computed exactly, without Monte Carlo: :func:`linear_sampler_covariance`
pushes the identity through the *same* step functions the sampler uses (``M_k``), and
``C ← M_k C M_kᵀ (+ h_k I)``.  For the oracle the whole recursion is diagonal in the
Kronecker eigenbasis (:func:`exact_sampler_variances`, an independent closed form).  This
gives a deterministic, noise-free check of the sampler's order: halving the step cuts the
ODE covariance error ≈ 4×, the SDE (weak) error ≈ 2×.

**Seeding.**  Rows are processed in chunks of ``batch``; chunk ``c`` draws its prior and
all its noise from ``PCG64(SeedSequence([seed, c]))``, so ``(seed, batch)`` fixes the output
bit for bit, whatever the progress bar or the machine's thread count.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from ditgp.numerics.oracle import Oracle, unvec, vec
from ditgp.theory.choices import GRIDS, PRIORS, SAMPLERS
from ditgp.theory.errors import SpecError, require
from ditgp.theory.spec import GPSpec

__all__ = ["SAMPLERS", "GRIDS", "PRIORS", "DEFAULT_BATCH", "ScoreFn", "time_grid",
           "exact_score_fn", "load_score", "sample", "sde_step", "ode_step",
           "linear_sampler_covariance", "exact_sampler_variances", "sampler_covariance_error",
           "convergence_errors", "require_all_t", "estimate_seconds"]

#: rows per chunk (and per generator); part of what ``seed`` means
DEFAULT_BATCH = 512

ScoreFn = Callable[[np.ndarray, float], np.ndarray]


def _int(name: str, value: Any, low: int) -> int:
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= low
    require(ok, name, value, f"an integer ≥ {low}")
    return int(value)


def time_grid(t0: float, T: float, steps: int, grid: str = "uniform") -> np.ndarray:
    """``steps + 1`` decreasing times from ``T`` to ``t0`` (endpoints exact), float64.

    >>> time_grid(0.1, 1.0, 2, "log").round(4).tolist()
    [1.0, 0.3162, 0.1]
    """
    steps = _int("--steps", steps, 1)
    require(grid in GRIDS, "--grid", grid, "one of " + ", ".join(GRIDS))
    require(0 < t0 < T, "t0", t0, f"a time in (0, T={T:g})")
    u = np.linspace(0.0, 1.0, steps + 1)
    ts = T + (t0 - T) * u if grid == "uniform" else T * (t0 / T) ** u
    ts[0], ts[-1] = T, t0
    return ts


def exact_score_fn(spec: GPSpec) -> ScoreFn:
    """The exact oracle as a score function (float64)."""
    oracle = Oracle.for_spec(spec)
    return lambda X, t: oracle.score(np.asarray(X, dtype=np.float64), float(t))


def load_score(source: str | Path) -> tuple[ScoreFn, GPSpec, dict[str, Any]]:
    """``(score_fn, spec, manifest)`` of a bundle folder, or of a training run (its
    ``final/`` bundle, else ``RUN`` itself if it is a bundle).  Errors name ``--run``/the
    folder and what was expected."""
    from ditgp.numerics.bundle import MANIFEST, BundleError

    from .export import load_network

    path = Path(source)
    bundle = path / "final" if (path / "final" / MANIFEST).is_file() else path
    if not (bundle / MANIFEST).is_file():
        raise SpecError("--run", str(path), "a training run with a final/ bundle, or a bundle "
                                            "folder with manifest.json")
    try:
        fn, manifest = load_network(bundle)
    except BundleError as exc:
        raise SpecError("--weights", str(bundle), f"a valid bundle ({exc})") from None
    require_all_t(manifest, str(bundle))
    return fn, GPSpec.from_dict(manifest["spec"]), manifest


def require_all_t(manifest: dict[str, Any], name: str, flag: str = "--weights") -> None:
    """Refuse a construction built for one fixed ``t``: a sampler (or a comparison over a
    ``t`` grid) needs a network that serves every ``t ∈ [t0, T]`` (``gated``/``multiply``)."""
    con = manifest.get("construction") or {}
    if con.get("time_conditioning") == "fixed":
        raise SpecError(flag, name, "a network serving every t in [t0, T] (this construction "
                                    f"is for t={con.get('t')} only; construct it with "
                                    "--time-conditioning gated)")


# -- one step of each scheme (used by the sampler and by the exact covariance) ---------------


def sde_step(score_fn: ScoreFn, X: np.ndarray, t: float, t_next: float,
             noise: np.ndarray | None) -> np.ndarray:
    """Euler–Maruyama step of the reverse SDE from ``t`` to ``t_next < t`` (``noise`` standard
    normal of ``X``'s shape; ``None`` = the deterministic part, the linear map ``M_k``)."""
    h = t - t_next
    out = X + h * (0.5 * X + score_fn(X, t))
    if noise is not None:
        out = out + np.sqrt(h) * noise
    return out


def ode_step(score_fn: ScoreFn, X: np.ndarray, t: float, t_next: float,
             noise: np.ndarray | None = None) -> np.ndarray:
    """Heun step of the probability-flow ODE from ``t`` to ``t_next < t``."""
    dt = t_next - t  # < 0
    f0 = -0.5 * X - 0.5 * score_fn(X, t)
    X_pred = X + dt * f0
    f1 = -0.5 * X_pred - 0.5 * score_fn(X_pred, t_next)
    return X + 0.5 * dt * (f0 + f1)


_STEPS = {"sde": sde_step, "ode": ode_step}


def _check_common(spec: GPSpec, sampler: str, prior: str) -> None:
    if not isinstance(spec, GPSpec):
        raise SpecError("spec", spec, "a GPSpec")
    require(sampler in SAMPLERS, "--sampler", sampler, "one of " + ", ".join(SAMPLERS))
    require(prior in PRIORS, "--prior", prior, "one of " + ", ".join(PRIORS))


def _prior(oracle: Oracle, rng: np.random.Generator, n: int, T: float, prior: str) -> np.ndarray:
    if prior == "exact":
        return oracle.sample(n, seed=rng, t=T)
    return rng.standard_normal((n, oracle.d, oracle.H))


def sample(score_fn: ScoreFn, spec: GPSpec, n: int, *, sampler: str = "sde", steps: int = 200,
           grid: str = "log", seed: int = 0, prior: str = "exact", batch: int = DEFAULT_BATCH,
           t_end: float | None = None, progress: bool = False) -> np.ndarray:
    """``n`` samples ``(n, d, H)`` (float64) of the reverse process of ``spec`` driven by
    ``score_fn``, from ``T`` to ``t_end`` (default ``spec.schedule.t0``).

    The SDE's last step adds noise (the output is a draw of the marginal at ``t_end``, compare
    with ``N(0, A_{t_end})``); the ODE output is a deterministic function of the prior draw.
    ``progress`` shows a tqdm bar over chunks × steps on stderr."""
    _check_common(spec, sampler, prior)
    n = _int("--n", n, 1)
    batch = _int("batch", batch, 1)
    seed = _int("--seed", seed, 0)
    sched = spec.schedule
    t_end = sched.t0 if t_end is None else float(sched.check_time(t_end, "t_end"))
    require(t_end < sched.T, "t_end", t_end, f"a time below T={sched.T:g}")
    ts = time_grid(t_end, sched.T, steps, grid)
    oracle = Oracle.for_spec(spec)
    step = _STEPS[sampler]
    out = np.empty((n, spec.d, spec.H))
    from tqdm import tqdm

    chunks = range(0, n, batch)
    with tqdm(total=len(chunks) * steps, desc=f"sample {sampler}", disable=not progress,
              leave=False, unit="step") as bar:
        for c, lo in enumerate(chunks):
            rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, c])))
            m = min(batch, n - lo)
            X = _prior(oracle, rng, m, sched.T, prior)
            for k in range(steps):
                noise = rng.standard_normal(X.shape) if sampler == "sde" else None
                X = step(score_fn, X, float(ts[k]), float(ts[k + 1]), noise)
                bar.update(1)
            if not np.all(np.isfinite(X)):
                raise SpecError("--steps", steps, f"a step count for which the {sampler} "
                                "sampler stays finite (it diverged; use more steps or "
                                "--grid log)")
            out[lo:lo + m] = X
    return out


def estimate_seconds(score_fn: ScoreFn, spec: GPSpec, n: int, *, sampler: str = "sde",
                     steps: int = 200, batch: int = DEFAULT_BATCH, prior: str = "exact"
                     ) -> tuple[float, str]:
    """Wall clock of :func:`sample` before the work: one step of one chunk (``min(batch, n)``
    rows, the sampler's own step function and score) is timed here and multiplied by the
    steps and chunks, which run one after another.  Returns ``(seconds, how)``."""
    import time

    _check_common(spec, sampler, prior)
    n, batch, steps = _int("--n", n, 1), _int("batch", batch, 1), _int("--steps", steps, 1)
    m = min(batch, n)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([0, 0])))
    sched = spec.schedule
    X = _prior(Oracle.for_spec(spec), rng, m, sched.T, prior)
    noise = rng.standard_normal(X.shape) if sampler == "sde" else None
    t_next = float(time_grid(sched.t0, sched.T, steps, "log")[1])
    start = time.perf_counter()
    _STEPS[sampler](score_fn, X, float(sched.T), t_next, noise)
    per_step = time.perf_counter() - start
    chunks = -(-n // batch)
    return (per_step * steps * chunks,
            f"one step of a {m}-row chunk took {per_step:.3g} s here; × {steps} steps × "
            f"{chunks} chunk(s)")


# -- exact covariance of linear samplers ------------------------------------------------------


def linear_sampler_covariance(score_fn: ScoreFn, spec: GPSpec, *, sampler: str, steps: int,
                              grid: str = "log", prior: str = "exact",
                              t_end: float | None = None) -> np.ndarray:
    """Exact output covariance ``(dH, dH)`` (``vec`` order, :func:`ditgp.numerics.oracle.vec`)
    of the sampler driven by a score that is **linear** in ``x``: the step functions of
    :func:`sample` are applied to the ``dH`` basis sequences to get ``M_k``, then
    ``C ← M_k C M_kᵀ + h_k I`` (SDE) or ``M_k C M_kᵀ`` (ODE).  ``O(K (dH)³)``: small specs."""
    _check_common(spec, sampler, prior)
    sched = spec.schedule
    t_end = sched.t0 if t_end is None else float(sched.check_time(t_end, "t_end"))
    ts = time_grid(t_end, sched.T, steps, grid)
    p = spec.d * spec.H
    basis = unvec(np.eye(p), spec.d, spec.H)  # (p, d, H): basis sequence i = e_i
    if prior == "exact":
        from ditgp.numerics.oracle import dense_covariance

        C = dense_covariance(spec, sched.T)
    else:
        C = np.eye(p)
    step = _STEPS[sampler]
    for k in range(steps):
        M = vec(step(score_fn, basis, float(ts[k]), float(ts[k + 1]), None)).T  # (p, p)
        C = M @ C @ M.T
        if sampler == "sde":
            C = C + (ts[k] - ts[k + 1]) * np.eye(p)
    return 0.5 * (C + C.T)


def exact_sampler_variances(spec: GPSpec, *, sampler: str, steps: int, grid: str = "log",
                            prior: str = "exact", t_end: float | None = None
                            ) -> tuple[np.ndarray, np.ndarray]:
    """Closed form for the **exact** score: ``(v, a)`` with ``v`` ``(d, H)`` the variances of
    the sampler output in the Kronecker eigenbasis (where the recursion is diagonal) and
    ``a`` ``(d, H)`` the true ones, ``a_ij = α²μ_iλ_j + σ²`` at ``t_end``.

    Per coordinate with ``a(t) = α_t²μλ + σ_t²`` (score ``-y/a``): SDE gain
    ``c = 1 + h(½ - 1/a(t_k))``, ``v ← c²v + h``; ODE ``b(t) = -½ + 1/(2a(t))``,
    gain ``g = 1 + ½Δ[b_k + b_{k+1}(1 + Δ b_k)]`` (``Δ = -h``), ``v ← g²v``."""
    _check_common(spec, sampler, prior)
    sched = spec.schedule
    t_end = sched.t0 if t_end is None else float(sched.check_time(t_end, "t_end"))
    ts = time_grid(t_end, sched.T, steps, grid)
    oracle = Oracle.for_spec(spec)
    a_of = lambda t: oracle.eigenvalues(float(t))  # (d, H)
    v = a_of(sched.T).copy() if prior == "exact" else np.ones((spec.d, spec.H))
    for k in range(steps):
        h = ts[k] - ts[k + 1]
        if sampler == "sde":
            c = 1.0 + h * (0.5 - 1.0 / a_of(ts[k]))
            v = c * c * v + h
        else:
            b0 = -0.5 + 0.5 / a_of(ts[k])
            b1 = -0.5 + 0.5 / a_of(ts[k + 1])
            g = 1.0 - 0.5 * h * (b0 + b1 * (1.0 - h * b0))
            v = g * g * v
    return v, a_of(t_end)


def sampler_covariance_error(spec: GPSpec, *, sampler: str, steps: int, grid: str = "log",
                             prior: str = "exact") -> float:
    """Relative Frobenius error ``‖C_K - A_{t0}‖_F / ‖A_{t0}‖_F`` of the exact-score sampler's
    output covariance (both diagonal in the same eigenbasis, so the norm is over ``v - a``):
    the deterministic weak error of the second moments."""
    v, a = exact_sampler_variances(spec, sampler=sampler, steps=steps, grid=grid, prior=prior)
    return float(np.linalg.norm(v - a) / np.linalg.norm(a))


def convergence_errors(score_fn: ScoreFn, spec: GPSpec, *, sampler: str, steps: list[int],
                       grid: str = "log", prior: str = "exact") -> dict[str, Any]:
    """Covariance error ``‖C_K - A_{t0}‖_F/‖A_{t0}‖_F`` of the sampler driven by a **linear**
    ``score_fn`` for each ``K`` in ``steps`` (exact, :func:`linear_sampler_covariance`), and the
    ratios ``err(K)/err(2K)`` between consecutive entries (≈ ``2^order``: 4 for Heun, 2 for
    Euler–Maruyama when ``score_fn`` is exact)."""
    from ditgp.numerics.oracle import dense_covariance

    truth = dense_covariance(spec, spec.schedule.t0)
    errs = [float(np.linalg.norm(linear_sampler_covariance(score_fn, spec, sampler=sampler,
                                                           steps=K, grid=grid, prior=prior)
                                 - truth) / np.linalg.norm(truth)) for K in steps]
    ratios = [errs[i] / errs[i + 1] for i in range(len(errs) - 1)]
    return {"steps": list(steps), "errors": errs, "ratios": ratios, "sampler": sampler,
            "grid": grid, "prior": prior}
