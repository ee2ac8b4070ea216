"""``ditgp reproduce decay``: does faster kernel decay let a smaller network learn the score?

**The claim** (docs/theory.md §5, §8).  The network the theory builds needs ``M = O(w(ε))``
attention heads, ``w(ε)`` the window of gaps where the temporal kernel ``γ`` still matters;
``w(ε)`` grows as ``γ`` decays more slowly (exponential ``log(1/ε)``, polynomial
``ε^{-1/(ν-1)}``, logarithmic ``H − 1`` at finite ``H``), and the distribution error scales
like ``√(M/n)``.  So faster decay → smaller window → fewer heads → better sample efficiency.

**What this experiment tests: the mechanism, through the window.**  ``n`` enters the bound
only through ``√(M/n)`` with one exponent for every class, so the whole class dependence runs
through ``M = O(w)``: *how large a window a network needs for a given class*.  That is
measurable directly.  A DiT whose attention is restricted to gaps ``|i − j| ≤ w`` (a band
mask, :class:`WindowedAttention`; ``depth`` blocks give a **receptive field**
``b = depth·w``) is trained per class at a small window ``w_test`` and at the full window
``H − 1``; the **window penalty** is how much temporal structure the small window costs:

    share(w)   = Σ_t excess_w(t) / Σ_t excess_baseline(t)      (missed share of the structure)
    penalty    = share(w_test) − share(H − 1)                   (per class and seed)

``excess`` is the test excess ε-loss over the Bayes floor per element (identity
``σ_t² E‖ŝ − s‖²/(dH)`` on exact oracle draws); ``excess_baseline`` is that of the
independent-frames score (no temporal mixing: 0 % of the structure learned, share 1).  The
difference removes each class's own optimisation floor (the full-window network of the same
class); the ratio removes how much temporal structure each class has.  The theory predicts
``penalty(exponential) < penalty(polynomial) < penalty(logarithmic)``; the verdict tests
this ordering at the seed level (below).  Absolute excesses are reported beside it.

**The exact side: a receptive-field bound.**  For Gaussian data the best score estimate at
frame ``i`` that sees only the frames ``W_i = {j : |i − j| ≤ b}`` is the conditional mean
``E[s_i | X_{W_i}] = −(A_{W_i W_i}⁻¹ X_{W_i})_i`` — the score of the window's own marginal —
and its excess is ``(A⁻¹)_{ii} − (A_{W_i W_i}⁻¹)_{ii}`` (traces of ``d × d`` blocks), so
:func:`receptive_field_excess` is the smallest excess of **any** network, linear or not,
whose output at a frame depends on frames within ``b`` only.  At ``b = 0`` it is the
independent-frames baseline; at ``b = H − 1`` it is 0.  Its share at ``b = depth·w_test``
is the penalty the theory predicts for a network that learns everything else; the summary
sets the trained penalties beside it and uses the predicted differences in the power
statement.  It is also how the design was chosen (``docs/reproducing.md``): the presets'
``H``, ``ℓ_c``, ``ν`` and window put the predicted penalties far apart, and the constructive
``w(ε)``, ``M(ε)`` differ between the classes at that ``H``.

**Cells.**  ``construct-<kernel>``: exact (theory's ``w(ε)``, ``M(ε)``, ``L(ε)`` from
:func:`ditgp.numerics.budget.construct_estimate` as ``ditgp construct`` sizes them, and the
receptive-field curve).  ``train-<arm>-w<w>-s<seed>``: one network, with its own
initialisation, training set of ``n_train`` exact draws, data stream and held-out set, all
drawn from ``(seed, arm, w)`` (:func:`cell_seed`): no two cells share a stream or a
training set.  Training draws ``t`` log-uniformly on ``[t_lo, t_hi]``, keeps the EMA of the
weights, evaluates the EMA every ``eval_every`` steps on a **held-out** set (fresh oracle draws
at ``val_points`` times, never trained on), keeps the best EMA state and stops when it has not
improved by ``VAL_MIN_REL`` for ``patience`` evaluations (after ``min_steps``) or at
``max_steps``.  The selected network is then measured on a separate **test** set (seeded
``EVAL_SEED``, the same draws for every cell: common inputs for a measurement), with the
control-variate DSM excess (:func:`ditgp.verify.compare_trained.dsm_excess`: the network's loss minus
the exact score's on the same draws) as a cross-check of the identity, and the same excess on
the cell's training sequences (below 0 = memorised).  A cell is short (minutes on a CPU);
an interrupted cell restarts, finished cells are skipped (``run_experiment``).

**Arms and the control.**  One arm per kernel (``kernels``, fastest decay first) and, with
``control_kernel``, a **replicate arm** that trains on that kernel again with independent
seeds.  The control is the same ordering test between the kernel and its replicate — a
planted null through the whole pipeline: it must not come out ``supported``.  With
``planted_null`` every arm (the control too) trains on that one kernel: the ordering test of
the main arms must then be ``inconclusive`` (tests).

**Statistics** (:mod:`ditgp.verify.reproduce.verdict`).  The unit is the seed: seed ``s``
gives one penalty per arm (four independent trainings behind each adjacent difference).  For
each adjacent pair ``A`` (faster) ``< B``: ``D_s = penalty_B − penalty_A``, one-sided
Student-t bounds and the exact sign-flip test (``p ≥ 2⁻ⁿ``).  The verdict is **supported**
only if every adjacent pair is (intersection–union: level ``α`` without correction),
**refuted** if the extreme contrast (slowest − fastest class, one test at level ``α``) is
significantly reversed, else **inconclusive** (a reversed adjacent pair is reported, and keeps
the verdict from "supported"); the reported statistic is the binding test's
(:func:`ordering_verdict`).  The power statement uses the exact bound's predicted difference
as the effect of interest.
"""

from __future__ import annotations

import itertools
import math
import time
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from ditgp.models.plotting import pyplot, save_png
from ditgp.theory.errors import SpecError, require

from .base import Cell, Context, Experiment, md_table, register
from .verdict import ALPHA, make_verdict, seed_level_test

__all__ = ["DecayExperiment", "CLASS_OF", "matched_kernel", "receptive_field_excess",
           "receptive_field_share", "band_mask", "windowed_attention_class", "windowed_dit",
           "receptive_field", "cell_seed", "fit_windowed", "penalties", "ordering_verdict",
           "seed_mean_se"]

#: the three kernels, fastest decay first (the order the theory predicts for the penalty)
CLASS_OF = {"laplace": "exponential", "power-law": "polynomial", "logarithmic": "logarithmic"}
#: the correlation length is the gap where γ falls to 1/e (the Laplace kernel's ``ell``)
CORR_LEVEL = math.exp(-1.0)
#: |γ(ℓ_c) - 1/e| after the root solve: brentq's ``xtol`` on ``log ell`` is 1e-12, and γ is
#: smooth in ``ell`` with slope ≤ 1 there, so 1e-9 leaves a wide margin
MATCH_TOL = 1e-9
#: |γ(0) - 1| allowed: γ(0) is 1 by each formula; float64 evaluation of it is exact to ~1 ulp
GAMMA0_TOL = 1e-12
#: seed of the test draws (shared by every cell: common inputs for a measurement)
EVAL_SEED = 71_317
#: tag mixed into every cell's seed sequence (so no other module's stream coincides)
CELL_SEED_TAG = 0xDECA1
#: a held-out evaluation counts as an improvement when it is below the best by this fraction
VAL_MIN_REL = 0.01
#: a window "suffices" for a class when its mean penalty (share units) is at most this: the
#: descriptive "window needed" beside the theory's w(ε) (not used by the verdict)
PENALTY_TOL = 0.01
#: receptive fields at which the construct cells tabulate the exact bound (clipped to H − 1)
RF_GRID = (0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)

