"""Resource estimates (numerics.budget) against the memory actually used, at small sizes.

Each measurement runs in a fresh interpreter: peak resident memory (``ru_maxrss``) after the
work minus resident memory before it.  The estimate must be within ``ESTIMATE_FACTOR`` of it
in both directions, so an estimate that forgets a dense matrix (or counts one twice too
many) fails.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from ditgp.numerics import budget as B
from ditgp.theory.errors import ResourceError

MEASURE = r"""
import json, os, sys
import numpy as np
def rss():
    # the peak RSS (VmHWM) is reset here, so earlier transients (imports, warm-up) do not count
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
def hwm():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))
from ditgp.numerics import budget as B
from ditgp.theory.kernels import kernel
from ditgp.theory.spec import GPSpec, Spatial
kind, H, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
spec = GPSpec(kernel("laplace", ell=4.0), H=H, d=d, spatial=Spatial("ar", rho=0.5))
if kind == "construct":
    import torch
    torch.set_num_threads(1)
    from ditgp.numerics import Oracle, construct
    construct(GPSpec(kernel("laplace", ell=2.0), H=4, d=1), t=0.2, eps=1e-3)  # warm up torch
    Oracle.for_spec(spec)
    est = B.construct_estimate(spec, 0.2, 1e-6, "compact", "chebyshev", "gated")
    Oracle.clear_cache()
    base = rss()
    con = construct(spec, t=0.2, eps=1e-6, attention="compact", algorithm="chebyshev",
                    time_conditioning="gated")
    extra = {"layers": con.config.layers, "est_layers": est.layers}
elif kind == "derive":
    from ditgp.theory.derive import derive
    # warm up at a moderate size: lazy imports and BLAS/LAPACK buffers are not counted
    derive(GPSpec(kernel("laplace", ell=4.0), H=400, d=d), 0.1, 1e-6)
    est = B.derive_estimate(H, d); base = rss(); derive(spec, 0.1, 1e-6); extra = {}
elif kind == "oracle":
    from ditgp.numerics import Oracle
    Oracle.for_spec(GPSpec(kernel("laplace", ell=4.0), H=400, d=d)); Oracle.clear_cache()  # warm up
    est = B.oracle_estimate(H, d); base = rss(); Oracle.for_spec(spec); extra = {}
elif kind == "score":
    from ditgp.numerics import Oracle, exact_score
    exact_score(GPSpec(kernel("laplace", ell=4.0), H=300, d=d), np.ones((8, d, 300)), 0.1)
    Oracle.clear_cache()  # warmed up: lazy imports and BLAS/LAPACK buffers are not counted
    X = np.ones((200, d, H)); est = B.score_estimate(200, H, d); base = rss()
    exact_score(spec, X, 0.1); extra = {}
