"""``ditgp bench long``: the FFT path at long ``H`` against the baselines, measured side by side.

Per kernel and ``H`` (batch ``n``, ``d`` channels, time ``t``): the FFT path's cold solve
(oracle built from scratch: kernel column, rigorous bounds, spectra, the Ammar–Gader
generators at ``t``) and warm solve (oracle and generators cached), each with its CPU time
(user + system, all threads) and the load average, plain CG from zero (no generator, up to
``cg_max_H``), iterations and certified relative error; the eigen oracle cold and warm (up to
``eig_max_H``); Levinson (``scipy.linalg.solve_toeplitz``, ``O(H²)`` per row — timed on
``levinson_rows`` rows and scaled to ``n·d``, said so in the row); a dense Cholesky of the
``dH × dH`` ``A_t`` (up to ``dense_max_dH``); GPyTorch's ``linear_operator`` Kronecker path
when it is installed (optional, never required); sampling time.  Growth exponents are
least-squares slopes of ``log time`` against ``log H``.  One small solve on another spec
warms the process up first (thread pools, FFT plans, imports), so "cold" is the first solve
for a new spec in a running process, for both the FFT and the eigen paths.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["bench_long", "DEFAULT_LENGTHS", "DEFAULT_KERNELS", "KERNEL_PARAMS"]

DEFAULT_LENGTHS = (1024, 4096, 16384, 65536)
DEFAULT_KERNELS = ("laplace", "power-law")
#: the kernels the benchmark knows, with their parameters
KERNEL_PARAMS = {"laplace": {"ell": 4.0}, "power-law": {"ell": 1.0, "nu": 1.5}}


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _timed_cpu(fn):
    """``(result, wall seconds, CPU seconds)``: CPU is this process's user + system time
    (all threads), so that a loaded machine's inflated wall time can be read against it."""
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def _slope(xs, ys) -> float | None:
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True) if y and y > 0]
    if len(pts) < 2:
        return None
    a = np.array(pts)
    return float(np.polyfit(a[:, 0], a[:, 1], 1)[0])


def _gpytorch(spec, X, t):  # pragma: no cover - optional peer, not installed in CI
    try:
        import torch
        from linear_operator.operators import (
            DenseLinearOperator,
            KroneckerProductLinearOperator,
        )
    except ImportError:
        return None
    if spec.H > 4096:
        return None
    a2, s2 = float(spec.schedule.alpha2(t)), float(spec.schedule.sigma2(t))
    G = torch.as_tensor(spec.Gamma)
    S = torch.as_tensor(spec.Sigma)
    K = KroneckerProductLinearOperator(DenseLinearOperator(G), DenseLinearOperator(S)) * a2
    A = K.add_diagonal(torch.tensor(s2, dtype=torch.float64))
    rhs = torch.as_tensor(np.swapaxes(X, 1, 2).reshape(X.shape[0], -1).T)
    _, sec = _timed(lambda: A.solve(rhs))
    return sec