# Cost model (seconds).  CPU: measured for the cpu preset's cell (DiT width 32, depth 2,
# H = 128, d = 2, batch 32, 1 torch thread): its 40 cells ran 78,700 steps in 2,776 s of process
# time, i.e. 35.3 ms of CPU per step including the held-out evaluations (under a load average
# of 7 on 2 cores: contention inflates CPU time by ~15 % against a quiet machine), and the
# whole run took 2,900 s of CPU (user + sys), leaving ~3 s per cell for set-up and the test
# evaluation.  A cell's steps are at most max_steps (early stopping ends some cells earlier,
# so the estimate is an upper bound); other sizes scale with depth·H·width·batch.  GPU:
# GPU_PAPER_STEP_S is the measured H100 float32 step of the paper DiT (12 blocks, width 256,
# batch 64, H = 96: 26.5 steps/s).  ASSUMED, not measured here: a smaller DiT is
# latency-bound, so its step takes the depth share of that time but no less than
# GPU_MIN_SHARE of it (depth 2: 1/4, i.e. ≤ 106 steps/s); tokens beyond the paper's batch
# (64 × 96) scale it up linearly.  The step is not data-bound: a decay cell keeps its training
# set on the device and draws indices, t and noise there with a device generator (no host
# stream), so the ~13-25 steps/s bound of the host GP stream does not apply.
CPU_STEP_S = 0.0353
CPU_CELL_S = 3.0
GPU_PAPER_STEP_S = 1.0 / 26.5
GPU_CELL_S = 4.0
GPU_MIN_SHARE = 0.25
#: the reference sizes of the cost model
_CPU_REF = {"depth": 2, "H": 128, "width": 32, "batch": 32}
#: the data stream's share of CPU_STEP_S (cost.stream_seconds at the calibration size, d = 2,
#: drawing only Z from a resident training set): the compute part is the rest
_CPU_REF_STREAM_S = 2.6e-4 + 1.75e-8 * 32 * 2 * 128
_GPU_REF_TOKENS = 64 * 96


# -- kernels ----------------------------------------------------------------------------------
def _family_kwargs(family: str, params: dict[str, Any]) -> dict[str, float]:
    if family == "power-law":
        return {"nu": float(params["power_nu"])}
    if family == "logarithmic":
        return {"nu": float(params["log_nu"])}
    return {}


def matched_kernel(family: str, corr_length: float, **fixed: float):
    """The kernel of ``family`` (other parameters ``fixed``) whose ``ell`` puts
    ``γ(corr_length) = 1/e``; ``γ(0) = 1`` and the match are checked numerically."""
    from ditgp.theory.kernels import kernel
    from scipy.optimize import brentq

    require(isinstance(corr_length, int | float) and not isinstance(corr_length, bool)
            and 0 < corr_length < math.inf, "corr_length", corr_length, "a number of frames > 0")
    require(family in CLASS_OF, "kernel", family, "one of " + ", ".join(CLASS_OF))
    lc = float(corr_length)

    def gap(log_ell: float) -> float:  # γ(ℓ_c) grows with ell: one sign change
        return float(kernel(family, ell=math.exp(log_ell), **fixed).gamma(lc)) - CORR_LEVEL

    lo, hi = math.log(lc) - 30.0, math.log(lc) + 30.0
    if gap(lo) * gap(hi) > 0:
        raise SpecError("corr_length", corr_length, f"a length the {family} family can match "
                        f"with ell in [e^-30, e^30]·ℓ_c (parameters {fixed})")
    k = kernel(family, ell=math.exp(brentq(gap, lo, hi, xtol=1e-12, rtol=1e-14)), **fixed)
    g0, gc = float(k.gamma(0.0)), float(k.gamma(lc))
    require(abs(g0 - 1.0) <= GAMMA0_TOL, "kernel", k.describe(), f"γ(0) = 1 (got {g0!r})")
    require(abs(gc - CORR_LEVEL) <= MATCH_TOL, "corr_length", corr_length,
            f"a solvable match (γ(ℓ_c) = {gc!r}, wanted 1/e)")
    require(k.decay_class.value == CLASS_OF[family], "kernel", k.describe(),
            f"decay class {CLASS_OF[family]}")
    return k


def _spec(family: str, params: dict[str, Any], H: int | None = None):
    from ditgp.theory.spec import GPSpec

    k = matched_kernel(family, params["corr_length"], **_family_kwargs(family, params))
    return GPSpec(k, H=int(params["H"] if H is None else H), d=int(params["d"]))


# -- the exact receptive-field bound -------------------------------------------------------------
def receptive_field_excess(spec, b: int, t: float) -> float:
    """Smallest excess ε-loss per element, ``σ_t² E‖ŝ − s‖²/(dH)`` at time ``t``, of **any**
    score estimate whose output at frame ``i`` is a function of the frames ``|j − i| ≤ b``
    (module docstring): ``σ_t²/(dH) Σ_k Σ_i [(A_k⁻¹)_{ii} − (A_{k,W_i W_i}⁻¹)_{ii}]`` with
    ``A_k = α_t² μ_k Γ + σ_t² I`` per eigenvalue ``μ_k`` of ``Σ`` (float64).

    ``Γ`` is Toeplitz, so a window's block depends only on its length and the position of
    ``i`` in it: each distinct block is inverted once."""
    from ditgp.numerics.oracle import Oracle

    require(isinstance(b, int | np.integer) and not isinstance(b, bool) and b >= 0, "b", b,
            "a receptive field ≥ 0 (frames)")
    t = float(spec.schedule.check_time(t, "t"))
    H = spec.H
    b = min(int(b), H - 1)
    if b == H - 1:
        return 0.0
    ora = Oracle.for_spec(spec)
    a2, s2 = float(spec.schedule.alpha2(t)), float(spec.schedule.sigma2(t))
    G = np.asarray(spec.Gamma, dtype=np.float64)
    U2 = ora.U_Gamma ** 2  # (H, H): (A⁻¹)_ii = Σ_k U_ik² / (α²μλ_k + σ²)
    mus, counts = np.unique(np.round(ora.mu, 12), return_counts=True)  # Σ = I: one μ, d times
    total = 0.0
    for mu, count in zip(mus, counts, strict=True):
        full = U2 @ (1.0 / (a2 * float(mu) * ora.lam + s2))  # (H,) diagonal of A⁻¹
        inv_diag: dict[int, np.ndarray] = {}  # block size → diagonal of its inverse
        win = 0.0
        for i in range(H):
            lo, hi = max(0, i - b), min(H, i + b + 1)
            m = hi - lo
            if m not in inv_diag:
                A = a2 * float(mu) * G[:m, :m] + s2 * np.eye(m)
                inv_diag[m] = np.diag(np.linalg.inv(A))
            # a symmetric Toeplitz block is persymmetric: position p and m − 1 − p agree
            win += inv_diag[m][i - lo]
        total += float(count) * (float(full.sum()) - win)
    return max(s2 * total / (spec.d * H), 0.0)


def receptive_field_share(spec, b: int, t_grid: Sequence[float]) -> float:
    """The bound as a share of the baseline: ``Σ_t bound_b(t) / Σ_t bound_0(t)`` (``b = 0`` is
    the independent-frames score) — the predicted missed share of the temporal structure."""
    num = sum(receptive_field_excess(spec, b, t) for t in t_grid)
    den = sum(receptive_field_excess(spec, 0, t) for t in t_grid)
    require(den > 0, "kernel", spec.kernel.describe(), "temporal structure to learn (Γ ≠ I)")
    return num / den


# -- the windowed DiT --------------------------------------------------------------------------------
def band_mask(H: int, window: int, device=None):
    """``(H, H)`` boolean mask, ``True`` where ``|i − j| ≤ window`` (attention allowed)."""
    import torch

    i = torch.arange(H, device=device)
    return (i[:, None] - i[None, :]).abs() <= window


def receptive_field(depth: int, window: int, H: int) -> int:
    """Frames a ``depth``-block network with attention window ``window`` can see: ``depth·w``
    (capped at ``H − 1``)."""
    return min(int(depth) * int(window), int(H) - 1)