peak = hwm()
print(json.dumps({"est": est.bytes, "used": peak - base, **extra}))
"""


def _measure(kind: str, H: int, d: int) -> dict:
    proc = subprocess.run([sys.executable, "-c", MEASURE, kind, str(H), str(d)],
                          capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("kind, H, d", [("derive", 1500, 4), ("oracle", 1500, 4),
                                        ("score", 600, 8)])
def test_spectral_estimates_within_factor_of_measured_memory(kind, H, d):
    """The size-dependent memory (at ``H`` minus at ``H/2``, each in a fresh process) is the
    estimate's within ``SPECTRAL_ESTIMATE_FACTOR``: differencing removes one-off allocations
    (imports, BLAS buffers, allocator arenas) that depend on the environment, not on ``H``."""
    big, small = _measure(kind, H, d), _measure(kind, H // 2, d)
    ratio = (big["est"] - small["est"]) / (big["used"] - small["used"])
    assert 1 / B.SPECTRAL_ESTIMATE_FACTOR <= ratio <= B.SPECTRAL_ESTIMATE_FACTOR, (big, small)


@pytest.mark.slow
def test_construct_estimate_within_factor_of_measured_memory_and_layers():
    got = _measure("construct", 48, 2)
    assert 1 / B.ESTIMATE_FACTOR <= got["est"] / got["used"] <= B.ESTIMATE_FACTOR, got
    assert got["layers"] <= got["est_layers"] <= 1.5 * got["layers"], got


def test_estimates_grow_as_the_theory_says():
    # Γ is H×H: memory ∝ H², eigensolver work ∝ H³ (a wrong power fails these ratios)
    a, b = B.derive_estimate(1000, 2), B.derive_estimate(2000, 2)
    assert b.bytes / a.bytes == pytest.approx(4, rel=1e-3)
    assert b.flops / a.flops == pytest.approx(8, rel=1e-2)
    # the dense baseline of bench oracle is (dH)×(dH)
    assert B.dense_score_estimate(100, 20, 1).bytes > 100 * B.oracle_estimate(100, 20).bytes


def test_construct_estimate_counts_layers_from_the_theory():
    from ditgp.numerics.constructions.construct import construct
    from ditgp.theory.kernels import kernel
    from ditgp.theory.spec import GPSpec

    spec = GPSpec(kernel("laplace", ell=2.0), H=8, d=2)
    for alg in ("gd", "chebyshev"):
        est = B.construct_estimate(spec, 0.2, 1e-4, "paper", alg, "fixed")
        con = construct(spec, t=0.2, eps=1e-4, attention="paper", algorithm=alg, measure=False)
        assert con.config.layers <= est.layers <= 1.5 * con.config.layers + 2
        assert con.config.heads <= est.heads <= 2 * con.config.heads


def test_budget_refusal_names_flag_value_and_force(monkeypatch):
    monkeypatch.setenv("DITGP_MEMORY_BUDGET", "1M")
    assert B.budget().memory == 1024**2
    est = B.derive_estimate(2000, 2)
    assert not est.fits()
    with pytest.raises(ResourceError) as info:
        est.check("--H", 2000, alternative="H ≤ 100 fits")
    msg = str(info.value)
    assert msg.startswith("--H=2000: expected") and "--force" in msg and "H ≤ 100 fits" in msg
    est.check("--H", 2000, force=True)  # lifted
    assert B.derive_estimate(100, 2).fits()


@pytest.mark.parametrize("text, value", [("8G", 8 * 1024**3), ("2.5e9", 2_500_000_000),
                                         ("512MiB", 512 * 1024**2)])
def test_memory_budget_env(monkeypatch, text, value):
    monkeypatch.setenv("DITGP_MEMORY_BUDGET", text)
    assert B.budget().memory == value


def test_memory_budget_default_is_a_fraction_of_physical_memory(monkeypatch):
    monkeypatch.delenv("DITGP_MEMORY_BUDGET", raising=False)
    total = B.total_memory()
    assert total is None or B.budget().memory == int(B.MEMORY_FRACTION * total)
    monkeypatch.setenv("DITGP_MEMORY_BUDGET", "lots")
    with pytest.raises(ResourceError):
        B.budget()


def test_unknown_spectrum_method_is_refused():
    with pytest.raises(ValueError, match="method='toeplitz'"):
        B.derive_estimate(10, 2, method="toeplitz")


def test_fft_estimates_are_linear_in_H_and_never_H_squared():
    """The FFT path's estimates (derive, score) grow at most like H log H (plus a fixed FFT
    working set), never like H²: a long
    sequence that the dense path refuses fits."""
    for est in (B.derive_estimate, lambda H, d: B.score_estimate(64, H, d, "fft")):
        a, b = est(16_384, 8, "fft") if est is B.derive_estimate else est(16_384, 8), \
            est(65_536, 8, "fft") if est is B.derive_estimate else est(65_536, 8)
        assert 1.0 <= b.bytes / a.bytes <= 5.0, (a.bytes, b.bytes)  # H² would be 16×
    assert not B.derive_estimate(65_536, 8).fits()
    assert B.derive_estimate(65_536, 8, "fft").fits()
