"""Resource estimates made *before* work, and the budget they are checked against.

Every command line request that builds a matrix, an eigendecomposition or a network is first
costed here — bytes of the largest simultaneous allocation, floating-point operations and,
for constructions, layers and heads — and refused with a
:class:`~ditgp.theory.errors.ResourceError` when it exceeds the budget (``--force`` lifts
it).  The estimates are plain functions of the sizes the theory fixes (``H``, ``d``, the
window ``w`` of :func:`ditgp.theory.truncation.window`, the step counts of
:mod:`ditgp.theory.iterations`) and of the architecture's widths (one
:class:`~ditgp.numerics.constructions.architecture.Block` is instantiated on torch's ``meta`` device, so its
parameter and buffer bytes are exact without allocating them).  They are *estimates*:
``tests/numerics/test_budget.py`` holds them within a stated factor
(:data:`ESTIMATE_FACTOR`) of the measured peak memory at small sizes.

**Budget.**  Memory: :data:`MEMORY_FRACTION` of this machine's physical memory (read from
``os.sysconf``; :data:`FALLBACK_MEMORY` where it cannot be read), or the number of bytes in the
environment variable ``DITGP_MEMORY_BUDGET`` (suffixes ``K``, ``M``, ``G``, ``T``: powers of
1024).  Work: :data:`FLOP_BUDGET` floating-point operations (minutes of one core).  Depth:
:data:`LAYER_BUDGET` layers.

**Methods.**  Estimates of the spectra are keyed by ``method``: ``"dense"`` (an ``H × H``
``Γ`` and LAPACK's symmetric eigensolver, what the library does today).  A structured
(Toeplitz / FFT) path for huge ``H`` registers its own costs in :data:`SPECTRUM_METHODS`.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ditgp.theory.errors import ResourceError

__all__ = [
    "ESTIMATE_FACTOR",
    "FFT_LANCZOS_STEPS",
    "FLOP_BUDGET",
    "SECONDS_BUDGET",
    "check_seconds",
    "human_seconds",
    "LAYER_BUDGET",
    "MEMORY_FRACTION",
    "Budget",
    "Estimate",
    "fft_score_estimate",
    "budget",
    "construct_estimate",
    "dense_score_estimate",
    "derive_estimate",
    "eigh_estimate",
    "fmt_bytes",
    "network_estimate",
    "oracle_estimate",
    "score_estimate",
    "spec_estimate",
    "steps_for",
    "total_memory",
]

#: Fraction of physical memory a single command may plan to use.
MEMORY_FRACTION = 0.5
#: Budget when the machine's memory cannot be read.
FALLBACK_MEMORY = 4 * 1024**3
#: Floating-point operations a command may plan (≈ minutes on one core at ~10–50 GFLOP/s).
FLOP_BUDGET = 5e12
#: Layers a construction may plan (each layer is a Python module with its own tensors).
LAYER_BUDGET = 10_000
#: The tests hold every estimate within this factor of the measured peak (both directions)...
ESTIMATE_FACTOR = 3.0
#: ... and the dense spectral ones (derive, oracle, score) within this tighter factor.
SPECTRAL_ESTIMATE_FACTOR = 1.5
#: Wall-clock seconds a command may plan without ``--force`` (sampling, comparisons and
#: experiment grids whose cost is timed or modelled before the work).
SECONDS_BUDGET = 6 * 3600.0
#: Bytes of one float64.
F64 = 8
#: Host memory per constructed layer beyond its tensors (Python module objects, the feed-forward
#: programs and unit tables the construction keeps, allocator slack); measured on CPU at small
#: sizes (≈ 0.4 MiB per block with H ≤ 64).
PER_LAYER_OVERHEAD = 384 * 1024

_SUFFIX = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def fmt_bytes(n: float) -> str:
    """``1.5 GiB`` style (``inf`` and astronomically large values as powers of ten)."""
    if not math.isfinite(n):
        return "∞ bytes"
    for unit, scale in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            v = n / scale
            return f"{v:.3g} {unit}" if v < 1e6 else f"{n:.2e} bytes"
    return f"{int(n)} bytes"


def total_memory() -> int | None:
    """Physical memory of this machine in bytes (``None`` when it cannot be read)."""
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
    return int(pages) * int(size) if pages > 0 and size > 0 else None


def _parse_bytes(text: str) -> int:
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([KMGT]?)i?B?\s*", text,
                     re.IGNORECASE)
    if not m:
        raise ResourceError("DITGP_MEMORY_BUDGET", text, "a number of bytes, e.g. 8G or 2.5e9")
    return int(float(m.group(1)) * _SUFFIX[m.group(2).upper()])


@dataclass(frozen=True)
class Budget:
    """What a command may plan to use: ``memory`` bytes, ``flops``, ``layers``."""

    memory: int
    flops: float = FLOP_BUDGET
    layers: int = LAYER_BUDGET
    source: str = ""


def budget() -> Budget:
    """The budget on this machine (``DITGP_MEMORY_BUDGET`` overrides the memory part)."""
    env = os.environ.get("DITGP_MEMORY_BUDGET")
    if env:
        return Budget(_parse_bytes(env), source="DITGP_MEMORY_BUDGET")
    total = total_memory()
    if total is None:
        return Budget(FALLBACK_MEMORY, source="fallback (memory size unknown)")
    return Budget(int(MEMORY_FRACTION * total),
                  source=f"{MEMORY_FRACTION:g} of {fmt_bytes(total)} physical memory")


@dataclass(frozen=True)
class Estimate:
    """Planned cost of one piece of work.

    ``bytes``: peak of the simultaneous allocations; ``flops``: floating-point operations;
    ``layers`` / ``heads`` for networks; ``parts``: what the bytes are made of (for messages).
    """

    what: str
    bytes: float
    flops: float = 0.0
    layers: int | None = None
    heads: int | None = None
    parts: dict[str, float] = field(default_factory=dict)

    def then(self, other: Estimate, keep: float = 0.0) -> Estimate:
        """Sequential composition: peak ``max(self, keep + other)`` (``keep`` bytes of
        ``self`` stay alive during ``other``), work adds up."""
        return Estimate(self.what, max(self.bytes, keep + other.bytes), self.flops + other.flops,
                        other.layers if other.layers is not None else self.layers,
                        other.heads if other.heads is not None else self.heads,
                        {**self.parts, **other.parts})

    def fits(self, limits: Budget | None = None) -> bool:
        """Whether the estimate is within the budget (memory, work and layers)."""
        lim = limits or budget()
        return (self.bytes <= lim.memory and self.flops <= lim.flops
                and (self.layers is None or self.layers <= lim.layers))

    def check(self, flag: str, value, *, force: bool = False, alternative: str = "",
              limits: Budget | None = None) -> None:
        """Raise :class:`ResourceError` naming ``flag=value``, the estimate and what fits,
        unless it is within the budget or ``force``."""
        if force:
            return
        lim = limits or budget()
        over = []
        if self.bytes > lim.memory:
            over.append(f"about {fmt_bytes(self.bytes)} of memory for {self.what} "
                        f"(budget {fmt_bytes(lim.memory)}: {lim.source})")
        if self.flops > lim.flops:
            over.append(f"about {self.flops:.1e} floating-point operations for {self.what} "
                        f"(budget {lim.flops:.0e})")
        if self.layers is not None and self.layers > lim.layers:
            over.append(f"{self.layers:,} layers (budget {lim.layers:,})")
        if not over:
            return
        fix = f"; {alternative}" if alternative else ""
        raise ResourceError(flag, value, "a request within the resource budget: it needs "
                            + " and ".join(over) + fix + "; --force runs it anyway")


# -- spectra ------------------------------------------------------------------------------


def eigh_estimate(n: int, vectors: bool) -> Estimate:
    """LAPACK symmetric eigensolver on an ``n × n`` float64 matrix (numpy ``eigh`` /
    ``eigvalsh``): a working copy (``8n²``) plus, with vectors, the eigenvector matrix
    (``8n²``) and the divide-and-conquer workspace (``≈ 2n²`` doubles).  Work: the
    tridiagonal reduction ``4/3·n³`` plus ``8/3·n³`` to form the vectors."""
    n2 = float(n) ** 2
    if vectors:
        return Estimate(f"an {n}×{n} eigendecomposition", 4 * F64 * n2, 4.0 * float(n) ** 3,
                        parts={"eigh": 4 * F64 * n2})
    return Estimate(f"the eigenvalues of an {n}×{n} matrix", F64 * n2, 4 / 3 * float(n) ** 3,
                    parts={"eigvalsh": F64 * n2})


def _dense_matrix_bytes(n: int) -> float:
    """Peak of building a dense ``n × n`` Toeplitz matrix as the kernels do (``|i - j|`` as
    int64, then the float64 gather; the signed difference is freed once its absolute value
    exists): ``2·8n²``."""
    return 2 * F64 * float(n) ** 2


def _dense_spectrum(H: int, vectors: bool) -> Estimate:
    build = _dense_matrix_bytes(H)
    eig = eigh_estimate(H, vectors)
    return Estimate(f"Γ ({H}×{H}) and its {'eigendecomposition' if vectors else 'eigenvalues'}",
                    max(build, F64 * H**2 + eig.bytes), eig.flops,
                    parts={"Gamma": F64 * float(H) ** 2, **eig.parts})


#: Lanczos steps the FFT path's extreme eigenvalues may take (its Krylov basis is kept).
FFT_LANCZOS_STEPS = 300


def _fft_spectrum(H: int, vectors: bool) -> Estimate:
    """The long-sequence path (:mod:`ditgp.numerics.fft.fft_oracle`): ``Γ`` only through its
    symbol, extreme eigenvalues by Lanczos on the FFT operator (a Krylov basis of
    ``FFT_LANCZOS_STEPS`` vectors of length ``H``) — ``O(H)`` memory, never ``H × H``.  There
    are no eigenvectors; solves are certified CG (:func:`fft_score_estimate`)."""
    basis = F64 * float(H) * (FFT_LANCZOS_STEPS + 16)
    fft = 2 * 16.0 * 2 * H  # complex buffers of the length-2H embedding
    flops = FFT_LANCZOS_STEPS * 10.0 * 2 * H * math.log2(max(2 * H, 2))
    return Estimate(f"Lanczos extremes of Γ by FFT (H={H})", basis + fft, flops,
                    parts={"lanczos": basis})


#: ``method -> (H, vectors) -> Estimate`` for the temporal spectrum.
SPECTRUM_METHODS: dict[str, Callable[[int, bool], Estimate]] = {"dense": _dense_spectrum,
                                                                 "fft": _fft_spectrum}


def _spectrum(H: int, vectors: bool, method: str) -> Estimate:
    try:
        fn = SPECTRUM_METHODS[method]
    except KeyError:
        raise ValueError(f"method={method!r}: expected one of {sorted(SPECTRUM_METHODS)}") from None
    return fn(H, vectors)


def _sigma_estimate(d: int) -> Estimate:
    """``Σ`` (``d × d``): built (random ``Σ``: a Gaussian matrix, its QR, products: ``≈5·8d²``)
    and checked positive definite by its eigenvalues."""
    d2 = float(d) ** 2
    return Estimate(f"Σ ({d}×{d})", 5 * F64 * d2, 2 * 4 / 3 * float(d) ** 3,
                    parts={"Sigma": F64 * d2})


def spec_estimate(H: int, d: int, method: str = "dense") -> Estimate:
    """Building a :class:`~ditgp.theory.spec.GPSpec`: ``Σ`` is materialised and checked;
    ``Γ`` is built on first use (counted here since every dense command uses it; the FFT
    path never forms it)."""
    sig = _sigma_estimate(d)
    if method == "fft":
        return sig
    return Estimate(f"the spec's Γ ({H}×{H}) and Σ ({d}×{d})",
                    max(sig.bytes, F64 * float(d) ** 2 + _dense_matrix_bytes(H)), sig.flops,
                    parts={"Gamma": F64 * float(H) ** 2, **sig.parts})


def derive_estimate(H: int, d: int, method: str = "dense") -> Estimate:
    """``ditgp derive``: ``Γ``'s eigenvalues (exact ``λ_min``, ``λ_max``) and ``Σ``'s; with
    ``method="fft"`` the Lanczos extremes and the Gohberg–Semencul floor (``O(dH)``)."""
    if method == "fft":
        return spec_estimate(H, d, "fft").then(_spectrum(H, False, "fft")).then(
            fft_score_estimate(1, H, d))
    spec = spec_estimate(H, d)
    return spec.then(_spectrum(H, False, method), keep=F64 * float(d) ** 2)


def oracle_estimate(H: int, d: int, method: str = "dense") -> Estimate:
    """:class:`~ditgp.numerics.oracle.Oracle`: both eigendecompositions, kept (``Γ``, ``U_Γ``)."""
    spec = spec_estimate(H, d)
    est = spec.then(_spectrum(H, True, method), keep=2 * F64 * float(d) ** 2)
    est = est.then(eigh_estimate(d, True), keep=2 * F64 * float(H) ** 2)
    return Estimate(f"the exact score oracle (eigendecomposition of Γ, {H}×{H})", est.bytes,
                    est.flops, parts=est.parts)


def score_estimate(n: int, H: int, d: int, method: str = "dense") -> Estimate:
    """``ditgp score`` of ``n`` sequences: the oracle, then the batch (input, float64 copy and
    the sandwich products: ``≈6`` arrays of ``n·d·H`` doubles) in ``O(n(dH² + d²H))``."""
    if method == "fft":
        return fft_score_estimate(n, H, d)
    ora = oracle_estimate(H, d, method)
    batch = 6 * F64 * float(n) * d * H
    work = Estimate(f"the scores of {n} sequences", batch, 4.0 * n * (d * H * H + d * d * H),
                    parts={"batch": batch})
    est = ora.then(work, keep=2 * F64 * float(H) ** 2)
    return Estimate(f"the exact scores of {n} sequences (H={H}, d={d})", est.bytes, est.flops,
                    parts=est.parts)


def dense_score_estimate(H: int, d: int, n: int) -> Estimate:
    """The dense baseline of ``bench oracle``: ``A_t`` (``dH × dH``) from a Kronecker product
    and an identity (``≈3`` dense copies), a Cholesky factor in place (``N³/3``) and ``n``
    solves (``2nN²``), after the oracle of the same size."""
    N = float(d) * H
    dense = Estimate(f"the dense covariance A_t ({int(N)}×{int(N)}) and its Cholesky factor",
                     3 * F64 * N * N, N**3 / 3 + 2 * n * N * N, parts={"A_t": F64 * N * N})
    est = score_estimate(n, H, d).then(dense, keep=2 * F64 * float(H) ** 2)
    return Estimate(dense.what, est.bytes, est.flops, parts=est.parts)


# -- networks -----------------------------------------------------------------------------


def block_bytes(cfg) -> int:
    """Exact bytes of one :class:`~ditgp.numerics.constructions.architecture.Block` of ``cfg`` (parameters
    and buffers), from an instance on torch's ``meta`` device (nothing is allocated)."""
    import torch

    from .constructions.architecture import Block

    with torch.device("meta"):
        block = Block(cfg)
    tensors = [*block.parameters(), *block.buffers()]
    return int(sum(t.numel() * t.element_size() for t in tensors))