class _WindowedAttentionMixin:
    """Attention over frames restricted to gaps ``|i − j| ≤ window`` (a band mask).

    Softmax: masked scores are ``−∞`` before the softmax (SDPA's boolean ``attn_mask``), so
    each row renormalises over its window; ReLU (the theory's, ``P = ReLU(S)/H``): masked
    entries are zeroed, the ``1/H`` kept.  Weights, initialisation and every other path are
    those of :class:`ditgp.models.dit.Attention`."""

    window: int

    def forward(self, x, probe: bool = False):
        import torch
        import torch.nn.functional as F

        B, H, D = x.shape
        qkv = self.qkv(x).reshape(B, H, 3, self.heads, self.head_dim)  # (B, H, 3, M, dk)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, M, H, dk)
        mask = band_mask(H, self.window, x.device)  # (H, H)
        P = None
        if self.kind == "softmax" and not probe:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, M, H, dk)
        else:
            S = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)  # (B, M, H, H)
            if self.kind == "softmax":
                P = torch.softmax(S.masked_fill(~mask, float("-inf")), dim=-1)
            else:
                P = torch.relu(S) * mask / H
            out = P @ v  # (B, M, H, dk)
        out = out.transpose(1, 2).reshape(B, H, D)  # (B, H, D)
        return self.proj(out), P


_WINDOWED: list[type] = []


def windowed_attention_class() -> type:
    """``WindowedAttention``: :class:`ditgp.models.dit.Attention` with the band mask of
    :class:`_WindowedAttentionMixin` (built on first use, so that importing this module — the
    CLI's ``--list`` and ``--dry-run`` — does not import torch)."""
    if not _WINDOWED:
        from ditgp.models.dit import Attention

        _WINDOWED.append(type("WindowedAttention", (_WindowedAttentionMixin, Attention),
                              {"__doc__": _WindowedAttentionMixin.__doc__,
                               "__module__": __name__}))
    return _WINDOWED[0]


def windowed_dit(cfg, spec, window: int):
    """The DiT of ``cfg`` for ``spec`` with every block's attention limited to gaps
    ``≤ window`` (``window ≥ H − 1``: the plain DiT).  The random initialisation is the plain
    DiT's (the attention weights are copied), so one seed gives the same weights at every
    window.  Nothing in :mod:`ditgp.models` is changed."""
    from ditgp.models.dit import DiT

    require(isinstance(window, int) and not isinstance(window, bool) and window >= 0,
            "--set windows", window, "windows ≥ 0 (frames)")
    net = DiT(cfg, spec)
    if window >= spec.H - 1:
        return net
    W = windowed_attention_class()
    for blk in net.blocks:
        new = W(cfg.width, cfg.heads, cfg.attention)
        new.window = int(window)
        new.load_state_dict(blk.attn.state_dict())
        blk.attn = new.to(next(blk.parameters()).dtype)
    return net


# -- training one cell ----------------------------------------------------------------------------
def cell_seed(seed: int, arm: str, window: int, n_train: int) -> np.random.SeedSequence:
    """The seed sequence of one training cell: a pure function of ``(seed, arm, window,
    n_train)`` (``crc32`` of the arm name: stable across processes).  No two cells share a
    stream, and training sets of different sizes are independent draws (never one the prefix
    of the other, also across runs with another ``--set n_train``)."""
    return np.random.SeedSequence([CELL_SEED_TAG, int(seed), zlib.crc32(arm.encode()),
                                   int(window), int(n_train)])


def _state_copy(module) -> dict[str, Any]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def fit_windowed(spec, cfg, window: int, *, seq: np.random.SeedSequence, n_train: int,
                 max_steps: int, min_steps: int, batch: int, lr: float, warmup: int, ema: float,
                 t_lo: float, t_hi: float, eval_every: int, patience: int, val_n: int,
                 val_points: int, device: str = "cpu", dtype: str = "float32"):
    """Train a windowed DiT with held-out selection (module docstring).  Returns
    ``(network, info)``: the selected EMA network (eval mode, float32/64 on ``device``) and
    ``info`` (``train_x0`` (n, d, H) float64, ``best_step``, ``stopped``, ``best_val``,
    ``selected_val`` (the returned network's held-out excess, re-measured: equals
    ``best_val``), ``history`` ``[[step, held-out excess], ...]``, ``params``, ``seconds``,
    ``cpu_seconds``)."""
    import torch
    from ditgp.models.ema import ema_decay, learning_rate, make_ema, update_ema
    from ditgp.numerics.oracle import Oracle

    # children by explicit spawn keys (SeedSequence.spawn counts its calls: a second fit with
    # the same object would otherwise draw other streams)
    s_init, s_data, s_set, s_val = (np.random.SeedSequence(seq.entropy,
                                                           spawn_key=(*seq.spawn_key, j))
                                    for j in range(4))
    oracle = Oracle.for_spec(spec)
    dev = torch.device(device)
    pdtype = torch.float64 if dtype == "float64" else torch.float32
    torch.manual_seed(int(s_init.generate_state(1)[0]))
    model = windowed_dit(cfg, spec, window).to(device=dev, dtype=pdtype)
    ema_net = make_ema(model)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8,
                            weight_decay=0.0)
    x_train64 = oracle.sample(n_train, seed=np.random.default_rng(s_set))  # (n, d, H)
    x_train = torch.as_tensor(x_train64, dtype=pdtype, device=dev)
    gen = torch.Generator(device=dev)
    gen.manual_seed(int(s_data.generate_state(1)[0]))
    # held-out set: fresh oracle draws of X_t (never trained on) and their exact ε* = −σ_t s
    vrng = np.random.default_rng(s_val)
    v_t = np.geomspace(t_lo, t_hi, val_points)
    val = []
    for t in v_t:
        X = oracle.sample(val_n, seed=vrng, t=float(t))
        E = -math.sqrt(float(spec.schedule.sigma2(t))) * oracle.score(X, float(t))
        val.append((torch.as_tensor(X, dtype=pdtype, device=dev),
                    torch.as_tensor(E, dtype=pdtype, device=dev),
                    torch.full((val_n,), float(t), dtype=torch.float64, device=dev)))
    autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if dtype == "bf16"
                else torch.autocast("cpu", enabled=False))

    @torch.no_grad()
    def held_out() -> float:  # mean over the t-grid of ‖ε̂ − ε*‖²/(dH) = identity excess
        tot = 0.0
        for X, E, tt in val:
            with autocast:
                e = ema_net(X, tt)
            tot += float((e.to(E.dtype) - E).pow(2).mean())
        return tot / len(val)

    lt0, lt1 = math.log(t_lo), math.log(t_hi)
    best, best_state, best_step, stale, history = math.inf, None, 0, 0, []
    w0, c0 = time.perf_counter(), time.process_time()
    model.train()
    k = 0
    while k < max_steps:
        for g in opt.param_groups:
            g["lr"] = learning_rate(k, lr=lr, warmup=warmup, decay_steps=max_steps)
        idx = torch.randint(n_train, (batch,), generator=gen, device=dev)
        x0 = x_train[idx]  # (b, d, H)
        t = torch.exp(lt0 + (lt1 - lt0) * torch.rand(batch, generator=gen, device=dev,
                                                    dtype=torch.float64))  # (b,) log-uniform
        z = torch.randn(x0.shape, generator=gen, device=dev, dtype=pdtype)
        a = torch.exp(-0.5 * t).to(pdtype)[:, None, None]
        s = torch.sqrt(-torch.expm1(-t)).to(pdtype)[:, None, None]
        with autocast:
            eps_hat = model(a * x0 + s * z, t)
        loss = (eps_hat.to(pdtype) - z).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        if not math.isfinite(float(gnorm)):
            raise SpecError("--set lr", lr, f"a learning rate at which training stays finite "
                            f"(gradient norm {float(gnorm)} at step {k})")
        opt.step()
        update_ema(ema_net, model, ema_decay(k, ema))
        k += 1
        if k % eval_every == 0 or k == max_steps:
            v = held_out()
            history.append([k, v])
            if v < best:
                stale = 0 if v < best * (1 - VAL_MIN_REL) else stale + 1
                best, best_state, best_step = v, _state_copy(ema_net), k
            else:
                stale += 1
            if stale >= patience and k >= min_steps:
                break
    ema_net.load_state_dict(best_state)
    ema_net.eval()
    from ditgp.models.build import count_parameters

    return ema_net, {"train_x0": x_train64, "best_step": best_step, "stopped": k,
                     "best_val": best, "selected_val": held_out(), "history": history,
                     "params": count_parameters(model),
                     "seconds": time.perf_counter() - w0,
                     "cpu_seconds": time.process_time() - c0}


