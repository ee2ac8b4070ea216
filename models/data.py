"""Training data from a GP spec: counter-based batch streams generated on the training
device, finite training sets, the forward noising, the Bayes floor of the ε-loss and the
independent-frames baseline.

Shapes follow the project: a batch of sequences is ``(b, d, H)`` (column ``h`` = frame ``h``).

**Counter-based streams** (:class:`GPStream`).  Every random number of row ``i`` of global
batch ``k`` comes from Philox4x32-10 (:mod:`ditgp.models.philox`) at the counter
``(j, i, k mod 2³², domain·2²⁴ + ⌊k/2³²⌋)`` under the key ``seed`` (64 bits): a pure function
of ``(seed, k, i)`` and of the position ``j`` inside the row.  There is no generator state, so
a resumed run sees exactly the batches it would have seen, and rank ``r`` of ``world``
generates only its rows ``[r·b/world, (r+1)·b/world)`` of global batch ``k`` — the data of an
``N``-process run equals the 1-process run's, row for row.  The whole batch is one tensor
computation on the device (no per-row Python loop): ~10 in-place integer operations per
Philox round over all counters of the batch at once.

Each row takes, from separate domains of the counter space:

* the time ``t`` — one 53-bit uniform ``u`` (domain 1) mapped to ``t₀ + (T − t₀)·u``
  (``uniform``) or ``t₀·(T/t₀)^u`` (``log-uniform``) on ``[t₀, T]`` (:func:`sample_times`);
* the clean sequence ``X₀ ~ N(0, Γ⊗Σ)`` — ``dH`` standard normals ``G`` (domain 2, Box–Muller,
  one 32-bit word per normal) and the exact square root of the covariance through the oracle's
  eigendecompositions ``Γ = U_Γ diag(λ) U_Γᵀ``, ``Σ = U_Σ diag(μ) U_Σᵀ``:
  ``X₀ = U_Σ (√(μλᵀ) ⊙ G) U_Γᵀ``, batched matrix products on the device (below); with a
  finite training set instead, the entry of the epoch's permutation of the set
  (:class:`GPStream`);
* the noise ``Z`` — ``dH`` standard normals (domain 3).

Normal ``m`` of a row (``0 ≤ m < dH``, row-major over ``(d, H)``) comes from Philox block
``j = m mod n_b`` (``n_b = ⌈dH/4⌉``) and Box–Muller output ``⌊m/n_b⌋`` of that block
(``r_a cos θ_a, r_a sin θ_a, r_b cos θ_b, r_b sin θ_b``).

**Exact matrix products.**  A BLAS may round a row of ``A @ B`` differently depending on how
many rows ``A`` has (measured: MKL changes the last bit of ``X₀`` between a 7-row batch and
its 1-row slice), which would make a rank's rows differ from the 1-process run's.  So each
product is computed on integers: both operands are scaled by powers of two (chosen from the
spec only: bounds of the row and column norms, never from the data) and split into two
integer parts ``A ≈ A₁ + 2⁻ᵇA₂``; the three products ``A₁B₁``, ``A₁B₂``, ``A₂B₁`` have every
partial sum an integer below ``2⁵³``, hence are exact in float64 in any summation order, with
or without FMA, on any BLAS and device; they are combined element-wise.  The split keeps about
``51 − ½log₂K`` bits of each operand relative to its norm bound (``K`` the contraction length):
``X₀`` agrees with the plain float64 product to ~1e-12 relative (measured 3e-14 at ``H = 8``,
5e-13 at ``H = 96``, 2e-12 at ``H = 512``; tested), far below float32 rounding.  The cost is
three GEMMs per product instead of one.

**Precision.**  The words are integers (bit-identical on every device); the normals, the
transform and ``t`` are computed in float64 on the training device (CPU or CUDA: a batch is
a few MFLOP, negligible even at a consumer GPU's float64 rate) and ``X₀``, ``Z`` are cast to
the stream's dtype at the end; ``t`` stays float64.  On one device type the bytes of a batch
are reproducible and independent of the slicing, the batch size and the thread count; between
CPU and CUDA the float64 normals may differ in the last ulp (the two devices' ``log``/``cos``),
which the cast to float32 almost always removes.

**Forward process** (docs/theory.md §2): ``X_t = α_t X₀ + σ_t Z``, ``α_t = e^{-t/2}``,
``σ_t² = 1 - e^{-t}``.  **Bayes floor**: the minimum of ``E‖ε_θ(X_t, t) - Z‖²`` is
``Σ α_t²λ_iμ_j/(α_t²λ_iμ_j + σ_t²)`` (out of ``dH``), attained by ``ε* = -σ_t s``;
:func:`bayes_floor` divides by ``dH`` to match the per-element mean-squared loss.

The stream of version 0.1 drew each row from its own NumPy ``PCG64(SeedSequence([seed, k, i]))``
on the host; the law is the same, the numbers a seed gives are not (CHANGELOG.md).
"""