def network_estimate(cfg, n: int = 16) -> Estimate:
    """A network of ``cfg`` with weights written (module plus one serialised copy of every
    tensor when saved) and one forward pass on ``n`` sequences: per block the attention
    activations ``q, k, v`` and the ``H × H`` pattern (``≈3`` copies for ReLU attention, ``≈5``
    for softmax with its mask and sink column) for each head."""
    per_block = block_bytes(cfg)
    weights = cfg.layers * (2.0 * per_block + PER_LAYER_OVERHEAD) + F64 * cfg.d * cfg.width
    M, H, D = cfg.heads, cfg.H, cfg.width
    esize = 4 if cfg.dtype == "float32" else 8
    patterns = (5 if cfg.attention == "softmax" else 3) * float(n) * M * H * H
    qkv = float(n) * M * H * (2 * cfg.head_dim + 2 * cfg.dv) + 4 * float(n) * H * (D + cfg.ffn_hidden)
    act = esize * (patterns + qkv)
    flops = 2.0 * cfg.layers * n * (M * H * H * (cfg.head_dim + cfg.dv) + 2 * H * D * cfg.ffn_hidden
                                    + 3 * M * H * D * max(cfg.head_dim, cfg.dv))
    return Estimate(f"a network of {cfg.layers:,} layers × {M} heads (width {D}, H={H})",
                    weights + act, flops, layers=cfg.layers, heads=M,
                    parts={"weights": weights, "activations": act})