def _score_fn(net, spec):
    """``(X numpy (n, d, H), t) → score numpy float64`` of an ε-predicting torch network."""
    import torch

    p = next(net.parameters())

    @torch.no_grad()
    def f(X, t, chunk: int = 256):
        out = []
        for i in range(0, X.shape[0], chunk):
            x = torch.as_tensor(np.asarray(X[i:i + chunk]), dtype=p.dtype, device=p.device)
            tt = torch.full((x.shape[0],), float(t), dtype=torch.float64, device=p.device)
            out.append(net(x, tt).double().cpu().numpy())
        return -np.concatenate(out) / math.sqrt(float(spec.schedule.sigma2(t)))
    return f


def _evaluate(net, spec, t_grid: np.ndarray, eval_n: int, dsm_n: int,
              train_x0: np.ndarray) -> dict[str, Any]:
    """Test metrics of one network on the shared test draws (module docstring)."""
    from ditgp.models.data import independent_frames_score
    from ditgp.numerics.oracle import Oracle

    from ..compare_trained import dsm_excess

    oracle = Oracle.for_spec(spec)
    score = _score_fn(net, spec)
    dH = spec.d * spec.H
    rows = []
    for i, t in enumerate(t_grid):
        t = float(t)
        X = oracle.sample(eval_n, seed=np.random.default_rng([EVAL_SEED, i]), t=t)
        s = oracle.score(X, t)
        s2 = float(spec.schedule.sigma2(t))
        sh = score(X, t)
        base = independent_frames_score(spec, X, t)
        row: dict[str, Any] = {
            "t": t, "excess": s2 * float(np.sum((sh - s) ** 2)) / (eval_n * dH),
            "baseline_excess": s2 * float(np.sum((base - s) ** 2)) / (eval_n * dH),
            "rel_error": float(np.linalg.norm(sh - s) / np.linalg.norm(s))}
        test = dsm_excess(score, spec, t, dsm_n, EVAL_SEED + 1 + i)
        row["dsm_excess"], row["dsm_se"] = test["excess_cv"], test["se_cv"]
        train = dsm_excess(score, spec, t, dsm_n, EVAL_SEED + 1 + i, x0=train_x0[:dsm_n])
        row["train_dsm_excess"], row["train_dsm_se"] = train["excess_cv"], train["se_cv"]
        rows.append(row)
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k != "t"}
    share = float(sum(r["excess"] for r in rows) / sum(r["baseline_excess"] for r in rows))
    return {"rows": rows, "mean": mean, "share": share}


# -- statistics ------------------------------------------------------------------------------------
def seed_mean_se(values: Sequence[float]) -> tuple[float, float]:
    """Mean and standard error (``sd/√S``, ``ddof = 1``) over seeds; SE is NaN for one seed."""
    v = np.asarray(values, dtype=np.float64)
    require(v.ndim == 1 and v.size >= 1, "values", values, "a non-empty list of numbers")
    se = float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else math.nan
    return float(v.mean()), se


def penalties(values: dict[tuple[str, int, int], float], arm: str, w_test: int, w_full: int,
              seeds: Sequence[int]) -> list[float]:
    """Per seed ``value(arm, w_test, s) − value(arm, w_full, s)`` (``values`` keyed by
    ``(arm, window, seed)``): the window penalty of one arm, one number per seed."""
    return [values[(arm, w_test, s)] - values[(arm, w_full, s)] for s in seeds]


def ordering_verdict(pen: dict[str, Sequence[float]], order: Sequence[str], *, claim: str,
                     statistic: str, control_name: str, control_verdict: str | None,
                     alpha: float = ALPHA, predicted: dict[str, float] | None = None
                     ) -> dict[str, Any]:
    """The verdict of "``pen`` increases along ``order``" from per-seed penalties (module
    docstring).  One :func:`~ditgp.verify.reproduce.verdict.seed_level_test` per adjacent pair
    on ``D_s = pen_B − pen_A``, and one on the **extreme contrast** (last − first):

    * **supported** iff every adjacent pair is supported (intersection–union: level ``α``
      without a correction, since all must pass);
    * **refuted** iff the extreme contrast is significantly reversed at ``α`` (one test, level
      ``α``; a reversed adjacent pair alone leaves the verdict inconclusive, and is reported);
    * **inconclusive** otherwise.

    The object's statistic, estimate, interval and power are the binding test's: the extreme
    contrast when refuted, else the adjacent pair with the largest sign-flip p.
    ``details.pairs`` holds every adjacent test and ``details.extreme`` the contrast;
    ``predicted`` (key ``"A<B"`` → difference) is each test's effect of interest."""
    require(len(order) >= 2, "kernels", list(order), "at least two arms to order")
    require(all(len(pen[a]) == len(pen[order[0]]) for a in order), "penalties",
            {a: len(pen[a]) for a in order}, "one value per seed for every arm")
    predicted = predicted or {}

    def test(a: str, b: str) -> dict[str, Any]:
        diffs = [float(y) - float(x) for x, y in zip(pen[a], pen[b], strict=True)]
        return seed_level_test(diffs, claim=claim, statistic=f"{statistic}: {b} − {a}",
                               control_name=control_name, control_verdict=control_verdict,
                               alpha=alpha, effect_of_interest=predicted.get(f"{a}<{b}"))

    pairs = {f"{a}<{b}": test(a, b) for a, b in itertools.pairwise(order)}
    ext_key = f"{order[0]}<{order[-1]}"
    extreme = pairs[ext_key] if len(order) == 2 else test(order[0], order[-1])
    if all(t["verdict"] == "supported" for t in pairs.values()):
        verdict, bind = "supported", max(pairs, key=lambda k: pairs[k]["details"]["p_value"])
    elif extreme["verdict"] == "refuted":
        verdict, bind = "refuted", ext_key
    else:
        verdict, bind = "inconclusive", max(pairs, key=lambda k: pairs[k]["details"]["p_value"])
    b = extreme if bind == ext_key and len(order) > 2 else pairs[bind]
    rule = (f"supported iff every adjacent pair is supported (intersection–union, level "
            f"{alpha:g}); refuted iff the extreme contrast {ext_key} is reversed at {alpha:g}; "
            f"binding test {bind}")
    return make_verdict(claim=claim, verdict=verdict, statistic=b["statistic"],
                        estimate=b["estimate"] if b["estimate"] is not None else math.nan,
                        interval=b["interval"], alpha=alpha, unit="seeds",
                        n=b["replication"]["n"], control_name=control_name,
                        control_verdict=control_verdict,
                        power=f"binding test {bind}: " + b["power"],
                        details={"rule": rule, "binding": bind,
                                 "p_value": b["details"]["p_value"],
                                 "p_value_against": b["details"]["p_value_against"],
                                 "pairs": pairs, "extreme": extreme})


# -- the experiment ----------------------------------------------------------------------------------
_TRAIN_KEYS = ("H", "d", "corr_length", "power_nu", "log_nu", "width", "depth", "heads",
               "attention", "n_train", "max_steps", "min_steps", "batch", "lr", "warmup", "ema",
               "t_lo", "t_hi", "eval_every", "patience", "val_n", "val_points", "eval_t_points",
               "eval_n", "dsm_n")


