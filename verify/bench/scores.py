"""``ditgp bench oracle|depth|device``: the exact score against a dense solve, the
constructions' depth against the condition number and window, and a constructed network in
float32 on a device against float64 (ratios against baselines measured in the same run)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import numpy as np

from .progress import progress_bar

__all__ = [
    "bench_oracle", "bench_depth", "bench_device", "DEFAULT_SIZES", "DEFAULT_KAPPAS",
    "DEFAULT_WINDOWS",
]

DEFAULT_SIZES = ((256, 8), (512, 16))
DEFAULT_KAPPAS = (10.0, 100.0, 1e3, 1e4)
DEFAULT_WINDOWS = (1, 2, 4, 8, 16, 32, 63)


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench_oracle(sizes: Iterable[tuple[int, int]] = DEFAULT_SIZES, batch: int = 64, t: float = 0.1,
                 repeats: int = 3, progress: bool = False) -> dict[str, Any]:
    """Exact score of a batch: cached Kronecker-eigen oracle vs dense Cholesky solve.

    Per size: ``oracle_s`` (score with the cached factorisation), ``oracle_setup_s`` (the two
    eigendecompositions, paid once per spec), ``dense_s`` (build ``A_t``, Cholesky, solve),
    ``dense_solve_s`` (triangular solves only, Cholesky cached), and ``ratio`` =
    ``dense_s/oracle_s``; keys ``ratio_{H}_{d}`` repeat the ratios at top level.
    """
    import scipy.linalg
    from ditgp.numerics.oracle import Oracle, dense_covariance, unvec, vec
    from ditgp.theory.kernels import kernel
    from ditgp.theory.spec import GPSpec, Spatial

    out: dict[str, Any] = {"batch": batch, "t": t, "sizes": []}
    for H, d in progress_bar(sizes, "oracle bench", progress):
        spec = GPSpec(kernel("laplace", ell=4.0), H=H, d=d, spatial=Spatial("ar", rho=0.5))
        t0 = time.perf_counter()
        oracle = Oracle(spec)
        setup = time.perf_counter() - t0
        X = oracle.sample(batch, seed=0, t=t)
        s_fast = oracle.score(X, t)
        fast = _best(lambda: oracle.score(X, t), repeats)  # noqa: B023

        def dense_all():
            A = dense_covariance(spec, t)  # noqa: B023
            c = scipy.linalg.cho_factor(A, overwrite_a=True, check_finite=False)
            return c, scipy.linalg.cho_solve(c, vec(X).T, check_finite=False)  # noqa: B023

        t0 = time.perf_counter()
        c, sol = dense_all()
        dense = time.perf_counter() - t0
        rhs = vec(X).T

        def solve_only(c=c, rhs=rhs):
            return scipy.linalg.cho_solve(c, rhs, check_finite=False)

        solve = _best(solve_only, repeats)
        s_dense = -unvec(sol.T, d, H)
        agree = float(np.max(np.abs(s_fast - s_dense)) / np.max(np.abs(s_dense)))
        row = {"H": H, "d": d, "oracle_s": fast, "oracle_setup_s": setup, "dense_s": dense,
               "dense_solve_s": solve, "ratio": dense / fast, "ratio_vs_solve_only": solve / fast,
               "max_rel_diff": agree}
        out["sizes"].append(row)
        out[f"ratio_{H}_{d}"] = row["ratio"]
    return out


def bench_depth(kappas: Iterable[float] = DEFAULT_KAPPAS, eps: float = 1e-6,
                windows: Iterable[int] = DEFAULT_WINDOWS, H: int = 64, ell: float = 4.0,
                progress: bool = False) -> dict[str, Any]:
    """Layers (= iterations, one block each) to reach ``eps``: Chebyshev vs GD per ``κ_t``,
    from :mod:`ditgp.theory.iterations`; heads of the compact vs paper realisation per
    window (Laplace kernel, ``H`` frames)."""
    import math

    from ditgp.numerics.constructions.realise import compact_heads, paper_heads
    from ditgp.theory import iterations as it
    from ditgp.theory.kernels import kernel

    rows = []
    for kappa in progress_bar(kappas, "depth bench", progress):
        gd = it.gd_steps(1.0, kappa, eps)
        ch = it.chebyshev_steps(1.0, kappa, eps)
        rows.append({"kappa": kappa, "gd_layers": gd, "chebyshev_layers": ch, "ratio": gd / ch,
                     "chebyshev_bound": math.ceil(math.sqrt(kappa) / 2 * math.log(2 / eps)) + 2})
    gamma = kernel("laplace", ell=ell).gamma(np.arange(H))
    heads = []
    for w in windows:
        w = min(int(w), H - 1)
        p = len(paper_heads(gamma, w, 1.0, 2 * H))
        c = len(compact_heads(gamma, w, 1.0, 2 * H))
        heads.append({"window": w, "paper_heads": p, "compact_heads": c, "ratio": p / c})
    return {"eps": eps, "layers": rows, "heads": heads, "kernel": f"laplace(ell={ell:g})", "H": H}


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def bench_device(device: str = "cpu", H: int = 128, d: int = 8, batch: int = 256, t: float = 0.1,
                 eps: float = 1e-6, repeats: int = 5, progress: bool = False) -> dict[str, Any]:
    """The float32 path and the device: one constructed network (compact attention,
    Chebyshev, fixed ``t``; Laplace ℓ=4) run in float64 and float32 on ``device``.

    Reports per dtype the forward throughput (sequences/s) and the relative error against the
    exact score, the ratio float32/float64 throughput, and the torch oracle on ``device`` vs
    the numpy oracle on the CPU (same batch, same run).  The float32 error is expected to be
    of order ``κ_t · 2⁻²⁴`` (rounding amplified by the conditioning), not ``eps``.
    """
    import torch
    from ditgp.numerics.constructions.architecture import Transformer
    from ditgp.numerics.constructions.construct import construct
    from ditgp.numerics.oracle import Oracle
    from ditgp.theory.kernels import kernel
    from ditgp.theory.spec import GPSpec, Spatial

    spec = GPSpec(kernel("laplace", ell=4.0), H=H, d=d, spatial=Spatial("ar", rho=0.5))
    con = construct(spec, t=t, eps=eps, attention="compact", algorithm="chebyshev",
                    measure=False)
    oracle = Oracle(spec)
    X = oracle.sample(batch, seed=1, t=t)
    exact = oracle.score(X, t)
    out: dict[str, Any] = {"device": device, "H": H, "d": d, "batch": batch, "t": t, "eps": eps,
                           "layers": con.config.layers, "heads": con.config.heads,
                           "error_bound": con.error_bound, "dtypes": {}}
    if device.startswith("cuda"):
        out["device_name"] = torch.cuda.get_device_name(device)
    for dtype in progress_bar(("float64", "float32"), "device bench", progress):
        net = Transformer(con.config.replace(dtype=dtype))
        net.load_state_dict({k: v.to(net.config.torch_dtype) for k, v in
                             con.module.state_dict().items()})
        net = net.to(device).eval()
        Xd = torch.as_tensor(X, dtype=net.config.torch_dtype, device=device)
        with torch.no_grad():
            s = net(Xd, t).double().cpu().numpy()
            _sync(device)

            def fwd(net=net, Xd=Xd):
                net(Xd, t)
                _sync(device)

            sec = _best(fwd, repeats)
        rel = float(np.linalg.norm(s - exact) / np.linalg.norm(exact))
        out["dtypes"][dtype] = {"seconds": sec, "sequences_per_s": batch / sec, "rel_error": rel}
    out["float32_speedup"] = out["dtypes"]["float32"]["sequences_per_s"] / \
        out["dtypes"]["float64"]["sequences_per_s"]
    # oracle: numpy on the CPU vs torch float64 on the device, same batch
    cpu_s = _best(lambda: oracle.score(X, t), repeats)
    Xd = torch.as_tensor(X, dtype=torch.float64, device=device)
    s_dev = oracle.score(Xd, t)
    _sync(device)

    def dev_score():
        oracle.score(Xd, t)
        _sync(device)

    dev_s = _best(dev_score, repeats)
    out["oracle"] = {"cpu_numpy_s": cpu_s, "device_torch_s": dev_s, "ratio": cpu_s / dev_s,
                     "max_rel_diff": float(np.max(np.abs(s_dev.cpu().numpy() - exact)) /
                                           np.max(np.abs(exact)))}
    return out