#: Feed-forward groups (ReLU units per coordinate) of one block, as the construction writes
#: them: ``(time_conditioning, chebyshev) -> groups``; multiply blocks use the largest
#: (the first sub-block: 8 product units + the update pairs).
FFN_GROUPS = {("fixed", False): 6, ("fixed", True): 8, ("gated", False): 8, ("gated", True): 12,
              ("multiply", False): 14, ("multiply", True): 16}


def construct_estimate(spec, t: float, eps: float, attention: str = "compact",
                       algorithm: str = "chebyshev", time_conditioning: str = "fixed",
                       window: int | None = None, n: int = 16, spectrum: bool = True,
                       ) -> Estimate:
    """``ditgp construct``: the oracle, then the network.

    Steps ``K`` from :mod:`ditgp.theory.iterations` on the spectral interval of ``A_t`` (the
    oracle's exact ``λ``, ``μ``; over ``{t0, T}`` for all-``t`` plans) at target ``eps/2``;
    window ``w`` from :func:`ditgp.theory.truncation.window` at ``eps/2``; heads ``4(w+1)``
    (paper), the compact realisation's count, or ``≤ 2`` (softmax); multiplication depth
    from :func:`ditgp.numerics.constructions.multiply.depth_for`.  ``spec`` must be affordable
    (:func:`oracle_estimate` first): the oracle built here is the one the construction reuses.

    With ``spectrum=False`` nothing of size ``H²`` is computed: the plan is taken as one
    iteration, so the estimate is a *lower* bound (one block and its activations) — enough to
    refuse, before the oracle, a request whose single block does not fit.
    """
    import numpy as np
    from ditgp.theory.truncation import window as theory_window

    from .constructions import multiply as mult
    from .constructions.architecture import ArchConfig
    from .constructions.layout import ChannelLayout
    from .constructions.realise import compact_heads
    from .oracle import Oracle

    H, d = spec.H, spec.d
    K = steps_for(spec, t, eps, algorithm, time_conditioning) if spectrum else 1
    gamma = Oracle.for_spec(spec).gamma if spectrum else spec.kernel.gamma(np.arange(H))
    w = min(window, H - 1) if window is not None else theory_window(spec.kernel, eps / 2, H)
    if attention == "paper":
        M = 4 * (w + 1)
    elif attention == "compact":
        M = len(compact_heads(np.asarray(gamma, dtype=np.float64), w, 1.0, 2 * H))
    else:
        M = 2
    depth = mult.depth_for(eps * 1e-3) if time_conditioning == "multiply" else 1
    cheb = algorithm == "chebyshev"
    features = {"fixed": 0, "gated": 2, "multiply": 1}[time_conditioning]
    chans = [("x", d), ("v", d), ("pos", 2), ("const", 1),
             ("rest", d * (1 + cheb + 4 * (time_conditioning == "multiply")))]
    if features:
        chans.append(("time", features))
    softmax = attention == "softmax"
    tf = {0: (), 1: ("alpha2",), 2: ("alpha2", "sigma2")}[features]
    cfg = ArchConfig(d=d, H=H, layout=ChannelLayout(tuple(chans)), layers=K * depth, heads=M,
                     head_dim=1 if softmax else 3, value_dim=d,
                     attention="softmax" if softmax else "relu",
                     ffn_hidden=FFN_GROUPS[(time_conditioning, cheb)] * d, sink=softmax,
                     rel_pos=softmax, window=w if softmax else None,
                     gated=time_conditioning == "gated", time_features=tf)
    net = network_estimate(cfg, n)
    est = oracle_estimate(H, d).then(net, keep=2 * F64 * float(H) ** 2)
    what = f"the construction ({K * depth:,} layers × {M} heads, H={H}, d={d})"
    if not spectrum:
        what = f"one block of the construction ({M} heads, H={H}, d={d})"
    return Estimate(what,
                    est.bytes, est.flops, layers=K * depth, heads=M, parts=est.parts)


