"""``ditgp reproduce length`` — score error and attention fidelity as ``H`` grows (beyond the
paper; its reviewers asked for it).

**Question.**  The theory builds, for a summable temporal kernel, a transformer whose size does
not depend on the sequence length ``H``: the truncation window ``w(ε)``, the iteration count
``K(ε)`` (the layers), the heads ``M`` and the width ``D`` are fixed once ``H > w`` (THEORY.md
§3–4), and its relative score error is certified ``≤ ε`` for every ``H``.  Does a trained DiT
of *fixed* size keep up as ``H`` grows, and does its attention keep tracking the kernel?

**Cells.**  Per ``H`` of a geometric grid and per seed, one **training cell**: the same DiT
(fixed width, depth, heads, sinusoidal positional embedding — it serves any ``H``), trained on
the same kernel and ``Σ`` with the same optimiser numbers; evaluated on the training
Evaluator's fixed draws (:class:`ditgp.models.train.Evaluator`: ``n_eval`` exact draws of
``X_t`` per ``t`` of ``eval_grid``) — relative score error against the exact oracle, the
independent-frames baseline on the same draws, the excess ε-loss over the Bayes floor (through
the identity ``σ_t² E‖ŝ-s‖²/(dH)`` on those draws, and directly by Monte Carlo with its SE,
:func:`ditgp.verify.trained.dsm_excess`), and the attention-vs-gap profile
(:func:`ditgp.models.probes.gap_profile`) against ``γ``
(:func:`ditgp.verify.probes.profile_vs_kernel`: Spearman, scaled L2, permutation p).  Per ``H``
one **construction cell** (no training; exact): the ``gated`` Chebyshev construction at the
stated ``eps`` (:func:`ditgp.numerics.construct`; one network serves every ``t``), its
certified **bound**, its resources ``(L, M, w, D, params)``, and its error on the *same*
Evaluator draws.  The construction's network is evaluated through the reference iteration it
realises (:meth:`Construction.reference_iterates`: ``K`` Chebyshev steps on the truncated
system — the network's forward pass is that iteration to rounding, and the cell *measures*
that identity on a few draws wherever the dense network forward is affordable,
``net_check_max_H``), because the forward pass of ``M`` dense ``H × H`` ReLU heads per layer
costs ``O(L·M·H²)`` per sequence.  Before any construction or oracle the cell checks the
resource budget (:mod:`ditgp.numerics.budget`).

**Budget fairness.**  ``budget_rule = "sequences"`` (default): every ``H`` gets the same
``steps`` and ``batch`` (the same number of training *sequences*; frames seen and compute grow
``∝ H``).  ``"frames"``: the batch is ``round(batch · H_min / H)`` (at least
``MIN_BATCH``), so every ``H`` sees the same number of frames.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from ditgp.theory.errors import require

from .base import Cell, Context, Experiment, md_table, register, save_png

__all__ = ["LengthExperiment", "GAMMA_FLOOR", "CI_LEVEL", "MIN_BATCH", "near_gaps",
           "loglog_slope", "mean_se", "saturation_H", "batch_for", "relative_errors"]

#: gaps compared "near" are those with ``γ(m) ≥ GAMMA_FLOOR``: beyond, the kernel is below the
#: resolution of a softmax profile averaged over heads/layers (ranks there are noise, and their
#: number grows with ``H``, which would make the full-range Spearman fall with ``H`` for a
#: reason that has nothing to do with fidelity)
GAMMA_FLOOR = 1e-2
#: two-sided confidence level of the fitted log-log slope (t-interval of the OLS slope)
CI_LEVEL = 0.95
#: smallest batch the ``frames`` budget rule may give (AdamW on fewer sequences is mostly noise)
MIN_BATCH = 4
#: level at which the summary calls an attention-vs-γ association significant (one-sided
#: permutation test, the conventional 5%)
SIGNIFICANCE = 0.05
#: the band of ``t`` whose mean relative error is the headline number per ``H``: the training
#: report's band (:data:`ditgp.models.train.HEADLINE_T`), where the temporal structure matters
#: most and the baseline is far from both 0 and 1
_BAND = (0.1, 1.0)


# -- statistics (unit-tested on inputs with a known answer) -----------------------------------
def near_gaps(gamma: Sequence[float], floor: float = GAMMA_FLOOR) -> int:
    """The largest gap ``G`` such that ``γ(m) ≥ floor`` for every ``m ≤ G`` (at least 2, so a
    profile has 3 gaps; at most ``len(gamma) - 1``)."""
    g = np.abs(np.asarray(gamma, dtype=np.float64))
    below = np.nonzero(g < floor)[0]
    G = (int(below[0]) - 1) if below.size else g.size - 1
    return int(min(max(G, 2), g.size - 1))


def mean_se(values: Sequence[float]) -> tuple[float, float, int]:
    """Mean, standard error of the mean (``nan`` with one value) and count of the finite
    values."""
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return math.nan, math.nan, 0
    se = float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else math.nan
    return float(v.mean()), se, int(v.size)


def loglog_slope(x: Sequence[float], y: Sequence[float], level: float = CI_LEVEL
                 ) -> dict[str, Any]:
    """OLS fit of ``log y = a + b log x``: slope ``b``, its standard error and the two-sided
    ``level`` t-interval (``nan`` half-width with fewer than 3 points).  Non-positive ``y``
    are dropped (a log scale has no place for them)."""
    from scipy.stats import t as student

    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(xs) & np.isfinite(ys) & (xs > 0) & (ys > 0)
    lx, ly = np.log(xs[ok]), np.log(ys[ok])
    n = int(lx.size)
    if n < 2 or np.ptp(lx) == 0:
        return {"slope": math.nan, "se": math.nan, "ci": [math.nan, math.nan], "n": n}
    xc = lx - lx.mean()
    b = float(xc @ (ly - ly.mean()) / (xc @ xc))
    a = float(ly.mean() - b * lx.mean())
    if n < 3:
        return {"slope": b, "intercept": a, "se": math.nan, "ci": [math.nan, math.nan], "n": n}
    resid = ly - (a + b * lx)
    se = float(math.sqrt(resid @ resid / (n - 2) / (xc @ xc)))
    half = float(student.ppf(0.5 + level / 2, n - 2)) * se
    return {"slope": b, "intercept": a, "se": se, "ci": [b - half, b + half], "n": n,
            "level": level}


def saturation_H(Hs: Sequence[int], values: Sequence[float]) -> int | None:
    """The smallest ``H`` of the (sorted) grid from which ``values`` stay equal to the value at
    the largest ``H`` — where a resource stops growing; ``None`` if it still changes at the
    last step of the grid (growth not over, or not seen to be over)."""
    order = np.argsort(np.asarray(Hs))
    H = np.asarray(Hs)[order]
    v = np.asarray(values, dtype=np.float64)[order]
    if H.size < 2 or v[-1] != v[-2]:
        return None
    i = H.size - 1
    while i > 0 and v[i - 1] == v[-1]:
        i -= 1
    return int(H[i])


def batch_for(H: int, Hs: Sequence[int], batch: int, rule: str) -> int:
    """Training batch at ``H`` under the budget rule (module docstring)."""
    require(rule in ("sequences", "frames"), "budget_rule", rule, "'sequences' or 'frames'")
    if rule == "sequences":
        return int(batch)
    return int(max(MIN_BATCH, round(batch * min(Hs) / H)))


def relative_errors(score_fn, X: Sequence[np.ndarray], S: Sequence[np.ndarray],
                    t: Sequence[float]) -> dict[str, list[float]]:
    """Per ``t``: pooled relative error ``‖ŝ-s‖/‖s‖`` and the excess ε-loss per element through
    the identity ``σ_t² Σ‖ŝ-s‖²/(n·d·H)`` (THEORY.md §2), on the given draws ``X`` and exact
    scores ``S`` (each ``(n, d, H)``)."""
    rel, exc = [], []
    for Xi, Si, ti in zip(X, S, t, strict=True):
        diff = np.asarray(score_fn(Xi, float(ti)), dtype=np.float64) - Si
        rel.append(float(np.linalg.norm(diff) / np.linalg.norm(Si)))
        exc.append(float(-math.expm1(-float(ti)) * np.sum(diff ** 2) / Si.size))
    return {"rel_error": rel, "excess": exc}


def _band_mean(t: Sequence[float], vals: Sequence[float]) -> float:
    lo, hi = _BAND
    tt, vv = np.asarray(t), np.asarray(vals, dtype=np.float64)
    band = (tt >= lo * (1 - 1e-9)) & (tt <= hi * (1 + 1e-9))
    return float(vv[band].mean()) if band.any() else float(vv.mean())


def _v(x) -> float:
    """A plotted value: ``None`` → ``nan`` (matplotlib leaves a gap)."""
    return math.nan if x is None else float(x)


def _se(x) -> float:
    """An error-bar half-width: none (one seed) → 0."""
    return 0.0 if x is None or not math.isfinite(float(x)) else float(x)


def _pm(x, se) -> str | None:
    return None if x is None else f"{x:.3g}" + (f" ± {se:.1g}" if se else "")


def _ticks(ax, Hs) -> None:
    ax.set_xticks(list(Hs), [str(h) for h in Hs])
    ax.minorticks_off()


# -- the experiment ------------------------------------------------------------------------------
class LengthExperiment(Experiment):
    name = "length"
    title = "Score error and attention fidelity as the sequence length H grows"
    claim = ("Beyond the paper (its reviewers asked for it). The theory's construction for a "
             "summable temporal kernel has a size independent of the sequence length H — "
             "window w(ε), layers L = K(ε), heads M and width D stop growing once H > w — and a "
             "certified relative score error ≤ ε at every H. Does a trained DiT of fixed size "
             "keep its score error and its kernel-shaped attention as H grows?")
    default_seeds = {"toy": 1, "cpu": 1, "gpu": 2}

    def params(self, preset: str) -> dict[str, Any]:
        common = {"kernel": "laplace", "kernel_params": {"ell": 4.0}, "spatial": "ar:0.5",
                  "budget_rule": "sequences", "pos_emb": "sinusoidal", "lr": 1e-3,
                  "warmup": 50, "ema": 0.99, "t_sampling": "log-uniform", "eval_points": 9,
                  "construct_eps": 1e-3, "dsm_t": [0.1, 1.0], "probe_t": 0.1}
        if preset == "toy":
            return {**common, "Hs": [8, 16], "d": 2, "width": 16, "depth": 1, "heads": 2,
                    "steps": 30, "batch": 16, "warmup": 5, "ema": 0.9, "n_eval": 16,
                    "dsm_n": 32, "probe_n": 4, "construct_eps": 1e-2, "net_check_max_H": 8,
                    "net_check_n": 2, "construct_Hs": [8, 16]}
        if preset == "cpu":
            # measured on this project's 2-core machine: about 4 minutes with --jobs 2
            return {**common, "Hs": [16, 32, 64, 128], "d": 2, "width": 32, "depth": 2,
                    "heads": 4, "steps": 1000, "batch": 32, "n_eval": 64, "dsm_n": 128,
                    "probe_n": 8, "net_check_max_H": 32, "net_check_n": 2,
                    "construct_Hs": [16, 32, 64, 128, 256, 512]}
        # gpu: d = 8 and the paper's DiT (width 256, 12 layers, 16 heads; THEORY.md §6).
        # Assumed throughput (not measured: no GPU in the session that built this): one H100
        # runs this DiT in float32 at ≈ 2e13 flop/s plus ≈ 12 ms/step of launch overhead —
        # ≈ 75 ms/step at H = 512, ≈ 15 ms/step for H ≤ 64 (batch 32): 800 steps × 6 lengths
        # ≈ 2.7 min per seed, 2 seeds ≈ 5.3 min, + the attention probes (CPU, O(L·M·H³),
        # ≈ 1.3 min per seed at H = 512) and constructions and evaluation ≈ 0.5 min
        # (estimate_seconds prints ≈ 9 min, conservatively) ≤ 9 min.  --dtype bf16 roughly
        # halves the training time; change the step count with --set steps=N.
        return {**common, "Hs": [16, 32, 64, 128, 256, 512], "d": 8, "width": 256, "depth": 12,
                "heads": 16, "steps": 800, "batch": 32, "lr": 3e-4, "warmup": 100,
                "ema": 0.995, "n_eval": 64, "dsm_n": 128, "probe_n": 8,
                "net_check_max_H": 32, "net_check_n": 2,
                "construct_Hs": [16, 32, 64, 128, 256, 512]}

    # -- cells ---------------------------------------------------------------------------------
    def cells(self, params: dict[str, Any], seeds: Sequence[int]) -> list[Cell]:
        Hs = [int(h) for h in params["Hs"]]
        require(len(Hs) >= 2 and len(set(Hs)) == len(Hs) and min(Hs) >= 4, "--set Hs",
                params["Hs"], "at least two distinct lengths ≥ 4")
        con_Hs = sorted({int(h) for h in params["construct_Hs"]} | set(Hs))
        require(min(con_Hs) >= 4, "--set construct_Hs", params["construct_Hs"], "lengths ≥ 4")
        shared = {k: params[k] for k in ("kernel", "kernel_params", "spatial", "d",
                                         "eval_points", "n_eval", "dsm_t", "dsm_n")}
        out = []
        # training cells first, longest first (the slowest cells start first under --jobs)
        for H in sorted(Hs, reverse=True):
            batch = batch_for(H, Hs, params["batch"], params["budget_rule"])
            for s in seeds:
                out.append(Cell(f"H{H}-s{s}", {
                    "kind": "train", "H": H, "seed": int(s), **shared,
                    "model": {"width": params["width"], "depth": params["depth"],
                              "heads": params["heads"], "pos_emb": params["pos_emb"]},
                    "steps": params["steps"], "batch": batch, "lr": params["lr"],
                    "warmup": params["warmup"], "ema": params["ema"],
                    "t_sampling": params["t_sampling"],
                    "probe_n": params["probe_n"], "probe_t": params["probe_t"]}))
        for H in sorted(con_Hs, reverse=True):
            out.append(Cell(f"con-H{H}", {"kind": "construct", "H": H, **shared,
                                           "eps": params["construct_eps"],
                                           "net_check": H <= params["net_check_max_H"],
                                           "net_check_n": params["net_check_n"],
                                           "probe_t": params["probe_t"]}))
        return out

    @staticmethod
    def _spec(p: dict[str, Any]):
        from ditgp.theory.kernels import kernel
        from ditgp.theory.spec import GPSpec, parse_spatial

        return GPSpec(kernel(p["kernel"], **p["kernel_params"]), H=int(p["H"]), d=int(p["d"]),
                      spatial=parse_spatial(p["spatial"]))

    def run_cell(self, cell: Cell, ctx: Context) -> dict[str, Any]:
        from ditgp.numerics import budget

        p = cell.params
        spec = self._spec(p)
        flag = "--set construct_Hs" if p["kind"] == "construct" else "--set Hs"
        budget.oracle_estimate(spec.H, spec.d).check(
            flag, spec.H, alternative=f"choose smaller lengths with {flag}=[...]")
        cpu0 = time.process_time()
        if p["kind"] == "construct":
            out = self._construct_cell(spec, p)
        else:
            out = self._train_cell(spec, p, cell, ctx)
        out["cpu_seconds"] = time.process_time() - cpu0  # this process only (calibration)
        return out

    def _evaluator(self, spec, p):
        from ditgp.models.train import Evaluator

        return Evaluator(spec, n=int(p["n_eval"]), points=int(p["eval_points"]))

    def _common_eval(self, spec, p, score_fn) -> dict[str, Any]:
        """Errors of ``score_fn`` and of the independent-frames baseline on the Evaluator's
        draws, and the direct Monte-Carlo excess loss at ``dsm_t``."""
        from ditgp.models.data import independent_frames_score
        from ditgp.verify.trained import dsm_excess

        ev = self._evaluator(spec, p)
        t = [float(x) for x in ev.t]
        net = relative_errors(score_fn, ev.X, ev.S, t)
        ind = relative_errors(lambda X, tt: independent_frames_score(spec, X, tt), ev.X, ev.S, t)
        dsm = [dsm_excess(score_fn, spec, float(tt), int(p["dsm_n"]), seed=i)
               for i, tt in enumerate(p["dsm_t"])]
        dsm_ind = [dsm_excess(lambda X, s: independent_frames_score(spec, X, s), spec, float(tt),
                              int(p["dsm_n"]), seed=i) for i, tt in enumerate(p["dsm_t"])]
        return {"t": t, **net, "band_error": _band_mean(t, net["rel_error"]),
                "independent": {**ind, "band_error": _band_mean(t, ind["rel_error"])},
                "dsm": dsm, "dsm_independent": dsm_ind}

    def _construct_cell(self, spec, p) -> dict[str, Any]:
        from ditgp.numerics import budget, construct
        from ditgp.numerics.oracle import Oracle

        eps = float(p["eps"])
        t0 = spec.schedule.t0
        budget.construct_estimate(spec, t0, eps, time_conditioning="gated").check(
            "--set construct_eps", eps, alternative="a larger eps or smaller lengths")
        con = construct(spec, t=t0, eps=eps, attention="compact", algorithm="chebyshev",
                        time_conditioning="gated", measure=False)

        def score(X, t):
            return -con.reference_iterates(np.asarray(X, dtype=np.float64), float(t))[-1]

        out = self._common_eval(spec, p, score)
        res = con.resources
        out["bound"] = float(con.error_bound)
        out["resources"] = {k: res.get(k) for k in ("D", "L", "M", "K", "window", "params")}
        out["theory"] = {"L_K_formula": res.get("theory", {}).get("L", {}).get("K_formula"),
                         "kappa": res.get("theory", {}).get("L", {}).get("kappa"),
                         "M_paper": res.get("theory", {}).get("M", {}).get("value")}
        out["plan"] = {"truncation_bound": float(con.plan.truncation_bound),
                       "iteration_bound": float(con.plan.iteration_bound)}
        out["max_error_over_bound"] = float(max(out["rel_error"]) / out["bound"])
        if p["net_check"]:
            X = Oracle.for_spec(spec).sample(int(p["net_check_n"]), seed=np.random.default_rng(
                [spec.H, 11]), t=float(p["probe_t"]))
            a = con.score(X, float(p["probe_t"]))
            b = score(X, float(p["probe_t"]))
            out["network_vs_iteration"] = float(np.linalg.norm(a - b) / np.linalg.norm(b))
        else:
            out["network_vs_iteration"] = None
        gamma = np.asarray(spec.Gamma[:, 0])
        out["near_gaps"] = near_gaps(gamma)
        return out

    def _train_cell(self, spec, p, cell, ctx) -> dict[str, Any]:
        from ditgp.models.config import ModelConfig
        from ditgp.models.export import load_trained
        from ditgp.models.probes import attention_maps, gap_profile
        from ditgp.numerics.oracle import Oracle
        from ditgp.verify.probes import profile_vs_kernel

        from .base import train_cell

        m = p["model"]
        cfg = ModelConfig("dit", width=int(m["width"]), depth=int(m["depth"]),
                          heads=int(m["heads"]), pos_emb=m["pos_emb"])
        res = train_cell(ctx, cell, spec, cfg, steps=int(p["steps"]), batch=int(p["batch"]),
                         lr=float(p["lr"]), seed=int(p["seed"]), warmup=int(p["warmup"]),
                         ema=float(p["ema"]), t_sampling=p["t_sampling"],
                         eval_points=int(p["eval_points"]), n_eval=int(p["n_eval"]))
        net = load_trained(res.bundle, ctx.device)
        out = self._common_eval(spec, p, net.score)
        # attention probe (the probes run on CPU tensors)
        probe = net if ctx.device == "cpu" else load_trained(res.bundle, "cpu")
        tp = float(p["probe_t"])
        X = Oracle.for_spec(spec).sample(int(p["probe_n"]), seed=np.random.default_rng(
            [int(p["seed"]), 7]), t=tp)
        prof = gap_profile(attention_maps(probe.model, X, tp))  # (L, M, H)
        gamma = np.asarray(spec.Gamma[:, 0])
        G = near_gaps(gamma)
        mean = prof.mean(axis=(0, 1))
        per_layer = [profile_vs_kernel(pl, gamma, max_gap=G, seed=int(p["seed"]), n_perm=199)
                     for pl in prof.mean(axis=1)]
        out["attention"] = {
            "t": tp, "near_gaps": G, "profile": mean.tolist(),
            "near": profile_vs_kernel(mean, gamma, max_gap=G, seed=int(p["seed"])),
            "all": profile_vs_kernel(mean, gamma, seed=int(p["seed"])),
            "best_layer_spearman": max(d["spearman"] for d in per_layer),
        }
        out["train"] = {"steps": res.steps, "params": res.params, "batch": int(p["batch"]),
                        "frames_seen": int(p["steps"]) * int(p["batch"]) * spec.H,
                        "seconds": (res.final or {}).get("train_seconds")}
        return out

    # -- summary --------------------------------------------------------------------------------
    def _rows(self, results, cells):
        by_H: dict[int, dict[str, Any]] = {}
        for c in cells:
            r = results[c.id]
            slot = by_H.setdefault(int(c.params["H"]), {"train": [], "con": None})
            if c.params["kind"] == "construct":
                slot["con"] = r
            else:
                slot["train"].append(r)
        return dict(sorted(by_H.items()))

    def summarise(self, results, cells, ctx):
        by_H = self._rows(results, cells)
        Hs = [H for H, s in by_H.items() if s["train"]]
        cons = [H for H, s in by_H.items() if s["con"] is not None]
        num: dict[str, Any] = {"H": Hs, "construct_H": cons, "per_H": {}}
        for H, slot in by_H.items():
            tr, con = slot["train"], slot["con"]
            te = mean_se([r["band_error"] for r in tr])
            t0e = mean_se([r["rel_error"][0] for r in tr])
            ex = mean_se([r["excess"][0] for r in tr])
            dsm = mean_se([float(np.mean([d["excess"] for d in r["dsm"]])) for r in tr])
            # Monte-Carlo SE of one run's mean over dsm_t (independent draws per t), averaged
            mc = [math.sqrt(sum(d["se"] ** 2 for d in r["dsm"])) / len(r["dsm"]) for r in tr]
            sp = mean_se([r["attention"]["near"]["spearman"] for r in tr])
            l2 = mean_se([r["attention"]["near"]["rel_l2"] for r in tr])
            ind = (con or (tr[0] if tr else {})).get("independent", {})
            num["per_H"][str(H)] = {
                "trained_band_error": te[0], "trained_band_error_se": te[1], "seeds": te[2],
                "trained_t0_error": t0e[0], "trained_t0_error_se": t0e[1],
                "trained_excess_t0": ex[0],
                "trained_dsm_excess": dsm[0], "trained_dsm_excess_se": dsm[1],
                "trained_dsm_excess_mc_se": float(np.mean(mc)) if mc else None,
                "independent_band_error": ind.get("band_error"),
                "independent_t0_error": (ind.get("rel_error") or [None])[0],
                "independent_dsm_excess": (float(np.mean([d["excess"] for d in
                                                          (con or tr[0])["dsm_independent"]]))
                                           if (con or tr) else None),
                "spearman_near": sp[0], "spearman_near_se": sp[1], "rel_l2_near": l2[0],
                "p_value_max": max((r["attention"]["near"]["p_value"] for r in tr),
                                   default=None),
                "spearman_all": mean_se([r["attention"]["all"]["spearman"] for r in tr])[0],
                "near_gaps": (tr[0]["attention"]["near_gaps"] if tr else None),
            }
            num["per_H"][str(H)] = {k: (None if isinstance(v, float) and not math.isfinite(v)
                                        else v) for k, v in num["per_H"][str(H)].items()}
            if con is not None:
                num["per_H"][str(H)].update({
                    "constructed_band_error": con["band_error"],
                    "constructed_t0_error": con["rel_error"][0],
                    "constructed_max_error": max(con["rel_error"]), "bound": con["bound"],
                    "network_vs_iteration": con["network_vs_iteration"],
                    "kappa": con.get("theory", {}).get("kappa"),
                    **{k: con["resources"][k] for k in ("L", "M", "window", "D", "params")}})
        ph = num["per_H"]
        tr_pts = [(H, r["band_error"]) for H, s in by_H.items() for r in s["train"]]
        num["trained_slope"] = loglog_slope([h for h, _ in tr_pts], [e for _, e in tr_pts])
        num["trained_t0_slope"] = loglog_slope(
            [H for H, s in by_H.items() for _ in s["train"]],
            [r["rel_error"][0] for s in by_H.values() for r in s["train"]])
        num["ratio_to_independent"] = {str(H): (ph[str(H)]["trained_band_error"]
                                                / ph[str(H)]["independent_band_error"])
                                       for H in Hs if ph[str(H)]["independent_band_error"]}
        num["saturation"] = {k: saturation_H(cons, [ph[str(H)][k] for H in cons])
                             for k in ("L", "M", "window", "D", "params")} if cons else {}
        num["construction_within_bound"] = all(
            ph[str(H)]["constructed_max_error"] <= ph[str(H)]["bound"] for H in cons)
        figs = [self._fig_errors(ctx, by_H, ph), self._fig_fidelity(ctx, by_H, ph),
                self._fig_resources(ctx, cons, ph)]
        return {"numbers": num, "markdown": self._markdown(ctx, num, Hs, cons),
                "figures": [f for f in figs if f]}

    # -- figures -------------------------------------------------------------------------------
    def _fig_errors(self, ctx, by_H, ph):
        from .base import pyplot

        plt = pyplot()
        allH = list(by_H)
        Hs = [H for H in allH if by_H[H]["train"]]
        cons = [H for H in allH if by_H[H]["con"] is not None]
        fig, axes = plt.subplots(1, 3, figsize=(14, 4))
        lo, hi = _BAND
        for ax, key, title in ((axes[0], "band", f"mean over t ∈ [{lo:g}, {hi:g}]"),
                               (axes[1], "t0", "t = t0 (hardest)")):
            for H in Hs:
                ys = [r["band_error"] if key == "band" else r["rel_error"][0]
                      for r in by_H[H]["train"]]
                ax.scatter([H] * len(ys), ys, s=10, color="C0", alpha=0.4)
            ax.errorbar(Hs, [_v(ph[str(H)][f"trained_{key}_error"]) for H in Hs],
                        yerr=[_se(ph[str(H)][f"trained_{key}_error_se"]) for H in Hs],
                        marker="o", color="C0", capsize=3, label="trained DiT (mean ± SE)")
            ax.plot(allH, [_v(ph[str(H)][f"independent_{key}_error"]) for H in allH], "s--",
                    color="C3", label="independent frames")
            ax.plot(cons, [ph[str(H)][f"constructed_{key}_error"] for H in cons], "^-",
                    color="C2", label="construction (measured)")
            ax.plot(cons, [ph[str(H)]["bound"] for H in cons], "k:", label="construction bound")
            ax.set(xscale="log", yscale="log", xlabel="sequence length H",
                   ylabel="relative score error ‖ŝ−s‖/‖s‖", title=title)
            _ticks(ax, allH)
        axes[0].legend(fontsize=7)
        ax = axes[2]
        ax.errorbar(Hs, [_v(ph[str(H)]["trained_dsm_excess"]) for H in Hs],
                    yerr=[_se(ph[str(H)]["trained_dsm_excess_se"]) for H in Hs], marker="o",
                    color="C0", capsize=3, label="trained: direct MC (mean ± SE over seeds)")
        ax.plot(allH, [_v(ph[str(H)]["independent_dsm_excess"]) for H in allH], "s--",
                color="C3", label="independent frames")
        ax.axhline(0, color="k", lw=0.5)
        ax.set(xscale="log", xlabel="sequence length H", ylabel="excess ε-loss per element",
               title="excess DSM loss over the Bayes floor (mean over dsm_t)")
        _ticks(ax, allH)
        ax.legend(fontsize=7)
        fig.tight_layout()
        return save_png(fig, ctx.root / "errors_vs_H.png")

    def _fig_fidelity(self, ctx, by_H, ph):
        from .base import pyplot

        plt = pyplot()
        Hs = [H for H in by_H if by_H[H]["train"]]
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        ax = axes[0]
        for key, lab, col in (("spearman_near", "Spearman (near gaps)", "C0"),
                              ("rel_l2_near", "scaled L2 (near gaps)", "C1"),
                              ("spearman_all", "Spearman (all gaps)", "C4")):
            ax.errorbar(Hs, [_v(ph[str(H)][key]) for H in Hs],
                        yerr=[_se(ph[str(H)].get(key + "_se")) for H in Hs],
                        marker="o", color=col, capsize=3, label=lab)
        for H in Hs:
            pv = ph[str(H)]["p_value_max"]
            if pv is not None:
                ax.annotate(f"p={pv:.2g}", (H, _v(ph[str(H)]["spearman_near"])), fontsize=7,
                            textcoords="offset points", xytext=(2, 6))
        ax.axhline(0, color="k", lw=0.5)
        ax.set(xscale="log", xlabel="sequence length H", ylabel="attention profile vs γ",
               title="attention fidelity (trained; p = largest over seeds)")
        _ticks(ax, Hs)
        ax.legend(fontsize=7)
        ax = axes[1]
        cmap = plt.get_cmap("viridis")
        G = max((by_H[H]["train"][0]["attention"]["near_gaps"] for H in Hs), default=2)
        for i, H in enumerate(Hs):
            prof = np.mean([r["attention"]["profile"] for r in by_H[H]["train"]], axis=0)
            g = min(2 * G, H - 1)
            ax.plot(np.arange(g + 1), prof[:g + 1] / prof[0],
                    color=cmap(i / max(len(Hs) - 1, 1)), label=f"H={H}")
        if Hs:
            spec = self._spec({**ctx.params, "H": max(Hs)})
            gam = np.asarray(spec.Gamma[:, 0])[:min(2 * G, max(Hs) - 1) + 1]
            ax.plot(np.arange(gam.size), gam, "k--", label="γ")
        ax.axvline(G, color="grey", lw=0.5)
        ax.set(xlabel="gap |h − j|", ylabel="mean attention / its value at gap 0",
               title=f"gap profiles, mean over layers & heads (near: γ ≥ {GAMMA_FLOOR:g})")
        ax.legend(fontsize=7)
        fig.tight_layout()
        return save_png(fig, ctx.root / "fidelity_vs_H.png")

    def _fig_resources(self, ctx, cons, ph):
        from .base import pyplot

        if not cons:
            return None
        plt = pyplot()
        fig, ax = plt.subplots(figsize=(6, 4))
        for key, lab in (("L", "layers L = K"), ("M", "heads M"), ("window", "window w"),
                         ("D", "width D")):
            ax.plot(cons, [ph[str(H)][key] for H in cons], "o-", label=lab)
        ax.plot(cons, [H - 1 for H in cons], "k:", lw=0.8, label="H − 1 (largest gap)")
        ax.set(xscale="log", yscale="log", xlabel="sequence length H", ylabel="size",
               title=f"construction resources (eps = {ctx.params['construct_eps']:g})")
        _ticks(ax, cons)
        ax.legend(fontsize=7)
        fig.tight_layout()
        return save_png(fig, ctx.root / "resources_vs_H.png")

    # -- markdown -------------------------------------------------------------------------------
    def _markdown(self, ctx, num, Hs, cons) -> str:
        p = ctx.params
        ph = num["per_H"]
        lo, hi = _BAND
        setup = (f"Kernel {p['kernel']} {p['kernel_params']}, Σ = {p['spatial']}, d = {p['d']}; "
                 f"DiT width {p['width']}, {p['depth']} layers, {p['heads']} heads, "
                 f"{p['pos_emb']} positional embedding (same network for every H); "
                 f"{p['steps']} steps, batch {p['batch']} "
                 + ("(same steps and sequences for every H: frames seen ∝ H)"
                    if p["budget_rule"] == "sequences" else
                    f"scaled ∝ 1/H from H = {min(Hs)} (same frames for every H)")
                 + f", lr {p['lr']:g}, EMA {p['ema']:g}. Errors on the training Evaluator's "
                 f"{p['n_eval']} exact draws per t of a {p['eval_points']}-point geometric grid "
                 f"on [t0, T]; headline = mean over t ∈ [{lo:g}, {hi:g}]. Construction: gated "
                 f"Chebyshev, compact heads, eps = {p['construct_eps']:g} (one network for all "
                 "t), evaluated through the iteration it realises.")
        rows = []
        for H in sorted({*Hs, *cons}):
            r = ph[str(H)]
            te, se = r["trained_band_error"], r["trained_band_error_se"]
            rows.append([H, _pm(te, se),
                         r["independent_band_error"], r.get("constructed_band_error"),
                         r.get("bound"), r["trained_t0_error"],
                         _pm(r["trained_dsm_excess"], r["trained_dsm_excess_mc_se"]),
                         r["spearman_near"], r["p_value_max"], r["rel_l2_near"],
                         r.get("L"), r.get("M"), r.get("window"), r.get("D")])
        table = md_table(["H", "trained err", "indep. err", "constr. err", "bound",
                          "trained err t0", "excess DSM ± MC SE", "Spearman (near)", "p (max)",
                          "scaled L2", "L", "M", "w", "D"], rows)
        return "\n\n".join(["**Set-up.** " + setup, table, self._reading(num, Hs, cons),
                            "![errors](errors_vs_H.png)", "![fidelity](fidelity_vs_H.png)",
                            "![resources](resources_vs_H.png)"])

    def _reading(self, num, Hs, cons) -> str:
        """The plain statement of what changes with H, from the numbers."""
        ph = num["per_H"]
        sl = num["trained_slope"]
        lines = []
        if math.isfinite(sl.get("se", math.nan)):
            lo_ci, hi_ci = sl["ci"]
            trend = ("grows" if lo_ci > 0 else "falls" if hi_ci < 0 else
                     "shows no significant trend")
            lines.append(f"* Trained score error (band mean) {trend} with H: log-log slope "
                         f"{sl['slope']:.2f} ({int(100 * sl['level'])}% CI [{lo_ci:.2f}, "
                         f"{hi_ci:.2f}], {sl['n']} runs).")
        elif math.isfinite(sl.get("slope", math.nan)):
            lines.append(f"* Trained score error (band mean): log-log slope {sl['slope']:.2f} "
                         "(too few runs for an interval).")
        ratios = num["ratio_to_independent"]
        if ratios:
            rs = ", ".join(f"H={h}: {v:.2f}" for h, v in ratios.items())
            beat = all(v < 1 for v in ratios.values())
            lines.append(f"* Trained / independent-frames error: {rs} — the trained network "
                         + ("beats the baseline at every H." if beat else
                            "does **not** beat the baseline at every H."))
        if cons:
            lines.append(self._resource_reading(num, cons))
            both = [H for H in Hs if H in cons and ph[str(H)]["trained_band_error"] is not None]
            if both:
                gap = [ph[str(H)]["trained_band_error"] / ph[str(H)]["bound"] for H in both]
                lines.append("* Trained error / construction bound: "
                             + ", ".join(f"H={H}: {g:.3g}×" for H, g in zip(both, gap, strict=True))
                             + " — what training at this budget leaves on the table against "
                             "a network the theory builds with a certified error.")
        sp = [(H, ph[str(H)]["spearman_near"], ph[str(H)]["p_value_max"]) for H in Hs]
        if sp and all(x is not None for _, x, _ in sp):
            sig = [H for H, _, pv in sp if pv is not None and pv <= SIGNIFICANCE]
            lines.append("* Attention fidelity (Spearman of the mean gap profile vs γ on the "
                         "near gaps; p = largest permutation p over seeds): "
                         + ", ".join(f"H={H}: {x:.2f} (p={pv:.2g})" for H, x, pv in sp)
                         + f"; significant at {SIGNIFICANCE:g} at "
                         + (", ".join(f"H={H}" for H in sig) if sig else "no H") + ".")
        return "**What changes with H.**\n\n" + "\n".join(lines)

    @staticmethod
    def _resource_reading(num, cons) -> str:
        ph, sat = num["per_H"], num["saturation"]
        lo, hi = str(min(cons)), str(max(cons))
        span = ", ".join(f"{k} {ph[lo][k]}→{ph[hi][k]}" for k in ("window", "M", "L", "D"))
        done = [f"{k} from H = {sat[k]}" for k in ("window", "M", "L", "D") if sat.get(k)]
        moving = [k for k in ("window", "M", "L", "D") if not sat.get(k)]
        kap = [ph[str(H)].get("kappa") for H in cons]
        txt = (f"* Construction: error ≤ bound at every H: "
               f"{'yes' if num['construction_within_bound'] else 'NO'} (bound "
               f"{min(ph[str(H)]['bound'] for H in cons):.2g}–"
               f"{max(ph[str(H)]['bound'] for H in cons):.2g}). Resources from H = {lo} to "
               f"{hi}: {span}. ")
        if done:
            txt += "Constant " + ", ".join(done) + ". "
        if moving:
            last = [f"{k} {ph[str(cons[-2])][k]}→{ph[hi][k]}" for k in moving]
            txt += ("Still changing over the last step of the grid: " + ", ".join(last) + ". ")
        if all(k is not None for k in kap):
            txt += (f"The layers follow K(ε) ∝ √κ(A_t) log(1/ε), and κ(A_t) goes "
                    f"{kap[0]:.3g}→{kap[-1]:.3g}: for a summable kernel with a positive "
                    "spectral density it converges as H → ∞ (the spectrum of Γ_H fills the "
                    "range of the symbol), so K stays bounded, and the window w(ε) depends only "
                    "on the kernel's tail once H > w. A network of fixed size thus has a "
                    "certified error ≤ eps at every H: the theory predicts no length penalty "
                    "for the architecture itself.")
        return txt

    # -- cost model --------------------------------------------------------------------------------
    def estimate_seconds(self, params, cells, device) -> float:
        """Training cell: ``steps × (c0 + c1·depth + flops/throughput)`` with ``flops =
        6·batch·H·depth·(12·width² + 2·H·width)`` per step; construction cell: ``c2 + c3·d·H²·
        work`` (the iteration on the truncated system at every evaluated draw, ``work`` = draws
        per cell).  CPU constants fitted to the cpu preset's per-cell CPU seconds on this
        project's 2-core machine (1 torch thread: 27, 35, 60, 129 s for H = 16…128; 0.4–18 s
        for constructions H = 16…512); ``cuda`` from the assumed H100 numbers of
        :meth:`params`, scaled so that the paper DiT at H = 96, batch 64 takes the measured
        1/26.5 s (:data:`GPU_STEP_SCALE`).  Plus the data stream per batch
        (:func:`.cost.stream_seconds`: CPU measured, GPU assumed)."""
        from .cost import stream_seconds

        gpu = device.startswith("cuda")
        total = 10.0  # imports and the summary
        for c in cells:
            p = c.params
            H, d = p["H"], p["d"]
            work = p["n_eval"] * p["eval_points"] + 2 * p["dsm_n"] * len(p["dsm_t"])
            if p["kind"] == "construct":
                total += 0.3 + CON_SECONDS * d * H * H * work * (0.25 if gpu else 1.0)
                continue
            m = p["model"]
            w, L = m["width"], m["depth"]
            flops = 6 * p["batch"] * H * L * (12 * w * w + 2 * H * w)
            step = ((4e-3 + 7e-4 * L + flops / 2e13) * GPU_STEP_SCALE if gpu
                    else (4e-3 + 8e-3 * L + flops / 8e9))
            step += stream_seconds(p["batch"], d, H, device)
            # the gap profile of the probe: O(depth·heads·H³) element operations on the CPU
            probe = PROBE_SECONDS * L * m["heads"] * H ** 3
            total += 2.0 + p["steps"] * step + probe
        return total


#: CPU seconds per element operation of :func:`ditgp.models.probes.gap_profile` (a boolean mask
#: of the ``H × H`` map per gap: ``depth·heads·H³``; measured ≈ 6.6 s for 16 heads at H = 512)
PROBE_SECONDS = 3e-9
#: CPU seconds per (d·H²·draw) of a construction cell (fitted: 17.9 s at d=2, H=512, 1088 draws)
CON_SECONDS = 3.1e-8
#: the assumed GPU step model scaled to the measured paper-preset step (26.5 steps/s, H100,
#: float32, H = 96, batch 64, 12 blocks of width 256): the model gives 31 ms there, 37.7 measured
GPU_STEP_SCALE = (1 / 26.5) / (4e-3 + 7e-4 * 12 + 6 * 64 * 96 * 12 * (12 * 256**2 + 2 * 96 * 256) / 2e13)


register(LengthExperiment())