from __future__ import annotations

import json
import math
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ditgp.models.philox import (
    MASK32,
    MAX_NORMAL,
    Philox4x32Block,
    box_muller,
    philox4x32,
    uniform53,
)
from ditgp.numerics.atomic import atomic_write_bytes
from ditgp.numerics.oracle import Oracle
from ditgp.theory.errors import SpecError, require
from ditgp.theory.spec import GPSpec

__all__ = ["T_SAMPLINGS", "TRAIN_SET_FORMAT", "GPStream", "Prefetcher", "sample_times",
           "make_train_set", "save_train_set", "load_train_set", "noised", "alpha_sigma",
           "bayes_floor", "independent_frames_score"]

T_SAMPLINGS = ("uniform", "log-uniform")
TRAIN_SET_FORMAT = "ditgp.trainset/1"
#: Philox counter domains (the top byte of counter word 3): one independent stream per quantity
DOMAIN_T, DOMAIN_X0, DOMAIN_Z, DOMAIN_EPOCH = 1, 2, 3, 4
#: largest seed (the Philox key is 64 bits)
MAX_SEED = 2**64 - 1
#: largest batch index (32 bits in counter word 2, 24 in word 3 below the domain byte)
MAX_BATCH_INDEX = 2**56 - 1


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    ok = (isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= low
          and (high is None or value <= high))
    require(ok, name, value, f"an integer ≥ {low}" if high is None
            else f"an integer in [{low}, {high}]")
    return int(value)


def sample_times(u: torch.Tensor, t0: float, T: float, sampling: str) -> torch.Tensor:
    """Times on ``[t₀, T]`` from uniforms ``u`` on ``[0, 1)`` (float64, ``u``'s device):
    ``t₀ + (T − t₀)·u`` (``uniform``) or ``t₀·(T/t₀)^u`` (``log-uniform``), clamped to
    ``[t₀, T]`` against rounding."""
    if sampling == "uniform":
        t = u * (T - t0) + t0
    else:
        t = torch.pow(torch.full_like(u, T / t0), u) * t0
    return t.clamp_(t0, T)


#: each operand of an exact product is scaled so that its row (column) norm is ≤ 2^25
_EXACT_HEAD = 25


def _exact_bits(K: int) -> int:
    """Bits of the second integer part for a contraction of length ``K``: every partial sum
    of ``A₁B₂`` and ``A₂B₁`` stays below ``2^49`` (Cauchy–Schwarz: ``2^25·√K·2^(b−1)``)."""
    return int(math.floor(26 - 0.5 * math.log2(K))) - 1


def _exponent(norm: float) -> int:
    """Power of two that scales ``norm`` to at most ``2^_EXACT_HEAD``."""
    return int(math.floor(_EXACT_HEAD - math.log2(norm))) if norm > 0 else 0