def steps_for(spec, t: float, eps: float, algorithm: str, time_conditioning: str = "fixed") -> int:
    """Iterations ``K`` the theory needs for ``algorithm`` (as :func:`construct_estimate`)."""
    from ditgp.theory import iterations as it

    from .oracle import Oracle

    ora = Oracle.for_spec(spec)
    sched = spec.schedule
    times = (sched.t0, sched.T) if time_conditioning in ("gated", "multiply") else (t,)
    ends = [it.a_t_extremes(max(float(ora.lam[0]), 0.0), float(ora.lam[-1]), float(ora.mu[0]),
                            float(ora.mu[-1]), float(sched.alpha2(tt)), float(sched.sigma2(tt)))
            for tt in times]
    a_min, a_max = min(float(e[0]) for e in ends), max(float(e[1]) for e in ends)
    steps = it.gd_steps if algorithm == "gd" else it.chebyshev_steps
    return steps(a_min, a_max, eps / 2)


def fft_score_estimate(n: int, H: int, d: int) -> Estimate:
    """The FFT path's certified solves of ``n`` sequences: memory from
    :func:`ditgp.numerics.fft.fft_oracle.fft_memory_bytes` (linear in ``n·d·H``), work ``≈ 40``
    CG iterations of a few length-``2H`` FFTs per row."""
    from ditgp.numerics.fft.fft_oracle import fft_memory_bytes

    mem = float(fft_memory_bytes(n, d, H))
    flops = 40 * 4 * 10.0 * n * d * 2 * H * math.log2(max(2 * H, 2))
    return Estimate(f"the certified FFT-path solves of {n} sequences (H={H}, d={d})", mem, flops,
                    parts={"fft": mem})


# -- time -----------------------------------------------------------------------------------


def human_seconds(seconds: float) -> str:
    """``42 s``, ``12.5 min``, ``7.3 h`` or ``9.1 days``."""
    if not math.isfinite(seconds):
        return "∞"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def check_seconds(flag: str, value, seconds: float, how: str, *, force: bool = False,
                  alternative: str = "", limit: float = SECONDS_BUDGET) -> None:
    """Refuse (:class:`ResourceError` naming ``flag=value``) work estimated at more than
    ``limit`` seconds of wall clock, unless ``force``; ``how`` says how it was estimated."""
    if force or seconds <= limit:
        return
    fix = f"; {alternative}" if alternative else ""
    raise ResourceError(flag, value, f"a request within the time budget of {human_seconds(limit)}: "
                        f"it is estimated at {human_seconds(seconds)} ({how}){fix}; --force runs "
                        "it anyway")
