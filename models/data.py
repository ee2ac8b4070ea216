"""Training data from a GP spec: counter-based batch streams, finite training sets, the
forward noising, the Bayes floor of the ε-loss and the independent-frames baseline.

Shapes follow the project: a batch of sequences is ``(b, d, H)`` (column ``h`` = frame ``h``).

**Counter-based streams.**  Row ``i`` of global batch ``k`` is drawn from its own generator
``PCG64(SeedSequence([seed, k, i]))``: a pure function of ``(seed, k, i)``.  There is no
hidden generator state, so a resumed run sees exactly the batches it would have seen, and
rank ``r`` of ``world`` draws only its rows ``[r·b/world, (r+1)·b/world)`` of global batch
``k`` — the data of an ``N``-process run equals the 1-process run's, row for row.

Each row draws, in this order: the time ``t`` (uniform on ``[t0, T]``, or log-uniform
``t = t0 (T/t0)^u``), the clean sequence ``X₀ ~ N(0, Γ⊗Σ)`` (exact, through the oracle's
eigen square roots; with a finite training set instead the entry of the epoch's
permutation of the set, see :class:`GPStream`), and the noise ``Z``.  Everything is drawn
in float64 and cast to the stream's dtype at the end; ``t`` stays float64 (the schedule and
the floor are float64; models cast it).

**Forward process** (THEORY.md §2): ``X_t = α_t X₀ + σ_t Z``, ``α_t = e^{-t/2}``,
``σ_t² = 1 - e^{-t}``.  **Bayes floor**: the minimum of ``E‖ε_θ(X_t, t) - Z‖²`` is
``Σ α_t²λ_iμ_j/(α_t²λ_iμ_j + σ_t²)`` (out of ``dH``), attained by ``ε* = -σ_t s``;
:func:`bayes_floor` divides by ``dH`` to match the per-element mean-squared loss.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ditgp.numerics.atomic import atomic_write_bytes
from ditgp.numerics.oracle import Oracle
from ditgp.theory.errors import SpecError, require
from ditgp.theory.spec import GPSpec

__all__ = ["T_SAMPLINGS", "TRAIN_SET_FORMAT", "GPStream", "make_train_set", "save_train_set",
           "load_train_set", "noised", "alpha_sigma", "bayes_floor",
           "independent_frames_score"]

T_SAMPLINGS = ("uniform", "log-uniform")
TRAIN_SET_FORMAT = "ditgp.trainset/1"


def _row_rng(seed: int, k: int, i: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, k, i])))


def _check_int(name: str, value: Any, low: int) -> int:
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= low
    require(ok, name, value, f"an integer ≥ {low}")
    return int(value)


class GPStream:
    """Counter-based stream of ``(X₀, t, Z)`` batches for ``spec`` (see the module docstring).

    ``batch`` is the *global* batch size; ``t_sampling`` is ``"uniform"`` or
    ``"log-uniform"`` on ``[t0, T]`` of ``spec.schedule``; ``train_set`` (``(n, d, H)``) makes
    ``X₀`` rows come from that fixed set in epochs: global row ``g = k·batch + i`` takes
    element ``π_e(g mod n)`` of the permutation ``π_e`` of epoch ``e = g // n`` (drawn from
    ``(seed, e)``), so every sequence is used once per epoch; ``t`` and ``Z`` stay fresh.
    """

    def __init__(self, spec: GPSpec, *, batch: int, seed: int, t_sampling: str = "uniform",
                 dtype: torch.dtype = torch.float32, train_set: torch.Tensor | None = None):
        if not isinstance(spec, GPSpec):
            raise SpecError("spec", spec, "a GPSpec")
        self.spec = spec
        self.batch_size = _check_int("batch", batch, 1)
        self.seed = _check_int("seed", seed, 0)
        require(t_sampling in T_SAMPLINGS, "t_sampling", t_sampling,
                "one of " + ", ".join(T_SAMPLINGS))
        self.t_sampling = t_sampling
        require(isinstance(dtype, torch.dtype) and dtype.is_floating_point, "dtype", dtype,
                "a floating torch dtype")
        self.dtype = dtype
        self.oracle = Oracle.for_spec(spec)
        lam = np.maximum(self.oracle.lam, 0.0)
        mu = np.maximum(self.oracle.mu, 0.0)
        self._scale = np.sqrt(np.multiply.outer(mu, lam))  # (d, H)
        self._U_S = np.ascontiguousarray(self.oracle.U_Sigma)  # (d, d)
        self._U_GT = np.ascontiguousarray(self.oracle.U_Gamma.T)  # (H, H)
        self.train_set: np.ndarray | None = None
        self._perms: dict[int, np.ndarray] = {}  # cache of epoch permutations (a pure function)
        if train_set is not None:
            ts = train_set.detach().cpu().numpy() if isinstance(train_set, torch.Tensor) \
                else np.asarray(train_set)
            require(ts.ndim == 3 and ts.shape[1:] == (spec.d, spec.H) and ts.shape[0] >= 1,
                    "train_set", tuple(ts.shape), f"shape (n, d, H) = (n, {spec.d}, {spec.H})")
            self.train_set = np.asarray(ts, dtype=np.float64)

    def _set_index(self, g: int) -> int:
        """Training-set index of global row ``g``: epochs of ``n`` rows, each a permutation
        of the set drawn from ``(seed, "epoch", e)`` — every sequence once per epoch."""
        n = self.train_set.shape[0]
        epoch, pos = divmod(g, n)
        perm = self._perms.get(epoch)
        if perm is None:
            rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(
                [self.seed, 0x45504F43, epoch])))  # 0x45504F43 = "EPOC": a separate stream
            perm = rng.permutation(n)
            if len(self._perms) >= 4:
                self._perms.pop(next(iter(self._perms)))
            self._perms[epoch] = perm
        return int(perm[pos])

    def rows(self, rank: int, world: int) -> tuple[int, int]:
        """Rows ``[lo, hi)`` of the global batch that ``rank`` of ``world`` takes."""
        world = _check_int("world", world, 1)
        rank = _check_int("rank", rank, 0)
        require(rank < world, "rank", rank, f"an integer in [0, world={world})")
        require(world <= self.batch_size, "world", world,
                f"at most the global batch size {self.batch_size}")
        b = self.batch_size
        return rank * b // world, (rank + 1) * b // world

    def _time(self, u: float) -> float:
        t0, T = self.spec.schedule.t0, self.spec.schedule.T
        if self.t_sampling == "uniform":
            t = t0 + (T - t0) * u
        else:
            t = t0 * (T / t0) ** u
        return min(max(t, t0), T)

    def batch(self, k: int, rank: int = 0, world: int = 1
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Rows of global batch ``k`` for ``rank``: ``x0`` ``(b, d, H)`` and ``z`` ``(b, d, H)``
        in the stream dtype, ``t`` ``(b,)`` float64 in ``[t0, T]``."""
        k = _check_int("k", k, 0)
        lo, hi = self.rows(rank, world)
        d, H = self.spec.d, self.spec.H
        n = hi - lo
        t = np.empty(n)
        g0 = np.empty((n, d, H))
        z = np.empty((n, d, H))
        idx = np.empty(n, dtype=np.int64)
        for r, i in enumerate(range(lo, hi)):
            rng = _row_rng(self.seed, k, i)
            t[r] = self._time(float(rng.random()))
            if self.train_set is None:  # one row at a time: identical for every slicing
                g0[r] = self._U_S @ (rng.standard_normal((d, H)) * self._scale) @ self._U_GT
            else:
                idx[r] = self._set_index(k * self.batch_size + i)
            z[r] = rng.standard_normal((d, H))
        x0 = g0 if self.train_set is None else self.train_set[idx]  # (n, d, H)
        return (torch.from_numpy(np.ascontiguousarray(x0)).to(self.dtype),
                torch.from_numpy(t),
                torch.from_numpy(z).to(self.dtype))