class DecayExperiment(Experiment):
    name = "decay"
    title = "Decay class → the window a network needs (exponential vs polynomial vs logarithmic)"
    claim = ("The kernel's decay sets how large a network must be to learn GP sequences, and so "
             "how efficiently it learns: the network the theory builds needs M = O(w(ε)) "
             "attention heads, the window w(ε) grows as the temporal kernel decays more slowly, "
             "and the distribution error scales like √(M/n). Tested here through the mechanism: "
             "restricting attention to a small window costs a smaller share of the learnable "
             "temporal structure for faster decay (exponential, then polynomial, then "
             "logarithmic).")
    default_seeds = {"toy": 2, "cpu": 5, "gpu": 6}

    def params(self, preset: str) -> dict[str, Any]:
        common = {"kernels": list(CLASS_OF), "control_kernel": "power-law", "planted_null": None,
                  "corr_length": 1.5, "power_nu": 1.5, "log_nu": 1.0, "attention": "softmax",
                  "t_lo": 0.1, "t_hi": 3.0, "eval_t_points": 7, "val_points": 3,
                  "eps_grid": [1e-1, 1e-2, 1e-3]}
        if preset == "toy":
            return {**common, "H": 16, "d": 1, "width": 8, "depth": 1, "heads": 1,
                    "windows": [1, 15], "test_window": 1, "n_train": 64, "max_steps": 24,
                    "min_steps": 8, "batch": 8, "lr": 3e-3, "warmup": 2, "ema": 0.9,
                    "eval_every": 8, "patience": 2, "val_n": 8, "eval_t_points": 3,
                    "eval_n": 16, "dsm_n": 8, "construct_H": [16, 32]}
        if preset == "cpu":
            # 40 cells × ≤ 2000 steps; see the cost model and docs/reproducing.md (pilot, power)
            return {**common, "H": 128, "d": 2, "width": 32, "depth": 2, "heads": 2,
                    "windows": [1, 127], "test_window": 1, "n_train": 2048, "max_steps": 2000,
                    "min_steps": 600, "batch": 32, "lr": 2e-3, "warmup": 50, "ema": 0.995,
                    "eval_every": 100, "patience": 4, "val_n": 64, "eval_n": 128,
                    "dsm_n": 128, "construct_H": [128, 256]}
        if preset == "gpu":
            # (3 kernels × 3 windows + the control's 2) × 6 seeds = 66 cells × ≤ 3600 steps at
            # batch 64: ≈ 55 min on one H100/H200 by the cost model (GPU_* constants; the
            # assumptions are stated there).  Longer training than cpu (held-out early stopping
            # ends a cell at its plateau), a middle window (receptive field 4) for the "window
            # needed", 6 seeds (the cpu pilot's spread detects 0.003 with 5).
            return {**common, "H": 128, "d": 2, "width": 32, "depth": 2, "heads": 2,
                    "windows": [1, 2, 127], "test_window": 1, "n_train": 8192,
                    "max_steps": 3600, "min_steps": 1500, "batch": 64, "lr": 2e-3,
                    "warmup": 100, "ema": 0.998, "eval_every": 100, "patience": 5,
                    "val_n": 128, "eval_n": 256, "dsm_n": 256, "construct_H": [128, 256]}
        raise SpecError("--preset", preset, "one of toy, cpu, gpu")

    # -- cells ------------------------------------------------------------------------------------
    @staticmethod
    def arms(params: dict[str, Any]) -> list[tuple[str, str]]:
        """``(arm, data kernel)`` pairs: one per kernel, then the control's replicate arm;
        with ``planted_null`` every arm's data kernel is that one."""
        out = [(k, k) for k in params["kernels"]]
        if params["control_kernel"] is not None:
            out.append((f"control-{params['control_kernel']}", params["control_kernel"]))
        if params["planted_null"] is not None:
            out = [(arm, params["planted_null"]) for arm, _ in out]
        return out

    @staticmethod
    def arm_windows(params: dict[str, Any], arm: str) -> list[int]:
        """The windows an arm trains at: every window for a kernel's arm; the test window and
        the full window for the control's replicate arm (all its test needs)."""
        if arm.startswith("control-"):
            return sorted({params["test_window"], params["H"] - 1})
        return sorted(params["windows"])

    def _check(self, params: dict[str, Any]) -> None:
        ks = params["kernels"]
        require(isinstance(ks, list) and len(ks) >= 2 and all(k in CLASS_OF for k in ks)
                and len(set(ks)) == len(ks), "--set kernels", ks,
                "at least two distinct kernels among " + ", ".join(CLASS_OF)
                + " (fastest decay first)")
        for key in ("control_kernel", "planted_null"):
            v = params[key]
            require(v is None or v in (ks if key == "control_kernel" else CLASS_OF),
                    f"--set {key}", v, "null or one of " + ", ".join(
                        ks if key == "control_kernel" else CLASS_OF))
        H = params["H"]
        require(isinstance(H, int) and H >= 4, "--set H", H, "an integer ≥ 4 (frames)")
        ws = params["windows"]
        require(isinstance(ws, list) and len(ws) >= 2 and len(set(ws)) == len(ws)
                and all(isinstance(w, int) and not isinstance(w, bool) and 0 <= w <= H - 1
                        for w in ws) and H - 1 in ws, "--set windows", ws,
                f"distinct windows in [0, H−1 = {H - 1}], the full window {H - 1} included "
                "(the reference of the penalty)")
        wt = params["test_window"]
        require(wt in ws and wt < H - 1, "--set test_window", wt,
                f"one of the windows {ws} below the full window {H - 1}")
        require(params["attention"] in ("softmax", "relu"), "--set attention",
                params["attention"], "softmax or relu")
        sched = _spec(ks[0], params).schedule
        lo, hi = params["t_lo"], params["t_hi"]
        require(isinstance(lo, float) and isinstance(hi, float) and sched.t0 <= lo < hi <= sched.T,
                "--set t_lo", (lo, hi), f"t_lo < t_hi inside [t0, T] = [{sched.t0:g}, {sched.T:g}]")
        for key, low in (("n_train", 1), ("max_steps", 1), ("min_steps", 0), ("batch", 1),
                         ("eval_every", 1), ("patience", 1), ("val_n", 2), ("val_points", 1),
                         ("eval_t_points", 1), ("eval_n", 2), ("dsm_n", 2), ("depth", 1),
                         ("width", 1), ("heads", 1), ("d", 1), ("warmup", 0)):
            v = params[key]
            require(isinstance(v, int) and not isinstance(v, bool) and v >= low, f"--set {key}",
                    v, f"an integer ≥ {low}")
        require(params["min_steps"] <= params["max_steps"], "--set min_steps",
                params["min_steps"], f"≤ max_steps = {params['max_steps']}")
        require(params["dsm_n"] <= params["n_train"], "--set dsm_n", params["dsm_n"],
                f"≤ n_train = {params['n_train']} (the train-set excess uses that many sequences)")
        from ditgp.models.config import ModelConfig

        ModelConfig("dit", width=params["width"], depth=params["depth"], heads=params["heads"],
                    attention=params["attention"])

    def cells(self, params: dict[str, Any], seeds: Sequence[int]) -> list[Cell]:
        self._check(params)
        data_kernels = sorted({k for _, k in self.arms(params)}, key=list(CLASS_OF).index)
        con_keys = ("corr_length", "power_nu", "log_nu", "H", "d", "eps_grid", "construct_H",
                    "t_lo", "t_hi", "eval_t_points", "depth", "windows")
        out = [Cell(f"construct-{k}", {"kind": "construct", "kernel": k,
                                       **{key: params[key] for key in con_keys}})
               for k in data_kernels]
        for arm, kern in self.arms(params):
            for w in self.arm_windows(params, arm):
                for s in seeds:
                    out.append(Cell(f"train-{arm}-w{w}-s{s}", {
                        "kind": "train", "arm": arm, "kernel": kern, "window": w, "seed": s,
                        **{key: params[key] for key in _TRAIN_KEYS}}))
        return out

    def run_cell(self, cell: Cell, ctx: Context) -> dict[str, Any]:
        if cell.params["kind"] == "construct":
            return self._construct(cell.params)
        return self._train(cell, ctx)

    def _construct(self, p: dict[str, Any]) -> dict[str, Any]:
        from ditgp.numerics.budget import construct_estimate
        from ditgp.theory.spec import GPSpec
        from ditgp.theory.truncation import window

        base = _spec(p["kernel"], p)
        rows = []
        for H in p["construct_H"]:
            spec = GPSpec(base.kernel, H=int(H), d=base.d)
            t0 = spec.schedule.t0
            for eps in p["eps_grid"]:
                compact = construct_estimate(spec, t0, float(eps), attention="compact",
                                             time_conditioning="gated", spectrum=True)
                rows.append({"H": int(H), "eps": float(eps),
                             "w": window(spec.kernel, float(eps) / 2, int(H)),
                             "M_compact": compact.heads, "M_paper": 4 * (window(
                                 spec.kernel, float(eps) / 2, int(H)) + 1),
                             "L": compact.layers})
        grid = np.geomspace(p["t_lo"], p["t_hi"], p["eval_t_points"])
        H = base.H
        bs = sorted({min(b, H - 1) for b in RF_GRID}
                    | {receptive_field(p["depth"], w, H) for w in p["windows"]})
        per_t = {b: [receptive_field_excess(base, b, float(t)) for t in grid] for b in bs}
        den = sum(per_t[0])
        k = base.kernel
        return {"kernel": p["kernel"], "decay_class": k.decay_class.value,
                "description": k.describe(), "params": k.params, "gamma0": float(k.gamma(0.0)),
                "gamma_at_corr_length": float(k.gamma(float(p["corr_length"]))),
                "gamma": k.gamma(np.arange(H, dtype=np.float64)).tolist(), "rows": rows,
                "rf": {"b": bs, "share": [sum(per_t[b]) / den for b in bs],
                       "excess": [float(np.mean(per_t[b])) for b in bs]},
                "baseline_excess": float(np.mean(per_t[0]))}

    def _train(self, cell: Cell, ctx: Context) -> dict[str, Any]:
        from ditgp.models.config import ModelConfig

        p = cell.params
        spec = _spec(p["kernel"], p)
        cfg = ModelConfig("dit", width=p["width"], depth=p["depth"], heads=p["heads"],
                          attention=p["attention"])
        net, info = fit_windowed(
            spec, cfg, p["window"], seq=cell_seed(p["seed"], p["arm"], p["window"], p["n_train"]),
            n_train=p["n_train"], max_steps=p["max_steps"], min_steps=p["min_steps"],
            batch=p["batch"], lr=float(p["lr"]), warmup=p["warmup"], ema=float(p["ema"]),
            t_lo=float(p["t_lo"]), t_hi=float(p["t_hi"]), eval_every=p["eval_every"],
            patience=p["patience"], val_n=p["val_n"], val_points=p["val_points"],
            device=ctx.device, dtype=ctx.dtype)
        grid = np.geomspace(p["t_lo"], p["t_hi"], p["eval_t_points"])
        ev = _evaluate(net, spec, grid, p["eval_n"], p["dsm_n"], info.pop("train_x0"))
        return {"arm": p["arm"], "kernel": p["kernel"], "window": p["window"],
                "seed": p["seed"], "receptive_field": receptive_field(p["depth"], p["window"],
                                                                      p["H"]),
                **info, **ev}

    # -- summary ---------------------------------------------------------------------------------
    def summarise(self, results: dict[str, dict[str, Any]], cells: list[Cell],
                  ctx: Context) -> dict[str, Any]:
        p = ctx.params
        arms = [a for a, _ in self.arms(p)]
        data_kernel = dict(self.arms(p))
        main = list(p["kernels"])
        con = {c.params["kernel"]: results[c.id] for c in cells if c.params["kind"] == "construct"}
        train = [results[c.id] for c in cells if c.params["kind"] == "train"]
        seeds = sorted({r["seed"] for r in train})
        w_test, w_full = p["test_window"], p["H"] - 1
        share = {(r["arm"], r["window"], r["seed"]): r["share"] for r in train}
        absx = {(r["arm"], r["window"], r["seed"]): r["mean"]["excess"] for r in train}
        pen = {a: penalties(share, a, w_test, w_full, seeds) for a in arms}
        pen_abs = {a: penalties(absx, a, w_test, w_full, seeds) for a in arms}
        b_test = receptive_field(p["depth"], w_test, p["H"])

        def bound(kern: str, b: int, key: str = "share") -> float:
            rf = con[kern]["rf"]
            return rf[key][rf["b"].index(b)]

        pred = {a: bound(data_kernel[a], b_test) for a in arms}
        pred_abs = {a: bound(data_kernel[a], b_test, "excess") for a in arms}
        predicted = {f"{a}<{b}": pred[b] - pred[a] for a, b in itertools.pairwise(main)}
        predicted_abs = {f"{a}<{b}": pred_abs[b] - pred_abs[a]
                         for a, b in itertools.pairwise(main)}
        null = p["planted_null"] is not None
        ctl_arm = f"control-{p['control_kernel']}" if p["control_kernel"] is not None else None
        stat = (f"window penalty share(w={w_test}) − share(w={w_full}), difference of "
                "adjacent classes per seed")
        control = None
        if ctl_arm is not None:
            kc = p["control_kernel"]
            control = seed_level_test(
                [c - o for c, o in zip(pen[ctl_arm], pen[kc], strict=True)],
                claim=f"planted null: {kc} and its replicate arm differ in window penalty",
                statistic=f"window penalty: replicate − {kc}", control_name="none",
                control_verdict=None)
        cname = (f"replicate arm of {p['control_kernel']} (same kernel, independent seeds): "
                 "the same ordering test must not be supported") if control else "none run"
        verdict = ordering_verdict(
            {a: pen[a] for a in main}, main, claim=self.claim, statistic=stat,
            control_name=cname, control_verdict=control["verdict"] if control else None,
            predicted=None if null else predicted)
        verdict_abs = ordering_verdict(
            {a: pen_abs[a] for a in main}, main, claim=self.claim,
            statistic="absolute window penalty (excess per element)",
            control_name=cname, control_verdict=control["verdict"] if control else None,
            predicted=None if null else predicted_abs)

        table: dict[str, Any] = {}
        for a in arms:
            table[a] = {}
            for w in self.arm_windows(p, a):
                rs = [r for r in train if r["arm"] == a and r["window"] == w]
                entry = {}
                for m in ("excess", "baseline_excess", "dsm_excess", "rel_error",
                          "train_dsm_excess"):
                    mu, se = seed_mean_se([r["mean"][m] for r in rs])
                    entry[m] = {"mean": mu, "se": se}
                mu, se = seed_mean_se([r["share"] for r in rs])
                entry["share"] = {"mean": mu, "se": se}
                entry["best_step"] = [r["best_step"] for r in rs]
                entry["stopped"] = [r["stopped"] for r in rs]
                entry["max_steps_reached"] = sum(r["stopped"] >= p["max_steps"] for r in rs)
                entry["bound_share"] = bound(data_kernel[a], receptive_field(p["depth"], w,
                                                                             p["H"]))
                table[a][str(w)] = entry
        needed = {}
        for a in arms:
            ok = [w for w in self.arm_windows(p, a)
                  if np.mean(penalties(share, a, w, w_full, seeds)) <= PENALTY_TOL]
            rf = con[data_kernel[a]]["rf"]
            b_need = next(b for b, s in zip(rf["b"], rf["share"], strict=True) if s <= PENALTY_TOL)
            needed[a] = {"trained_window": min(ok), "bound_receptive_field": b_need,
                         "bound_window": math.ceil(b_need / p["depth"])}
        figures = [self._plot_receptive_field(ctx, arms, data_kernel, con, table, p),
                   self._plot_penalties(ctx, arms, pen, verdict, control, p),
                   self._plot_training(ctx, arms, train, p),
                   self._plot_resources(ctx, [k for k in CLASS_OF if k in con], con, p)]
        numbers = {"penalty": pen, "penalty_abs": pen_abs, "predicted_penalty": pred,
                   "predicted_penalty_abs": pred_abs, "predicted_differences": predicted,
                   "verdict_abs": verdict_abs, "control": control, "table": table,
                   "window_needed": needed, "construct": con, "seeds": seeds,
                   "test_receptive_field": b_test, "penalty_tol": PENALTY_TOL,
                   "planted_null": p["planted_null"]}
        md = self._markdown(p, arms, data_kernel, seeds, table, pen, pen_abs, pred, verdict,
                            verdict_abs, control, needed, con, figures, train)
        return {"verdict": verdict, "numbers": numbers, "markdown": md, "figures": figures}

    # -- figures ---------------------------------------------------------------------------------
    @staticmethod
    def _color(arm: str, arms: list[str]) -> str:
        return "0.45" if arm.startswith("control-") else f"C{arms.index(arm)}"

    def _plot_receptive_field(self, ctx, arms, data_kernel, con, table, p) -> str:
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(7.2, 4.4))
        H, floor = p["H"], 1e-5  # shares below the floor are drawn at it (the bound reaches 0)
        for k in (k for k in CLASS_OF if k in con):
            rf = con[k]["rf"]
            ax.plot(rf["b"][:-1], np.maximum(rf["share"][:-1], floor),
                    color=f"C{list(CLASS_OF).index(k)}", lw=1.2,
                    label=f"exact bound, {k} ({CLASS_OF[k]})")
        for j, a in enumerate(arms):
            ctl = a.startswith("control-")
            for w, e in table[a].items():
                b = receptive_field(p["depth"], int(w), H)
                mu, se = e["share"]["mean"], e["share"]["se"]
                ax.errorbar([b * (1 + 0.05 * (j - 1.5))], [mu],
                            yerr=[0 if not math.isfinite(se) else se],
                            color="0.45" if ctl else f"C{list(CLASS_OF).index(data_kernel[a])}",
                            marker="s" if ctl else "o", ms=5, capsize=3, ls="none",
                            label=f"trained {a}" if int(w) == H - 1 else None)
        ax.axvline(H - 1, color="k", lw=0.6, ls=":")
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlim(-0.2, (H - 1) * 1.4)
        ax.set_yscale("log")
        ax.set_ylim(bottom=floor / 2)
        ax.set_xlabel(f"receptive field b = depth·w (frames; 0 = independent frames, {H - 1} = "
                      "full attention)")
        ax.set_ylabel("missed share of temporal structure\nΣ_t excess / Σ_t baseline excess")
        ax.set_title(f"the window's price: exact bound (lines) vs trained windowed DiTs (mean ± "
                     f"SE over seeds), H = {H}", fontsize=9)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
        return save_png(fig, ctx.root / "receptive_field.png")

    def _plot_penalties(self, ctx, arms, pen, verdict, control, p) -> str:
        plt = pyplot()
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.9))
        ax = axes[0]
        for j, a in enumerate(arms):
            y = np.asarray(pen[a])
            ax.plot(np.full(y.size, j) + np.linspace(-0.12, 0.12, y.size), y, "o",
                    color="0.45" if a.startswith("control-") else f"C{j}", ms=5)
            ax.plot([j - 0.25, j + 0.25], [y.mean()] * 2, "k-", lw=1.5)
        ax.axhline(0, color="k", lw=0.6)
        ax.set_xticks(range(len(arms)), arms, fontsize=8)
        ax.set_ylabel(f"window penalty (share units)\nshare(w={p['test_window']}) − "
                      f"share(w={p['H'] - 1})")
        ax.set_title("per seed (dots), mean (bar)", fontsize=9)
        ax = axes[1]
        tests = dict(verdict["details"]["pairs"])
        if control is not None:
            tests["control: replicate − " + p["control_kernel"]] = control
        for j, (key, t) in enumerate(tests.items()):
            d = np.asarray(t["details"]["per_unit"])
            ax.plot(np.full(d.size, j) + np.linspace(-0.12, 0.12, d.size), d, "o", ms=4,
                    color="0.45" if key.startswith("control") else "C3")
            lo, hi = t["interval"]
            mu = t["estimate"]
            ax.errorbar([j + 0.25], [mu], yerr=[[mu - lo if lo is not None else 0],
                                                 [hi - mu if hi is not None else 0]],
                        fmt="D", color="k", capsize=4, ms=4)
        ax.axhline(0, color="k", lw=0.6)
        ax.set_xticks(range(len(tests)), [
            f"{k.replace('control: ', 'ctl: ')}\n{t['verdict']}, p = {t['details']['p_value']:.3g}"
            for k, t in tests.items()], fontsize=7)
        ax.set_ylabel("per-seed difference of penalties")
        ax.set_title(f"ordering tests (diamond: mean with one-sided {1 - ALPHA:.0%} bounds)",
                     fontsize=9)
        return save_png(fig, ctx.root / "penalties.png")

    def _plot_training(self, ctx, arms, train, p) -> str:
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(7.2, 4.2))
        for r in train:
            h = np.asarray(r["history"])
            if h.size == 0:
                continue
            color = "0.45" if r["arm"].startswith("control-") else f"C{arms.index(r['arm'])}"
            ls = "-" if r["window"] == p["H"] - 1 else "--"
            ax.plot(h[:, 0], h[:, 1], ls, color=color, lw=0.8, alpha=0.7)
            ax.plot([r["best_step"]], [r["best_val"]], "o", color=color, ms=3)
        for j, a in enumerate(arms):
            ax.plot([], [], color="0.45" if a.startswith("control-") else f"C{j}", label=a)
        ax.plot([], [], "k-", label=f"w = {p['H'] - 1} (full)")
        ax.plot([], [], "k--", label="smaller windows")
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_ylabel("held-out excess (per element, EMA weights)")
        ax.set_title("held-out selection: every cell's curve, dot = the selected state", fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3, which="both")
        return save_png(fig, ctx.root / "training.png")

    @staticmethod
    def _plot_resources(ctx, ks, con, p) -> str:
        plt = pyplot()
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
        lc = float(p["corr_length"])
        for k in ks:
            i = list(CLASS_OF).index(k)
            g = np.asarray(con[k]["gamma"])
            axes[0].plot(np.arange(g.size), g, color=f"C{i}",
                         label=f"{k}: {con[k]['description']}")
        axes[0].axhline(CORR_LEVEL, color="k", lw=0.6, ls=":")
        axes[0].axvline(lc, color="k", lw=0.6, ls=":")
        axes[0].set_yscale("log")
        axes[0].set_xlabel("gap m")
        axes[0].set_title(f"γ(m), matched γ(ℓ_c = {lc:g}) = 1/e", fontsize=9)
        axes[0].legend(fontsize=6)
        styles = ("-", "--", ":", "-.")
        for ax, key, title in ((axes[1], "w", "theory's window w(ε)"),
                               (axes[2], "M_compact", "heads M(ε) (compact)")):
            for k in ks:
                i = list(CLASS_OF).index(k)
                for j, H in enumerate(p["construct_H"]):
                    rows = [r for r in con[k]["rows"] if r["H"] == H]
                    ax.plot([r["eps"] for r in rows], [max(r[key], 0.5) for r in rows],
                            color=f"C{i}", ls=styles[j % len(styles)], marker="o", ms=3,
                            label=f"{k}, H={H}")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.invert_xaxis()
            ax.set_xlabel("ε (target relative error)")
            ax.set_title(title, fontsize=9)
            ax.grid(alpha=0.3, which="both")
        axes[1].legend(fontsize=6)
        fig.suptitle("constructive side (exact): the theory's network per decay class", fontsize=10)
        return save_png(fig, ctx.root / "resources.png")

    # -- markdown --------------------------------------------------------------------------------
    def _markdown(self, p, arms, data_kernel, seeds, table, pen, pen_abs, pred, verdict,
                  verdict_abs, control, needed, con, figures, train) -> str:
        def pm(e, digits=3):
            mu, se = e["mean"], e["se"]
            return f"{mu:.{digits}g} ± {se:.2g}" if math.isfinite(se) else f"{mu:.{digits}g}"

        H, wt = p["H"], p["test_window"]
        b_test = receptive_field(p["depth"], wt, H)
        lines = []
        if p["planted_null"] is not None:
            lines += [f"**Planted null**: every arm trains and is tested on "
                      f"`{p['planted_null']}` data; the arm names are labels only. The ordering "
                      "test must not be supported.", ""]
        lines += [f"**Design.** H = {H}, d = {p['d']}; kernels matched at ℓ_c = "
                  f"{p['corr_length']:g} (γ(ℓ_c) = 1/e); DiT width {p['width']}, {p['depth']} "
                  f"blocks, {p['heads']} heads, {p['attention']} attention limited to gaps ≤ w, "
                  f"w ∈ {p['windows']} (receptive field depth·w); each cell trains on its own "
                  f"{p['n_train']} exact draws, t log-uniform on [{p['t_lo']:g}, {p['t_hi']:g}], "
                  f"batch {p['batch']}, lr {p['lr']:g}, EMA {p['ema']:g}, ≤ {p['max_steps']} "
                  f"steps with held-out selection (every {p['eval_every']} steps, patience "
                  f"{p['patience']}, at least {p['min_steps']} steps); seeds "
                  f"{', '.join(map(str, seeds))} (the unit). Test: {p['eval_t_points']} "
                  f"log-spaced t in [{p['t_lo']:g}, {p['t_hi']:g}], {p['eval_n']} oracle draws "
                  f"per t (identity excess), {p['dsm_n']} (X₀, Z) pairs per t for the "
                  "control-variate DSM excess (test and training sequences).", ""]
        pairs = dict(verdict["details"]["pairs"])
        pairs_abs = dict(verdict_abs["details"]["pairs"])
        if len(p["kernels"]) > 2:
            key = f"{p['kernels'][0]}<{p['kernels'][-1]}"
            pairs[key], pairs_abs[key] = verdict["details"]["extreme"], \
                verdict_abs["details"]["extreme"]
        rows = []
        for key, t in pairs.items():
            a, b = key.split("<")
            ta = pairs_abs[key]
            rows.append([key, f"{t['estimate']:.3g}", _iv(t["interval"]),
                         f"{t['details']['p_value']:.3g}", t["verdict"],
                         f"{pred[b] - pred[a]:.3g}", f"{ta['estimate']:.3g}",
                         _iv(ta["interval"]), f"{ta['details']['p_value']:.3g}"])
        if control is not None:
            rows.append([f"control: replicate − {p['control_kernel']}",
                         f"{control['estimate']:.3g}", _iv(control["interval"]),
                         f"{control['details']['p_value']:.3g}", control["verdict"], "0", "", "",
                         ""])
        lines += ["**Ordering tests** (unit: seed; per seed the difference of the two classes' "
                  "window penalties; H1: the faster-decaying class pays less; the last main row "
                  "is the extreme contrast, which alone can refute):", "",
                  md_table(["pair (A<B)", "mean Δ penalty (share)", "one-sided 95 % bounds",
                            "sign-flip p", "verdict", "predicted by the bound", "mean Δ (abs.)",
                            "bounds (abs.)", "p (abs.)"], rows, "lrrrlrrrr"), "",
                  f"Rule: {verdict['details']['rule']}. In absolute units (excess per element) "
                  f"the same rule gives **{verdict_abs['verdict']}**.", ""]
        at_max = sum(r["stopped"] >= p["max_steps"] for r in train)
        if verdict["verdict"] == "inconclusive":
            head = (f"**Not conclusive at this size** ({len(seeds)} seeds): {verdict['power']}. "
                    "The gpu preset (`--preset gpu`: 6 seeds, batch 64, up to 3600 steps with "
                    "held-out early stopping, windows 1, 2 and full) is the design sized to be.")
        else:
            head = (f"**Conclusive at this size** ({len(seeds)} seeds): the ordering test is "
                    f"{verdict['verdict']}.")
        lines += [head + (f" {at_max} of {len(train)} cells ran to max_steps = "
                          f"{p['max_steps']} (still improving on the held-out set): their "
                          "penalties include optimisation error beside the window's price; "
                          "`penalty − bound` below is that part." if at_max else
                          " Every cell stopped at its held-out plateau."), ""]
        rows = []
        for a in arms:
            for w in self.arm_windows(p, a):
                e = table[a][str(w)]
                rows.append([a, w, receptive_field(p["depth"], w, H), pm(e["share"]),
                             f"{e['bound_share']:.3g}", pm(e["excess"]),
                             pm(e["baseline_excess"]), pm(e["dsm_excess"]),
                             pm(e["rel_error"]), pm(e["train_dsm_excess"]),
                             f"{int(np.median(e['best_step']))} / {e['max_steps_reached']}"])
        lines += ["**Per arm and window** (mean ± SE over seeds): the missed share of the "
                  "temporal structure beside the exact bound at that receptive field, the test "
                  "excess per element (identity) beside the independent-frames baseline, the "
                  "control-variate DSM excess (cross-check), the relative score error, the "
                  "excess on the cell's training sequences (< 0: memorised) and the selected "
                  "step (median) / cells that ran to max_steps:", "",
                  md_table(["arm", "w", "b", "missed share", "bound", "excess", "baseline",
                            "DSM excess (cv)", "score rel. err.", "train-set excess",
                            "step / at max"], rows, "lrrrrrrrrrr"), ""]
        rows = [[a, f"{np.mean(pen[a]):.3g} ± {np.std(pen[a], ddof=1) / math.sqrt(len(seeds)):.2g}"
                 if len(seeds) > 1 else f"{np.mean(pen[a]):.3g}", f"{pred[a]:.3g}",
                 f"{np.mean(pen[a]) - pred[a]:.3g}", f"{np.mean(pen_abs[a]):.3g}",
                 needed[a]["trained_window"],
                 f"{needed[a]['bound_window']} (b = {needed[a]['bound_receptive_field']})"]
                for a in arms]
        lines += [f"**Window penalty** at w = {wt} (b = {b_test}) per arm, beside the exact "
                  f"bound's prediction for a network that learns everything else, and the "
                  f"smallest window whose mean penalty is ≤ {PENALTY_TOL:g} (trained, from the "
                  "windows run) and by the bound:", "",
                  md_table(["arm", "penalty (share) ± SE", "bound", "penalty − bound",
                            "penalty (abs.)", "window needed (trained)",
                            "window needed (bound)"], rows, "lrrrrrr"), "",
                  f"![receptive field]({figures[0]})", "", f"![penalties]({figures[1]})", "",
                  f"![training]({figures[2]})", ""]
        ks = [k for k in CLASS_OF if k in con]
        hdr = ["ε"] + [f"{k} H={Hc}: w / M / L" for Hc in p["construct_H"] for k in ks]
        crow = []
        for eps in p["eps_grid"]:
            row: list[Any] = [f"{eps:g}"]
            for Hc in p["construct_H"]:
                for k in ks:
                    r = next(r for r in con[k]["rows"] if r["H"] == Hc and r["eps"] == eps)
                    row.append(f"{r['w']} / {r['M_compact']} / {r['L']}")
            crow.append(row)
        lines += ["**Constructive side** (exact; `construct_estimate` and `window` at ε/2, as "
                  "`ditgp construct` sizes the network): the theory's window w(ε) of γ, compact "
                  "heads M(ε) and Chebyshev layers L(ε) (one gated network for all t). Kernels: "
                  + "; ".join(f"{k} = `{con[k]['description']}`" for k in ks) + ".", "",
                  md_table(hdr, crow, "l" + "r" * (len(hdr) - 1)), "",
                  f"![resources]({figures[3]})", ""]
        cpu = sum(r.get("cpu_seconds", 0.0) for r in train)
        lines += [f"Training CPU time of the cells (process time, all cells): {cpu:.0f} s; "
                  f"steps run: {sum(r['stopped'] for r in train)}.", ""]
        return "\n".join(lines)

    # -- cost ------------------------------------------------------------------------------------
    def estimate_seconds(self, params: dict[str, Any], cells: list[Cell], device: str) -> float:
        # the data stream (a resident training set: only Z is drawn per batch) is its own term;
        # the measured CPU step included it, so the compute part is the measured step less the
        # stream at the calibration size
        from .cost import stream_seconds

        total = 0.0
        for c in cells:
            cp = c.params
            if cp["kind"] == "construct":
                total += 2.0 + 0.05 * len(RF_GRID) * cp["eval_t_points"] * cp["d"] \
                    + 0.5 * len(cp["construct_H"]) * len(cp["eps_grid"])
                continue
            stream = stream_seconds(cp["batch"], cp["d"], cp["H"], device, gp_draws=False)
            if device.startswith("cuda"):
                share = max(cp["depth"] / 12, GPU_MIN_SHARE)
                tokens = max(cp["batch"] * cp["H"] / _GPU_REF_TOKENS, 1.0)
                total += cp["max_steps"] * (GPU_PAPER_STEP_S * share * tokens + stream) \
                    + GPU_CELL_S
            else:
                size = math.prod(cp[k] / v for k, v in _CPU_REF.items())
                total += cp["max_steps"] * ((CPU_STEP_S - _CPU_REF_STREAM_S) * size + stream) \
                    + CPU_CELL_S
        return total


def _iv(iv: Sequence[float | None]) -> str:
    lo, hi = iv
    return f"[{'—' if lo is None else f'{lo:.3g}'}, {'—' if hi is None else f'{hi:.3g}'}]"


register(DecayExperiment())