def _split(x: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``x = hi + lo·2⁻ᵇ`` up to ``2^-(b+1)``: ``hi``, ``lo`` integers in float64 (exact
    operations: ``x − round(x)`` and power-of-two scalings are exact)."""
    hi = torch.round(x)
    return hi, torch.round((x - hi).mul_(2.0 ** bits))


def _combine(p11: torch.Tensor, p_cross: torch.Tensor, bits: int, unscale) -> torch.Tensor:
    """``(A₁B₁ + 2⁻ᵇ(A₁B₂ + A₂B₁))·unscale`` element-wise (the products are exact integers)."""
    return p11.add_(p_cross.mul_(2.0 ** -bits)).mul_(unscale)


class GPStream:
    """Counter-based stream of ``(X₀, t, Z)`` batches for ``spec`` (see the module docstring).

    ``batch`` is the *global* batch size; ``seed`` an integer in ``[0, 2⁶⁴)``; ``t_sampling``
    is ``"uniform"`` or ``"log-uniform"`` on ``[t0, T]`` of ``spec.schedule``; ``device`` where
    the batches are generated and returned.  ``train_set`` (``(n, d, H)``, copied to the
    device in ``dtype``) makes ``X₀`` rows come from that fixed set in epochs: global row
    ``g = k·batch + i`` takes element ``π_e(g mod n)`` of the permutation ``π_e`` of epoch
    ``e = ⌊g/n⌋`` — the stable argsort of 63-bit Philox keys of ``(seed, e, j)`` computed on
    the device (a pure function of ``(seed, e)``), so every sequence is used once per epoch;
    ``t`` and ``Z`` stay fresh.
    """

    def __init__(self, spec: GPSpec, *, batch: int, seed: int, t_sampling: str = "uniform",
                 dtype: torch.dtype = torch.float32, train_set: torch.Tensor | None = None,
                 device: str | torch.device = "cpu"):
        if not isinstance(spec, GPSpec):
            raise SpecError("spec", spec, "a GPSpec")
        self.spec = spec
        self.batch_size = _check_int("batch", batch, 1, MASK32)
        self.seed = _check_int("seed", seed, 0, MAX_SEED)
        require(t_sampling in T_SAMPLINGS, "t_sampling", t_sampling,
                "one of " + ", ".join(T_SAMPLINGS))
        self.t_sampling = t_sampling
        require(isinstance(dtype, torch.dtype) and dtype.is_floating_point, "dtype", dtype,
                "a floating torch dtype")
        self.dtype = dtype
        try:
            self.device = torch.device(device)
        except (RuntimeError, TypeError, ValueError):
            raise SpecError("device", device, "a torch device such as cpu or cuda:0") from None
        self.oracle = Oracle.for_spec(spec)
        lam = np.maximum(self.oracle.lam, 0.0)
        mu = np.maximum(self.oracle.mu, 0.0)
        f64 = {"dtype": torch.float64, "device": self.device}
        self._U_S = torch.tensor(np.array(self.oracle.U_Sigma), **f64)  # (d, d)
        self._U_GT = torch.tensor(np.array(self.oracle.U_Gamma.T), **f64)  # (H, H)
        self._exact_plan(lam, mu)
        self._key = (self.seed & MASK32, self.seed >> 32)
        self._blocks = -(-spec.d * spec.H // 4)  # Philox blocks per row and quantity
        self._templates: dict[tuple[int, int], tuple] = {}
        self._perms: dict[int, torch.Tensor] = {}  # epoch → permutation (a pure function)
        self._lock = threading.Lock()  # the caches are shared with a Prefetcher's thread
        self.train_set: torch.Tensor | None = None
        if train_set is not None:
            ts = torch.as_tensor(train_set.detach() if isinstance(train_set, torch.Tensor)
                                 else np.asarray(train_set))
            require(ts.ndim == 3 and tuple(ts.shape[1:]) == (spec.d, spec.H) and ts.shape[0] >= 1,
                    "train_set", tuple(ts.shape), f"shape (n, d, H) = (n, {spec.d}, {spec.H})")
            # float64 → dtype before the gather is the same as after it (elementwise rounding)
            self.train_set = ts.to(device=self.device, dtype=torch.float64).to(dtype).contiguous()

    def _exact_plan(self, lam: np.ndarray, mu: np.ndarray) -> None:
        """Scales and integer parts of the two exact products (module docstring).

        Stage 1, ``Y = B U_Γᵀ`` over ``H`` (rows of ``(n·d, H)``): row ``c`` of
        ``B = √(μλᵀ) ⊙ G`` has norm ``≤ |G|max·√(μ_c Σλ)``, columns of ``U_Γᵀ`` norm 1.
        Stage 2, ``X₀ᵀ = Yᵀ U_Σᵀ`` over ``d`` (rows of ``(n·H, d)``): rows of ``Yᵀ`` have norm
        ``≤ |G|max·√(Σμ Σλ)``, columns of ``U_Σᵀ`` norm 1."""
        d, H = self.spec.d, self.spec.H
        f64 = {"dtype": torch.float64, "device": self.device}
        bound = MAX_NORMAL * 1.001  # |G| ≤ MAX_NORMAL, with room for the rounding of Y
        e_row = [_exponent(bound * math.sqrt(m * lam.sum())) for m in mu]  # (d,)
        self._b1 = _exact_bits(H)
        scale = np.sqrt(np.multiply.outer(mu, lam)) * np.array([[2.0 ** e] for e in e_row])
        self._scale1 = torch.tensor(scale, **f64)  # √(μλᵀ)·2^e_c, (d, H)
        self._b2 = _exact_bits(d)
        self._e2 = _exponent(bound * math.sqrt(mu.sum() * lam.sum()))
        # stage 1's unscaling and stage 2's scaling in one factor per channel
        self._u1 = torch.tensor([[2.0 ** (self._e2 - e - _EXACT_HEAD)] for e in e_row], **f64)
        self._V = _split(self._U_GT * 2.0 ** _EXACT_HEAD, self._b1)  # (H, H) twice
        self._W = _split(self._U_S.T.contiguous() * 2.0 ** _EXACT_HEAD, self._b2)  # (d, d) twice

    @staticmethod
    def _exact_matmul(left: torch.Tensor, right: tuple[torch.Tensor, torch.Tensor], bits: int,
                      unscale, shape: tuple[int, ...] | None = None) -> torch.Tensor:
        """``left @ R`` for ``left`` ``(m, K)`` (already scaled) and ``R = R₁ + 2⁻ᵇR₂``: three
        exact integer products, ``L₁R₂ + L₂R₁`` accumulated in one (its partial sums stay
        integers below ``2⁵⁰``), combined element-wise (viewed as ``shape`` for ``unscale``)."""
        L1 = torch.round(left)
        L2 = left.sub_(L1).mul_(2.0 ** bits).round_()  # ``left`` is a temporary: reused
        R1, R2 = right
        p11, cross = L1 @ R1, (L1 @ R2).addmm_(L2, R1)
        if shape is not None:
            p11, cross = p11.view(shape), cross.view(shape)
        return _combine(p11, cross, bits, unscale)

    def transform(self, g: torch.Tensor) -> torch.Tensor:
        """``X₀ = U_Σ (√(μλᵀ) ⊙ G) U_Γᵀ`` for normals ``g`` ``(n, d, H)`` (float64, the
        stream's device), row by row independent of ``n`` (exact products).  Both products
        are right multiplications of folded rows, ``(n·d, H) @ (H, H)`` and
        ``(n·H, d) @ (d, d)``: plain GEMMs (a left multiplication would be a batched one)."""
        n, d, H = g.shape
        b = torch.mul(g, self._scale1).view(n * d, H)  # B·2^e_c (a new tensor: reused below)
        Y = self._exact_matmul(b, self._V, self._b1, self._u1, (n, d, H))  # B U_Γᵀ·2^e2
        Yt = Y.transpose(1, 2).reshape(n * H, d)  # (n·H, d)
        Xt = self._exact_matmul(Yt, self._W, self._b2, 2.0 ** -(self._e2 + _EXACT_HEAD))
        return Xt.view(n, H, d).transpose(1, 2)  # (n, d, H), a transposed view

    # -- rows and counters ------------------------------------------------------------------
    def rows(self, rank: int, world: int) -> tuple[int, int]:
        """Rows ``[lo, hi)`` of the global batch that ``rank`` of ``world`` takes."""
        world = _check_int("world", world, 1)
        rank = _check_int("rank", rank, 0)
        require(rank < world, "rank", rank, f"an integer in [0, world={world})")
        require(world <= self.batch_size, "world", world,
                f"at most the global batch size {self.batch_size}")
        b = self.batch_size
        return rank * b // world, (rank + 1) * b // world

    def _template(self, lo: int, hi: int) -> tuple:
        """Counter words 0, 1 and the domain part of word 3 for rows ``[lo, hi)``: one block
        per row for ``t``, then ``n_b`` blocks per row for ``X₀`` (without a training set),
        then ``n_b`` per row for ``Z``; and the :class:`Philox4x32Block` over them (word 2 is
        the batch index).  Cached per slice."""
        with self._lock:
            cached = self._templates.get((lo, hi))
            if cached is not None:
                return cached
            n, nb, dev = hi - lo, self._blocks, self.device
            rows = torch.arange(lo, hi, dtype=torch.int64, device=dev)
            j = torch.arange(nb, dtype=torch.int64, device=dev)
            parts = [(torch.zeros(n, dtype=torch.int64, device=dev), rows, DOMAIN_T)]
            domains = (DOMAIN_Z,) if self.train_set is not None else (DOMAIN_X0, DOMAIN_Z)
            for dom in domains:
                parts.append((j.repeat(n), rows.repeat_interleave(nb), dom))  # (n·nb,) row-major
            c0 = torch.cat([p[0] for p in parts])
            c1 = torch.cat([p[1] for p in parts])
            c3 = torch.cat([torch.full_like(p[0], p[2] << 24) for p in parts])
            if len(self._templates) >= 8:
                self._templates.pop(next(iter(self._templates)))
            entry = (c0, c1, c3, Philox4x32Block(c0, c1, c3, self._key))
            self._templates[(lo, hi)] = entry
            return entry

    def _words(self, k: int, lo: int, hi: int) -> tuple[torch.Tensor, ...]:
        c0, c1, c3, block = self._template(lo, hi)
        if k >> 32 == 0:
            return block(k)
        return philox4x32(c0, c1, torch.full_like(c0, k & MASK32), c3 + (k >> 32), self._key)

    def _normals(self, words: tuple[torch.Tensor, ...], q: int, n: int) -> torch.Tensor:
        """``(q, n, dH)`` float64 normals from ``q·n·n_b`` blocks of words (module docstring):
        position ``m`` of a row is output ``⌊m/n_b⌋`` of Box–Muller on block ``m mod n_b``."""
        nb, dH = self._blocks, self.spec.d * self.spec.H
        g = torch.empty(q, n, 4, nb, dtype=torch.float64, device=self.device)
        for pair, (w_r, w_theta) in enumerate(((words[0], words[1]), (words[2], words[3]))):
            box_muller(w_r, w_theta, out=(g[:, :, 2 * pair], g[:, :, 2 * pair + 1]))
        return g.view(q, n, 4 * nb)[:, :, :dH]

    # -- batches ------------------------------------------------------------------------------
    def batch(self, k: int, rank: int = 0, world: int = 1
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Rows of global batch ``k`` for ``rank`` on the stream's device: ``x0`` ``(b, d, H)``
        and ``z`` ``(b, d, H)`` in the stream dtype, ``t`` ``(b,)`` float64 in ``[t0, T]``."""
        k = _check_int("k", k, 0, MAX_BATCH_INDEX)
        lo, hi = self.rows(rank, world)
        n, d, H = hi - lo, self.spec.d, self.spec.H
        words = self._words(k, lo, hi)
        s = self.spec.schedule
        t = sample_times(uniform53(words[0][:n], words[1][:n]), s.t0, s.T, self.t_sampling)
        q = 1 if self.train_set is not None else 2
        g = self._normals(tuple(w[n:] for w in words), q, n)  # (q, n, dH)
        z = g[q - 1].reshape(n, d, H).to(self.dtype)
        if self.train_set is None:
            x0 = self.transform(g[0].reshape(n, d, H)).to(self.dtype,
                                                             memory_format=torch.contiguous_format)
        else:
            x0 = self.train_set[self._set_indices(k, lo, hi)]
        return x0, t, z

    def _set_indices(self, k: int, lo: int, hi: int) -> torch.Tensor:
        """Training-set indices of global rows ``g = k·batch + i``, ``i ∈ [lo, hi)``: element
        ``g mod n`` of the permutation of epoch ``⌊g/n⌋`` (the epochs' permutations
        concatenated, indexed by ``g − e_first·n``)."""
        n = self.train_set.shape[0]
        g_lo, g_hi = k * self.batch_size + lo, k * self.batch_size + hi
        first, last = g_lo // n, (g_hi - 1) // n
        perms = torch.cat([self._permutation(e) for e in range(first, last + 1)])
        return perms[g_lo - first * n:g_hi - first * n]

    def _permutation(self, epoch: int) -> torch.Tensor:
        """The permutation of the training set in ``epoch``: stable argsort of 63-bit keys
        from Philox at ``(j mod 2³², ⌊j/2³²⌋, epoch mod 2³², DOMAIN_EPOCH·2²⁴ + ⌊epoch/2³²⌋)``."""
        with self._lock:
            perm = self._perms.get(epoch)
            if perm is not None:
                return perm
        n, dev = self.train_set.shape[0], self.device
        j = torch.arange(n, dtype=torch.int64, device=dev)
        w0, w1, _, _ = philox4x32(j & MASK32, j >> 32, torch.full_like(j, epoch & MASK32),
                                  torch.full_like(j, (DOMAIN_EPOCH << 24) + (epoch >> 32)),
                                  self._key)
        keys = torch.bitwise_left_shift(w0, 31).bitwise_or_(torch.bitwise_right_shift(w1, 1))
        perm = torch.argsort(keys, stable=True)
        with self._lock:
            if len(self._perms) >= 4:
                self._perms.pop(next(iter(self._perms)))
            self._perms[epoch] = perm
        return perm


class Prefetcher:
    """Batches of a :class:`GPStream` prepared one step ahead in a background thread.

    ``get(k)`` returns ``(x0, t, z, t_host)`` for global batch ``k`` (``t_host``: float64
    NumPy copy of ``t`` for host-side metrics) and starts batch ``k + 1``.  The batches are the
    stream's, a pure function of ``(seed, k, rank)``, so prefetching changes no number: only
    when they are computed.  Torch releases the GIL, so the thread overlaps the training step;
    on CUDA it works on its own stream and the consumer's stream waits for an event recorded
    after the batch (the tensors are marked as used by the consumer's stream)."""

    def __init__(self, stream: GPStream, rank: int = 0, world: int = 1):
        self.stream, self.rank, self.world = stream, rank, world
        stream.rows(rank, world)  # validate now, not in the thread
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ditgp-data")
        self._pending: tuple[int, Future] | None = None
        self._side = (torch.cuda.Stream(device=stream.device) if stream.device.type == "cuda"
                      else None)

    def _make(self, k: int):
        if self._side is None:
            x0, t, z = self.stream.batch(k, self.rank, self.world)
            return x0, t, z, t.numpy(), None
        with torch.cuda.stream(self._side):
            x0, t, z = self.stream.batch(k, self.rank, self.world)
            t_host = t.cpu().numpy()  # waits for the side stream only
            event = torch.cuda.Event()
            event.record(self._side)
        return x0, t, z, t_host, event

    def get(self, k: int):
        pending, self._pending = self._pending, None
        if pending is not None and pending[0] == k:
            x0, t, z, t_host, event = pending[1].result()
        else:
            if pending is not None:
                pending[1].result()  # let a stale batch finish before reusing the caches
            x0, t, z, t_host, event = self._make(k)
        self._pending = (k + 1, self._pool.submit(self._make, k + 1))
        if event is not None:
            current = torch.cuda.current_stream(self.stream.device)
            current.wait_event(event)
            for a in (x0, t, z):
                a.record_stream(current)
        return x0, t, z, t_host

    def close(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending[1].cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Prefetcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# -- finite training sets ------------------------------------------------------------------


def make_train_set(spec: GPSpec, n: int, seed: int) -> torch.Tensor:
    """``n`` exact draws ``X₀ ~ N(0, Γ⊗Σ)`` as a float64 tensor ``(n, d, H)``."""
    n = _check_int("n", n, 1)
    seed = _check_int("seed", seed, 0)
    return torch.from_numpy(Oracle.for_spec(spec).sample(n, seed=seed))


def save_train_set(path: str | Path, x: torch.Tensor, spec: GPSpec) -> Path:
    """Write ``x`` ``(n, d, H)`` and ``spec`` to one safetensors file, atomically (temporary
    file, fsync, rename).  The spec's JSON and the format tag are in the file's metadata,
    written in sorted key order so identical runs give identical bytes."""
    from ditgp.numerics.atomic import safetensors_bytes

    x = x.detach().cpu() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    require(x.ndim == 3 and tuple(x.shape[1:]) == (spec.d, spec.H), "x", tuple(x.shape),
            f"shape (n, d, H) = (n, {spec.d}, {spec.H})")
    data = safetensors_bytes({"x0": x.to(torch.float64).contiguous()},
                             metadata={"format": TRAIN_SET_FORMAT, "spec": spec.to_json(indent=None)})
    return atomic_write_bytes(path, data)


def load_train_set(path: str | Path) -> tuple[torch.Tensor, GPSpec]:
    """Inverse of :func:`save_train_set`: ``(x (n, d, H) float64, spec)``; a clear
    :class:`SpecError` naming the file if it is missing, corrupt or inconsistent."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise SpecError("train_set", str(path), "an existing training-set file")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            x = f.get_tensor("x0")
    except (SafetensorError, OSError, ValueError, KeyError) as exc:
        raise SpecError("train_set", str(path), f"a ditgp training-set file ({exc})") from None
    if meta.get("format") != TRAIN_SET_FORMAT:
        raise SpecError("train_set", str(path), f"format {TRAIN_SET_FORMAT!r}, "
                                                f"found {meta.get('format')!r}")
    try:
        spec = GPSpec.from_dict(json.loads(meta["spec"]))
    except (KeyError, json.JSONDecodeError) as exc:
        raise SpecError("train_set", str(path), f"a stored spec ({exc})") from None
    require(x.ndim == 3 and tuple(x.shape[1:]) == (spec.d, spec.H), "train_set", str(path),
            f"sequences of shape (n, {spec.d}, {spec.H}) matching the stored spec")
    return x, spec


# -- forward process, floor, baseline ----------------------------------------------------


def alpha_sigma(t: torch.Tensor | np.ndarray | float) -> tuple[torch.Tensor, torch.Tensor]:
    """``(α_t, σ_t)`` as float64 tensors of ``t``'s shape (``σ_t`` via ``expm1``)."""
    t64 = torch.as_tensor(t, dtype=torch.float64)
    return torch.exp(-0.5 * t64), torch.sqrt(-torch.expm1(-t64))


def noised(x0: torch.Tensor, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``X_t = α_t X₀ + σ_t Z`` for ``x0, z`` ``(b, d, H)`` and ``t`` ``(b,)``; coefficients
    computed in float64 on ``x0``'s device (no host round trip), result in ``x0``'s dtype."""
    require(x0.shape == z.shape, "z", tuple(z.shape), f"the shape of x0 {tuple(x0.shape)}")
    a, s = alpha_sigma(t.detach().to(x0.device) if isinstance(t, torch.Tensor) else t)
    a = a.to(device=x0.device, dtype=x0.dtype).reshape(-1, *([1] * (x0.ndim - 1)))
    s = s.to(device=x0.device, dtype=x0.dtype).reshape(-1, *([1] * (x0.ndim - 1)))
    return a * x0 + s * z


_FLOOR_TERM = None


def bayes_floor(spec: GPSpec, t) -> np.ndarray:
    """Per-element Bayes floor of the ε-loss at each ``t``: ``floor(t) / (dH)`` (float64,
    same shape as ``t``).  The theory's floor term (:data:`ditgp.theory.process.FLOOR_TERM`,
    docs/theory.md §2) on the oracle's cached eigenvalues, vectorised over ``t`` (one call per
    batch, not one per sequence)."""
    global _FLOOR_TERM
    from ditgp.theory import process as P

    if _FLOOR_TERM is None:
        from ditgp.theory.bridge import to_numeric

        _FLOOR_TERM = to_numeric(P.FLOOR_TERM, [P.alpha2_s, P.sigma2_s, P.lam, P.mu])
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu().numpy()
    t = np.asarray(t, dtype=np.float64)
    oracle = Oracle.for_spec(spec)
    flat = t.reshape(-1)
    a2 = spec.schedule.alpha2(flat)[:, None, None]
    s2 = spec.schedule.sigma2(flat)[:, None, None]
    terms = _FLOOR_TERM(a2, s2, oracle.lam[None, None, :], oracle.mu[None, :, None])
    return terms.sum(axis=(1, 2)).reshape(t.shape) / (spec.d * spec.H)


def independent_frames_score(spec: GPSpec, x, t):
    """The exact score of the model that ignores temporal correlation (``Γ`` replaced by
    ``I``): ``-(α_t²Σ + σ_t²I)⁻¹ x_h`` frame by frame.  ``x`` ``(n, d, H)`` numpy or torch
    (returned as the same type), ``t`` scalar or ``(n,)``."""
    oracle = Oracle.for_spec(spec)
    as_torch = isinstance(x, torch.Tensor)
    X = x.detach().cpu().double().numpy() if as_torch else np.asarray(x, dtype=np.float64)
    require(X.ndim == 3 and X.shape[1:] == (spec.d, spec.H), "x", tuple(X.shape),
            f"shape (n, d, H) = (n, {spec.d}, {spec.H})")
    tt = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else t
    tt = np.broadcast_to(np.asarray(tt, dtype=np.float64), (X.shape[0],))
    a2, s2 = spec.schedule.alpha2(tt), spec.schedule.sigma2(tt)  # (n,)
    U, mu = oracle.U_Sigma, oracle.mu
    den = a2[:, None] * mu[None, :] + s2[:, None]  # (n, d)
    Y = np.einsum("ji,njh->nih", U, X) / den[:, :, None]  # (n, d, H) in Σ's eigenbasis
    S = -np.einsum("ij,njh->nih", U, Y)
    if as_torch:
        return torch.from_numpy(S).to(dtype=x.dtype, device=x.device)
    return S