# -- finite training sets ------------------------------------------------------------------


def make_train_set(spec: GPSpec, n: int, seed: int) -> torch.Tensor:
    """``n`` exact draws ``X₀ ~ N(0, Γ⊗Σ)`` as a float64 tensor ``(n, d, H)``."""
    n = _check_int("n", n, 1)
    seed = _check_int("seed", seed, 0)
    return torch.from_numpy(Oracle.for_spec(spec).sample(n, seed=seed))


def save_train_set(path: str | Path, x: torch.Tensor, spec: GPSpec) -> Path:
    """Write ``x`` ``(n, d, H)`` and ``spec`` to one safetensors file, atomically (temporary
    file, fsync, rename).  The spec's JSON and the format tag are in the file's metadata."""
    from safetensors.torch import save

    x = x.detach().cpu() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    require(x.ndim == 3 and tuple(x.shape[1:]) == (spec.d, spec.H), "x", tuple(x.shape),
            f"shape (n, d, H) = (n, {spec.d}, {spec.H})")
    data = save({"x0": x.to(torch.float64).contiguous()},
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
    computed in float64, result in ``x0``'s dtype."""
    require(x0.shape == z.shape, "z", tuple(z.shape), f"the shape of x0 {tuple(x0.shape)}")
    a, s = alpha_sigma(t.detach().cpu() if isinstance(t, torch.Tensor) else t)
    a = a.to(device=x0.device, dtype=x0.dtype).reshape(-1, *([1] * (x0.ndim - 1)))
    s = s.to(device=x0.device, dtype=x0.dtype).reshape(-1, *([1] * (x0.ndim - 1)))
    return a * x0 + s * z


_FLOOR_TERM = None


def bayes_floor(spec: GPSpec, t) -> np.ndarray:
    """Per-element Bayes floor of the ε-loss at each ``t``: ``floor(t) / (dH)`` (float64,
    same shape as ``t``).  The theory's floor term (:data:`ditgp.theory.process.FLOOR_TERM`,
    THEORY.md §2) on the oracle's cached eigenvalues, vectorised over ``t`` (one call per
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