def bench_long(lengths: Iterable[int] = DEFAULT_LENGTHS, kernels: Iterable[str] = DEFAULT_KERNELS,
               batch: int = 64, d: int = 8, t: float = 0.1, rtol: float = 1e-10,
               eig_max_H: int = 4096, levinson_max_H: int = 16384, levinson_rows: int = 8,
               dense_max_dH: int = 8192, cg_max_H: int = 16384, progress: bool = False
               ) -> dict[str, Any]:
    """Run the benchmark; returns ``{"rows": [...], "exponents": {...}, ...}`` (no printing)."""
    import scipy.linalg
    from ditgp.numerics.fft.fft_oracle import FFTOracle
    from ditgp.numerics.oracle import Oracle, dense_covariance, vec
    from ditgp.theory.kernels import kernel
    from ditgp.theory.spec import GPSpec, Spatial
    from ditgp.theory.spectral import eigenvalue_bounds

    from .progress import progress_bar

    lengths, kernels = [int(h) for h in lengths], list(kernels)
    rows: list[dict[str, Any]] = []
    # process warm-up (thread pools, FFT plan caches, lazy imports): "cold" below is the first
    # solve for a *new spec* in a running process, not the interpreter's first FFT
    warm_spec = GPSpec(kernel("laplace", ell=2.0), H=64, d=2)
    FFTOracle(warm_spec).solve_certified(np.ones((2, 2, 64)), t, rtol)
    Oracle(warm_spec).score(np.ones((2, 2, 64)), t)
    for kname in kernels:
        k = kernel(kname, **KERNEL_PARAMS.get(kname, {}))
        eigenvalue_bounds(k)  # H-independent part of the bounds (cached), not a per-H cost
        for H in progress_bar(lengths, f"bench long {kname}", progress):
            spec = GPSpec(k, H=H, d=d, spatial=Spatial("ar", rho=0.5))
            row: dict[str, Any] = {"kernel": k.describe(), "H": H, "d": d, "batch": batch}
            FFTOracle.clear_cache()
            X = np.random.default_rng(H).standard_normal((batch, d, H))
            row["load_before"] = os.getloadavg()[0]
            res, cold, cold_cpu = _timed_cpu(
                lambda: FFTOracle(spec).solve_certified(X, t, rtol))  # noqa: B023
            fft = FFTOracle(spec)
            fft.inverse_generator(t)  # warm: the oracle and its generator at t are cached
            res, warm, warm_cpu = _timed_cpu(lambda: fft.solve_certified(X, t, rtol))  # noqa: B023
            _, one = _timed(lambda: fft.solve_certified(X[:1], t, rtol))  # noqa: B023
            if H <= cg_max_H:
                cg, cg_s = _timed(lambda: fft.solve_certified(X, t, rtol,  # noqa: B023
                                                              use_generator=False))
                row.update(fft_cg_only_s=cg_s, cg_iterations=int(cg.iterations.max()))
            row.update(fft_cold_s=cold, fft_warm_s=warm, fft_one_sequence_s=one,
                       fft_cold_cpu_s=cold_cpu, fft_warm_cpu_s=warm_cpu,
                       iterations=int(res.iterations.max()),
                       certified_rel_error=float(res.rel_error_bound.max()), met=res.met)
            _, samp_cold, _ = _timed_cpu(lambda: fft.sample(batch, seed=0))  # noqa: B023
            _, samp, samp_cpu = _timed_cpu(lambda: fft.sample(batch, seed=1))  # noqa: B023
            row.update(sample_cold_s=samp_cold, sample_s=samp, sample_cpu_s=samp_cpu,
                       load_after=os.getloadavg()[0])
            if H <= eig_max_H:
                o, eig_cold, eig_cold_cpu = _timed_cpu(lambda: Oracle(spec))  # noqa: B023
                S_eig, sec, sec_cpu = _timed_cpu(lambda: o.score(X, t))  # noqa: B023
                _, eig_warm, eig_warm_cpu = _timed_cpu(lambda: o.score(X, t))  # noqa: B023
                row.update(eig_cold_s=eig_cold + sec, eig_warm_s=eig_warm,
                           eig_cold_cpu_s=eig_cold_cpu + sec_cpu, eig_warm_cpu_s=eig_warm_cpu,
                           ratio_eig_cold=(eig_cold + sec) / cold, ratio_eig_warm=eig_warm / warm,
                           max_rel_diff_eig=float(np.max(
                               np.linalg.norm(-S_eig - res.V, axis=(1, 2))
                               / np.linalg.norm(S_eig, axis=(1, 2)))))
            if H <= levinson_max_H:
                g = fft.gamma
                a2, s2 = float(spec.schedule.alpha2(t)), float(spec.schedule.sigma2(t))
                Y = np.einsum("ji,njh->nih", fft.U_Sigma, X).reshape(-1, H)
                m = min(levinson_rows, Y.shape[0])
                col = [a2 * fft.mu[i % d] * g + s2 * (np.arange(H) == 0) for i in range(m)]
                def levinson(col=col, Y=Y, m=m):
                    return [scipy.linalg.solve_toeplitz(col[i], Y[i]) for i in range(m)]

                _, lev = _timed(levinson)
                lev *= Y.shape[0] / m
                row.update(levinson_s=lev, levinson_rows_timed=m, ratio_levinson=lev / warm)
            if d * H <= dense_max_dH:
                def dense(spec=spec, X=X):
                    c = scipy.linalg.cho_factor(dense_covariance(spec, t), overwrite_a=True,
                                                check_finite=False)
                    return scipy.linalg.cho_solve(c, vec(X).T, check_finite=False)

                _, den = _timed(dense)
                row.update(dense_cholesky_s=den, ratio_dense=den / cold)
            gp = _gpytorch(spec, X, t)
            if gp is not None:
                row.update(gpytorch_s=gp, ratio_gpytorch=gp / warm)
            rows.append(row)
    exponents = {}
    for kname in kernels:
        mine = [r for r in rows if r["kernel"].startswith(kname)]
        hs = [r["H"] for r in mine]
        exponents[kname] = {key: _slope(hs, [r.get(key) for r in mine])
                            for key in ("fft_warm_s", "fft_cold_s", "fft_warm_cpu_s", "sample_s",
                                        "sample_cpu_s", "eig_cold_s")}
    return {"t": t, "rtol": rtol, "batch": batch, "d": d, "rows": rows, "exponents": exponents,
            "cpus": os.cpu_count(),
            "note": "wall times on a shared CPU (CPU = user+sys of all threads; load = 1-min "
                    "load average before/after the row); Levinson timed on a subset of rows "
                    "and scaled linearly to n·d"}
