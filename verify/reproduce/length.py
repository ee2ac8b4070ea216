"""``ditgp reproduce length`` — does a trained DiT of fixed size keep its score error as the
sequence length ``H`` grows?  (Beyond the paper; its reviewers asked for it.)

**What the theory says about H.**  For a summable temporal kernel the construction of
docs/theory.md (the unrolled iteration, §3–4) has a size that stops depending on ``H`` once
``H`` exceeds its truncation window ``w(ε)``: window, heads ``M``, width ``D`` and — because
``κ(A_t)`` converges as ``H → ∞`` — the layers ``L = K(ε)`` are bounded, and its relative score
error is certified ``≤ ε`` at every ``H``.  So a network of *fixed* size can be as accurate at
``H = 128`` as at ``H = 16``.  Whether training finds such a network is what this experiment
tests.

**Claim (tested; its verdict leads the summary).**  A DiT of fixed size (width, depth, heads and
a sinusoidal positional embedding that serves any ``H``), trained with the same budget at every
``H``, keeps its score error as ``H`` grows: the **per-seed** log-log slope ``b_s`` of its
relative score error (mean over the evaluation times in ``[t0, 1]``) against ``H`` has a mean
below the margin ``δ`` (``slope_margin``: at most ``2^δ`` more error per doubling of ``H``),
*and* it beats the independent-frames model at every ``H`` (without this guard a network that
learned no temporal structure would "keep" its error trivially).

* **Unit of replication: the training seed.**  Seed ``s`` trains one network per ``H``
  (initialisation and streams of seed ``s``; the DiT's parameters do not depend on ``H``, so the
  ``H``-cells of one seed are *blocked*); its evaluation draws are its own (seeded by
  ``(s, H)``), so evaluation noise is part of the seed-to-seed spread.  One number per seed — the
  OLS slope over the grid — enters the test.
* **Statistic and rule** (:func:`ditgp.verify.reproduce.verdict.seed_level_test`): mean of
  ``b_s − δ`` with its one-sided Student-t bound and the exact sign-flip test, alternative
  "< 0".  *Supported*: the upper bound is below ``δ``, the sign-flip ``p ≤ α``, the guard holds
  (the per-seed worst ratio to the independent-frames error, ``max_H e/e_ind``, has its upper
  bound below 1 with sign-flip ``p ≤ α`` — an intersection–union test, valid at ``α`` without
  correction) and the control is not supported.  *Refuted*: the lower bound is above ``δ`` (a
  length penalty larger than the margin, significant at ``α``).  Otherwise *inconclusive*.
* **Control — a planted length penalty through the same pipeline.**  In every training cell the
  score ``ŝ_ctrl = s + (H/H_ref)^β (ŝ − s)`` (``β = planted_slope > δ``, ``H_ref`` the smallest
  ``H``) is evaluated on the same draws by the same code, and its per-seed slopes go through the
  same test.  Its relative error is exactly the network's times ``(H/H_ref)^β``, so its slopes are
  the network's plus ``β`` (a check of the pipeline, reported as ``planted_recovered``); it is a
  null for the claim whenever the network's own error does not fall with ``H`` faster than
  ``β − δ``, and must not come out supported.
* **Beside it, descriptive:** the operator probe per ``H`` (:func:`ditgp.verify.operator.
  operator_probe`: the Jacobian's relative error against ``−A_t⁻¹`` and its gap profile against
  the exact one — the exact operator's reach, not ``γ``'s, is what a good network must
  reproduce), the excess DSM loss over the exact score's on the same draws (``excess_cv`` of
  :func:`ditgp.verify.compare_trained.dsm_excess`), and the construction per ``H``: the ``gated``
  Chebyshev network at ``construct_eps`` (its certified bound, resources and error on the same
  kind of draws) and its resources at the looser ``construct_eps_matched`` (0.1: about the
  trained network's relative error at ``t = 1``, finer than its error at smaller ``t``).  The
  construction is evaluated through the iteration it realises
  (:meth:`Construction.reference_iterates` — the forward pass to rounding; the cell *measures*
  that identity where the dense forward is affordable, ``net_check_max_H``).

**Budget fairness.**  ``budget_rule = "sequences"`` (default): every ``H`` gets the same
``steps`` and ``batch`` (frames seen and compute grow ``∝ H``).  ``"frames"``: the batch is
``round(batch · H_min / H)`` (at least ``MIN_BATCH``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from ditgp.models.plotting import pyplot, save_png
from ditgp.theory.errors import require

from .base import Cell, Context, Experiment, md_table, register
from .verdict import ALPHA, decide, make_verdict, mean_interval, seed_level_test, seeds_needed

__all__ = ["LengthExperiment", "CI_LEVEL", "MIN_BATCH", "SLOPE_MARGIN", "PLANTED_SLOPE",
           "GAPS_SHOWN", "loglog_slope", "mean_se", "saturation_H", "batch_for",
           "relative_errors", "band_mean", "planted_factor", "planted_score", "seed_slopes",
           "length_verdict", "PROBE_SECONDS", "CON_SECONDS"]

#: two-sided level of a descriptive OLS interval (:func:`loglog_slope`)
CI_LEVEL = 0.95
#: smallest batch the ``frames`` budget rule may give (AdamW on fewer sequences is mostly noise)
MIN_BATCH = 4
#: the claim's margin ``δ`` on the per-seed log-log slope of the error against ``H``: at most
#: ``2^0.1 = 1.07×`` more error per doubling of ``H`` (1.23× over the cpu grid's 8-fold span).
#: Fixed from that meaning before any run of this design (preset key ``slope_margin``)
SLOPE_MARGIN = 0.1
#: the control's planted slope ``β`` (preset key ``planted_slope``): a length penalty of
#: ``2^0.3 = 1.23×`` per doubling, three margins — the size of the one-seed estimate (0.24)
#: that motivated this redesign, so the control asks "would a penalty of that size be called
#: supported?"
PLANTED_SLOPE = 0.3
#: gaps of the operator probe's gap profile shown in the table (0 = the same frame)
GAPS_SHOWN = 4


# -- statistics (unit-tested on inputs with a known answer) -----------------------------------
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
    are dropped (a log scale has no place for them).  Within one seed this is the statistic of
    the claim; its interval describes the fit, never the verdict (whose unit is the seed)."""
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
    the identity ``σ_t² Σ‖ŝ-s‖²/(n·d·H)`` (docs/theory.md §2), on the given draws ``X`` and exact
    scores ``S`` (each ``(n, d, H)``)."""
    rel, exc = [], []
    for Xi, Si, ti in zip(X, S, t, strict=True):
        diff = np.asarray(score_fn(Xi, float(ti)), dtype=np.float64) - Si
        rel.append(float(np.linalg.norm(diff) / np.linalg.norm(Si)))
        exc.append(float(-math.expm1(-float(ti)) * np.sum(diff ** 2) / Si.size))
    return {"rel_error": rel, "excess": exc}


def band_mean(t: Sequence[float], vals: Sequence[float], lo: float, hi: float) -> float:
    """Mean of ``vals`` over the ``t`` in ``[lo, hi]`` (relative slack 1e-9 at both ends, so a
    grid point computed as ``t0`` or ``1`` by ``geomspace`` is inside); all of them if none."""
    tt, vv = np.asarray(t, dtype=np.float64), np.asarray(vals, dtype=np.float64)
    band = (tt >= lo * (1 - 1e-9)) & (tt <= hi * (1 + 1e-9))
    return float(vv[band].mean()) if band.any() else float(vv.mean())


def planted_factor(H: int, H_ref: int, beta: float) -> float:
    """The control's error amplification ``(H/H_ref)^β``: a per-seed log-log slope of exactly
    ``β`` added to the network's."""
    return float((H / H_ref) ** beta)


def planted_score(score_fn, H: int, H_ref: int, beta: float):
    """The control's score, ``s + (H/H_ref)^β (ŝ − s)`` with the exact score ``s`` of the draw
    (``score_fn(X, t)`` and ``exact(X, t)`` numpy, ``(n, d, H)``): returns a function of
    ``(X, t, exact)``."""
    f = planted_factor(H, H_ref, beta)

    def score(X, t, exact):
        s = np.asarray(exact(X, t), dtype=np.float64)
        return s + f * (np.asarray(score_fn(X, t), dtype=np.float64) - s)

    return score


def seed_slopes(errors: dict[int, dict[int, float]], Hs: Sequence[int]) -> dict[int, float]:
    """Per seed: the OLS slope of ``log error`` on ``log H`` over the grid ``Hs`` (``errors``:
    seed → H → error).  Seeds missing an ``H`` (or with a non-positive error) are left out:
    a slope over another grid would be another statistic."""
    out = {}
    for s, row in sorted(errors.items()):
        if all(H in row and row[H] is not None and row[H] > 0 for H in Hs):
            out[int(s)] = loglog_slope(list(Hs), [row[H] for H in Hs])["slope"]
    return out


def length_verdict(errors: dict[int, dict[int, float]], indep: dict[int, dict[int, float]],
                   Hs: Sequence[int], *, claim: str, statistic: str, margin: float,
                   control_name: str, control_verdict: str | None, alpha: float = ALPHA
                   ) -> dict[str, Any]:
    """The claim's verdict (module docstring) from per-seed errors and independent-frames
    errors on the same draws (seed → H → value): the slope test against ``margin`` and the
    guard "beats the independent-frames model at every H"; a verdict object of
    :func:`ditgp.verify.reproduce.verdict.make_verdict` whose ``details`` carry the per-seed
    slopes, the guard and — when the slope test alone would support — why it was downgraded."""
    slopes = seed_slopes(errors, Hs)
    seeds = sorted(slopes)
    require(len(seeds) >= 1, "seeds", sorted(errors), f"at least one seed with every H of {Hs}")
    ratio = [max(errors[s][H] / indep[s][H] for H in Hs) for s in seeds]
    guard = decide(ratio, alternative="less", null=1.0, alpha=alpha)
    details = {"seeds": seeds, "slopes": [slopes[s] for s in seeds], "margin": margin,
               "guard": {"statistic": "per-seed max over H of error / independent-frames error",
                         "per_seed": ratio, "verdict": guard["verdict"],
                         "upper": guard["interval"][1], "p_value": guard["p_value"]}}
    v = seed_level_test([slopes[s] for s in seeds], claim=claim, statistic=statistic,
                        alternative="less", null=margin, alpha=alpha, unit="seeds",
                        control_name=control_name, control_verdict=control_verdict,
                        effect_of_interest=margin, details=details)
    # secondary (never the verdict): is there a length penalty at all (slope > 0)?
    zero = decide([slopes[s] for s in seeds], alternative="greater", null=0.0, alpha=alpha)
    v["details"]["vs_zero"] = {"lower": zero["interval"][0], "p_value": zero["p_value"],
                               "verdict": zero["verdict"]}
    se = v["details"].get("se")
    if v["verdict"] == "inconclusive" and se is not None and len(seeds) >= 2:
        gap = abs(v["estimate"] - margin)
        need = seeds_needed(gap, se * math.sqrt(len(seeds)), alpha)  # per-seed sd
        v["power"] += (f"; the observed distance to δ, {gap:.3g}, would need "
                       + (f"{need} seeds" if need else "more than 1000 seeds")
                       + " to be resolved at this spread")
    if v["verdict"] == "supported" and guard["verdict"] != "supported":
        v["details"]["downgraded"] = ("the slope is within the margin, but the network does not "
                                      "beat the independent-frames model at every H at α")
        v = make_verdict(**{k: v[k] for k in ("claim", "statistic", "estimate", "interval",
                                              "alpha", "power")},
                         verdict="inconclusive", unit="seeds", n=v["replication"]["n"],
                         control_name=control_name, control_verdict=control_verdict,
                         details=v["details"])
    return v


def _v(x) -> float:
    """A plotted value: ``None`` → ``nan`` (matplotlib leaves a gap)."""
    return math.nan if x is None else float(x)


def _se(x) -> float:
    """An error-bar half-width: none (one seed) → 0."""
    return 0.0 if x is None or not math.isfinite(float(x)) else float(x)


def _pm(x, se, digits: int = 3) -> str | None:
    if x is None or not math.isfinite(x):
        return None
    return f"{x:.{digits}g}" + (f" ± {se:.1g}" if se is not None and math.isfinite(se) else "")


def _ticks(ax, Hs) -> None:
    ax.set_xticks(list(Hs), [str(h) for h in Hs])
    ax.minorticks_off()


def _finite(x):
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else x


# -- the experiment ------------------------------------------------------------------------------
class LengthExperiment(Experiment):
    name = "length"
    title = "Score error as the sequence length H grows: a fixed-size DiT against the construction"
    claim = ("Beyond the paper (its reviewers asked for it). The theory's construction for a "
             "summable temporal kernel has a size independent of the sequence length H once H "
             "exceeds its window, and a certified relative score error ≤ ε at every H. Tested: "
             "a DiT of fixed size, trained with the same budget at every H, keeps its score "
             "error as H grows (per-seed log-log slope below a margin δ) while beating the "
             "independent-frames model at every H.")
    default_seeds = {"toy": 3, "cpu": 8, "gpu": 8}

    def params(self, preset: str) -> dict[str, Any]:
        common = {"kernel": "laplace", "kernel_params": {"ell": 4.0}, "spatial": "ar:0.5",
                  "budget_rule": "sequences", "pos_emb": "sinusoidal", "lr": 1e-3,
                  "warmup": 50, "ema": 0.99, "t_sampling": "log-uniform", "eval_points": 9,
                  "band_hi": 1.0, "slope_margin": SLOPE_MARGIN, "planted_slope": PLANTED_SLOPE,
                  "construct_eps": 1e-3, "construct_eps_matched": 0.1, "dsm_t": [0.1, 1.0],
                  "probe_t": [0.01, 0.1, 1.0], "probe_base": 4, "probe_frames": 16}
        if preset == "toy":
            return {**common, "Hs": [8, 16], "d": 2, "width": 16, "depth": 1, "heads": 2,
                    "steps": 30, "batch": 16, "warmup": 5, "ema": 0.9, "n_eval": 16,
                    "dsm_n": 32, "probe_t": [0.1], "probe_base": 2, "probe_frames": 4,
                    "construct_eps": 1e-2, "net_check_max_H": 8, "net_check_n": 2,
                    "construct_Hs": [8, 16]}
        if preset == "cpu":
            # cost: see estimate_seconds and docs/reproducing.md (pilot and power calculation)
            return {**common, "Hs": [16, 32, 64, 128], "d": 2, "width": 32, "depth": 2,
                    "heads": 4, "steps": 1000, "batch": 32, "n_eval": 64, "dsm_n": 128,
                    "net_check_max_H": 32, "net_check_n": 2,
                    "construct_Hs": [16, 32, 64, 128, 256, 512]}
        # gpu: d = 8 and the paper's DiT (width 256, 12 layers, 16 heads; docs/theory.md §9), five
        # lengths 16…256, 1500 steps.  Cost (estimate_seconds, GPU_* constants): ≈ 50 min on
        # one H100/H200 for the default 8 seeds — see GPU_STEP_SECONDS for the throughput
        # assumed.  The probes run on the host, hence the small sketch.
        return {**common, "Hs": [16, 32, 64, 128, 256], "d": 8, "width": 256, "depth": 12,
                "heads": 16, "steps": 1500, "batch": 32, "lr": 3e-4, "warmup": 100,
                "ema": 0.995, "n_eval": 64, "dsm_n": 128, "probe_t": [0.1], "probe_base": 2,
                "probe_frames": 4, "construct_eps_matched": 0.1, "net_check_max_H": 32,
                "net_check_n": 2, "construct_Hs": [16, 32, 64, 128, 256, 512]}

    # -- cells ---------------------------------------------------------------------------------
    def cells(self, params: dict[str, Any], seeds: Sequence[int]) -> list[Cell]:
        Hs = [int(h) for h in params["Hs"]]
        require(len(Hs) >= 2 and len(set(Hs)) == len(Hs) and min(Hs) >= 4, "--set Hs",
                params["Hs"], "at least two distinct lengths ≥ 4")
        con_Hs = sorted({int(h) for h in params["construct_Hs"]} | set(Hs))
        require(min(con_Hs) >= 4, "--set construct_Hs", params["construct_Hs"], "lengths ≥ 4")
        delta, beta = float(params["slope_margin"]), float(params["planted_slope"])
        require(delta > 0, "--set slope_margin", delta, "a margin > 0")
        require(beta > delta, "--set planted_slope", beta,
                f"a planted slope > slope_margin ({delta:g}): the control must break the claim")
        require(0 < float(params["construct_eps_matched"]) < 1, "--set construct_eps_matched",
                params["construct_eps_matched"], "in (0, 1)")
        probe_t = [float(t) for t in params["probe_t"]]
        require(len(probe_t) >= 1 and int(params["probe_base"]) >= 2
                and int(params["probe_frames"]) >= 1, "--set probe_t/probe_base/probe_frames",
                [probe_t, params["probe_base"], params["probe_frames"]],
                "≥ 1 time, ≥ 2 base points, ≥ 1 frame")
        shared = {k: params[k] for k in ("kernel", "kernel_params", "spatial", "d",
                                         "eval_points", "n_eval", "dsm_t", "dsm_n", "band_hi")}
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
                    "t_sampling": params["t_sampling"], "H_ref": min(Hs),
                    "planted_slope": beta, "probe_t": probe_t,
                    "probe_base": int(params["probe_base"]),
                    "probe_frames": int(params["probe_frames"])}))
        for H in sorted(con_Hs, reverse=True):
            out.append(Cell(f"con-H{H}", {"kind": "construct", "H": H, **shared,
                                           "eps": params["construct_eps"],
                                           "eps_matched": params["construct_eps_matched"],
                                           "net_check": H <= params["net_check_max_H"],
                                           "net_check_n": params["net_check_n"],
                                           "check_t": 0.1}))
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

    @staticmethod
    def _evaluator(spec, p, seed: int | None):
        """The evaluation draws: a training cell's own (seeded by its seed and ``H``: evaluation
        noise then belongs to the seed-to-seed spread); the construction's the training
        Evaluator's fixed set."""
        from ditgp.models.train import EVAL_SEED, Evaluator

        s = EVAL_SEED if seed is None else [EVAL_SEED, int(seed), int(spec.H)]
        return Evaluator(spec, n=int(p["n_eval"]), points=int(p["eval_points"]), seed=s)

    def _common_eval(self, spec, p, score_fn, seed: int | None = None,
                     extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Errors of ``score_fn``, of the independent-frames baseline and of the ``extra``
        score functions ``(X, t, exact) -> ŝ`` on the same draws, and the direct Monte-Carlo
        excess loss of ``score_fn`` over the exact score's on the same ``(X₀, Z)``."""
        from ditgp.models.data import independent_frames_score
        from ditgp.numerics.oracle import Oracle
        from ditgp.verify.compare_trained import dsm_excess

        ev = self._evaluator(spec, p, seed)
        t = [float(x) for x in ev.t]
        lo, hi = spec.schedule.t0, float(p["band_hi"])
        net = relative_errors(score_fn, ev.X, ev.S, t)
        ind = relative_errors(lambda X, tt: independent_frames_score(spec, X, tt), ev.X, ev.S, t)
        base = 0 if seed is None else 16 * int(seed)
        dsm = [dsm_excess(score_fn, spec, float(tt), int(p["dsm_n"]), seed=base + i)
               for i, tt in enumerate(p["dsm_t"])]
        out = {"t": t, "band": [lo, hi], **net, "band_error": band_mean(t, net["rel_error"], lo, hi),
               "independent": {**ind, "band_error": band_mean(t, ind["rel_error"], lo, hi)},
               "dsm": dsm}
        oracle = Oracle.for_spec(spec)
        for name, fn in (extra or {}).items():
            r = relative_errors(lambda X, tt, fn=fn: fn(X, tt, oracle.score), ev.X, ev.S, t)
            out[name] = {**r, "band_error": band_mean(t, r["rel_error"], lo, hi)}
        return out

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
        # the same construction at a looser accuracy (about the trained network's at t = 1)
        matched = construct(spec, t=t0, eps=float(p["eps_matched"]), attention="compact",
                            algorithm="chebyshev", time_conditioning="gated", measure=False)
        out["matched"] = {"eps": float(p["eps_matched"]), "bound": float(matched.error_bound),
                          **{k: matched.resources.get(k) for k in ("D", "L", "M", "K", "window",
                                                                   "params")}}
        if p["net_check"]:
            X = Oracle.for_spec(spec).sample(int(p["net_check_n"]), seed=np.random.default_rng(
                [spec.H, 11]), t=float(p["check_t"]))
            a = con.score(X, float(p["check_t"]))
            b = score(X, float(p["check_t"]))
            out["network_vs_iteration"] = float(np.linalg.norm(a - b) / np.linalg.norm(b))
        else:
            out["network_vs_iteration"] = None
        return out

    def _network(self, spec, p, cell, ctx):
        """Train (or reload) the cell's DiT; returns ``(score_fn, probe_net, train_info)``:
        the numpy score ``(X, t) -> ŝ`` and what :func:`ditgp.verify.operator.operator_probe`
        differentiates (a CPU copy).  Tests replace this method to plant a network."""
        from ditgp.models.config import ModelConfig
        from ditgp.models.export import load_trained

        from .base import train_cell

        m = p["model"]
        cfg = ModelConfig("dit", width=int(m["width"]), depth=int(m["depth"]),
                          heads=int(m["heads"]), pos_emb=m["pos_emb"])
        res = train_cell(ctx, cell, spec, cfg, steps=int(p["steps"]), batch=int(p["batch"]),
                         lr=float(p["lr"]), seed=int(p["seed"]), warmup=int(p["warmup"]),
                         ema=float(p["ema"]), t_sampling=p["t_sampling"],
                         eval_points=int(p["eval_points"]), n_eval=int(p["n_eval"]))
        net = load_trained(res.bundle, ctx.device)
        probe = net if ctx.device == "cpu" else load_trained(res.bundle, "cpu")
        info = {"steps": res.steps, "params": res.params, "batch": int(p["batch"]),
                "frames_seen": int(p["steps"]) * int(p["batch"]) * spec.H,
                "seconds": (res.final or {}).get("train_seconds")}
        return net.score, probe, info

    def _train_cell(self, spec, p, cell, ctx) -> dict[str, Any]:
        from ditgp.verify.operator import operator_probe

        score_fn, probe_net, info = self._network(spec, p, cell, ctx)
        ctrl = planted_score(score_fn, spec.H, int(p["H_ref"]), float(p["planted_slope"]))
        out = self._common_eval(spec, p, score_fn, seed=int(p["seed"]),
                                extra={"control": ctrl})
        cpu0 = time.process_time()
        doc = operator_probe(probe_net, spec, ts=[float(t) for t in p["probe_t"]],
                             n_base=int(p["probe_base"]), seed=int(p["seed"]), scales=(),
                             method="sketch", frames=int(p["probe_frames"]))
        jac = doc["jacobian"]
        out["operator"] = {"t": doc["t"], "method": doc["per_t"][0]["method"],
                           "rel_error": jac["rel_error"], "rel_error_spread": jac["rel_error_spread"],
                           "gap_profile": jac["gap_profile"],
                           "exact_gap_profile": jac["exact_gap_profile"],
                           "same_frame_cos": jac["same_frame_cos"],
                           "cpu_seconds": time.process_time() - cpu0}
        out["train"] = info
        return out

    # -- summary --------------------------------------------------------------------------------
    @staticmethod
    def _rows(results, cells):
        train: dict[int, dict[int, dict[str, Any]]] = {}  # H -> seed -> result
        con: dict[int, dict[str, Any]] = {}
        for c in cells:
            r = results[c.id]
            if c.params["kind"] == "construct":
                con[int(c.params["H"])] = r
            else:
                train.setdefault(int(c.params["H"]), {})[int(c.params["seed"])] = r
        return dict(sorted(train.items())), dict(sorted(con.items()))

    def _claim_text(self, p, Hs) -> tuple[str, str]:
        delta = float(p["slope_margin"])
        claim = (f"A DiT of fixed size (width {p['width']}, {p['depth']} layers, {p['heads']} "
                 f"heads), trained with the same budget at every H, keeps its score error as H "
                 f"grows from {min(Hs)} to {max(Hs)}: the mean per-seed log-log slope of its "
                 f"relative score error against H is below δ = {delta:g} (≤ {2 ** delta:.2f}× "
                 "error per doubling of H), and it beats the independent-frames model at every H")
        stat = (f"per-seed slope, tested against δ = {delta:g}: mean over seeds of the OLS "
                "slope of log(relative score error ‖ŝ−s‖/‖s‖, mean over the evaluation t in "
                f"[t0, {p['band_hi']:g}]) on log H")
        return claim, stat

    def summarise(self, results, cells, ctx):
        p = ctx.params
        train, con = self._rows(results, cells)
        Hs = list(train)
        cons = list(con)
        seeds = sorted({s for row in train.values() for s in row})
        err = {s: {H: train[H][s]["band_error"] for H in Hs if s in train[H]} for s in seeds}
        ind = {s: {H: train[H][s]["independent"]["band_error"] for H in Hs if s in train[H]}
               for s in seeds}
        ctl = {s: {H: train[H][s]["control"]["band_error"] for H in Hs if s in train[H]}
               for s in seeds}
        claim, stat = self._claim_text(p, Hs)
        beta, delta = float(p["planted_slope"]), float(p["slope_margin"])
        ctl_name = (f"planted length penalty: each seed's networks with their score error scaled "
                    f"by (H/{min(Hs)})^{beta:g}, through the same evaluation and test")
        control = length_verdict(ctl, ind, Hs, claim=claim, statistic=stat, margin=delta,
                                 control_name="none (this is the control)",
                                 control_verdict=None)
        verdict = length_verdict(err, ind, Hs, claim=claim, statistic=stat, margin=delta,
                                 control_name=ctl_name, control_verdict=control["verdict"])
        main_sl, ctl_sl = verdict["details"]["slopes"], control["details"]["slopes"]
        recovered = (float(np.mean(np.subtract(ctl_sl, main_sl)))
                     if len(ctl_sl) == len(main_sl) and main_sl else None)
        verdict["details"]["planted_slope"] = beta
        verdict["details"]["planted_recovered"] = recovered
        verdict["details"]["control_estimate"] = control["estimate"]
        verdict["details"]["control_interval"] = control["interval"]

        num: dict[str, Any] = {"H": Hs, "construct_H": cons, "seeds": seeds,
                               "construct_eps_matched": float(p["construct_eps_matched"]),
                               "slope_margin": delta, "planted_slope": beta,
                               "main": self._arm_numbers(verdict),
                               "control": self._arm_numbers(control),
                               "planted_recovered": recovered, "per_H": {},
                               "secondary": self._secondary(train, Hs, seeds)}
        for H in sorted({*Hs, *cons}):
            num["per_H"][str(H)] = self._per_H(train.get(H, {}), con.get(H))
        ph = num["per_H"]
        num["saturation"] = ({k: saturation_H(cons, [ph[str(H)][k] for H in cons])
                              for k in ("L", "M", "window", "D", "params")} if cons else {})
        num["saturation_matched"] = ({k: saturation_H(cons, [ph[str(H)]["matched"][k]
                                                             for H in cons])
                                      for k in ("L", "M", "window", "D")} if cons else {})
        num["construction_within_bound"] = all(
            ph[str(H)]["constructed_max_error"] <= ph[str(H)]["bound"] for H in cons)
        figs = [self._fig_errors(ctx, train, con, err, ctl, verdict, control),
                self._fig_operator(ctx, train), self._fig_resources(ctx, cons, ph)]
        return {"verdict": verdict, "numbers": num,
                "markdown": self._markdown(ctx, num, Hs, cons, verdict, control),
                "figures": [f for f in figs if f]}

    @staticmethod
    def _arm_numbers(v: dict[str, Any]) -> dict[str, Any]:
        d = v["details"]
        return {"verdict": v["verdict"], "estimate": v["estimate"], "interval": v["interval"],
                "p_value": d["p_value"], "p_value_against": d["p_value_against"],
                "se": d["se"], "slopes": dict(zip(map(str, d["seeds"]), d["slopes"], strict=True)),
                "guard": d["guard"], "downgraded": d.get("downgraded"),
                "vs_zero": d["vs_zero"]}

    @staticmethod
    def _secondary(train, Hs, seeds) -> dict[str, Any]:
        """Per-seed slopes of other measures (descriptive; one-sided 1 − α bounds at the seed
        level): the error at t0, and the operator probe's Jacobian error at each probe t."""
        out: dict[str, Any] = {}

        def slope_stats(vals):
            sl = list(seed_slopes(vals, Hs).values())
            if not sl:
                return None
            mi = mean_interval(sl)
            return {"mean": mi["mean"], "lower": mi["lo"], "upper": mi["hi"], "n": mi["n"],
                    "slopes": sl}

        out["t0_error"] = slope_stats({s: {H: train[H][s]["rel_error"][0] for H in Hs
                                           if s in train[H]} for s in seeds})
        first = next((r for row in train.values() for r in row.values()), None)
        if first is not None:
            for i, t in enumerate(first["operator"]["t"]):
                out[f"jacobian_error_t{t:g}"] = slope_stats(
                    {s: {H: train[H][s]["operator"]["rel_error"][i] for H in Hs
                         if s in train[H]} for s in seeds})
        return out

    @staticmethod
    def _per_H(tr: dict[int, dict[str, Any]], con: dict[str, Any] | None) -> dict[str, Any]:
        rs = list(tr.values())
        row: dict[str, Any] = {"seeds": len(rs)}
        if rs:
            def ms(key, vals):
                m, se, _ = mean_se(vals)
                row[key], row[key + "_se"] = _finite(m), _finite(se)

            ms("trained_band_error", [r["band_error"] for r in rs])
            ms("trained_t0_error", [r["rel_error"][0] for r in rs])
            ms("control_band_error", [r["control"]["band_error"] for r in rs])
            ms("independent_band_error", [r["independent"]["band_error"] for r in rs])
            ms("ratio_to_independent", [r["band_error"] / r["independent"]["band_error"]
                                        for r in rs])
            ms("dsm_excess_cv", [float(np.mean([d["excess_cv"] for d in r["dsm"]])) for r in rs])
            # Monte-Carlo SE of one run's excess (mean over dsm_t), averaged over seeds
            row["dsm_excess_cv_mc_se"] = float(np.mean(
                [math.sqrt(sum(d["se_cv"] ** 2 for d in r["dsm"])) / len(r["dsm"]) for r in rs]))
            op = rs[0]["operator"]
            row["probe_t"] = op["t"]
            for i, t in enumerate(op["t"]):
                ms(f"jacobian_error_t{t:g}", [r["operator"]["rel_error"][i] for r in rs])
            i1 = min(range(len(op["t"])), key=lambda i: abs(math.log(op["t"][i] / 0.1)))
            row["gap_t"] = op["t"][i1]
            G = min(GAPS_SHOWN, len(op["gap_profile"][i1]))
            prof = np.array([r["operator"]["gap_profile"][i1][:G] for r in rs])
            row["gap_profile"] = prof.mean(axis=0).tolist()
            row["gap_profile_se"] = (prof.std(axis=0, ddof=1) / math.sqrt(len(rs))).tolist() \
                if len(rs) > 1 else None
            row["exact_gap_profile"] = op["exact_gap_profile"][i1][:G]
        if con is not None:
            row.update({
                "constructed_band_error": con["band_error"],
                "constructed_t0_error": con["rel_error"][0],
                "constructed_max_error": max(con["rel_error"]), "bound": con["bound"],
                "network_vs_iteration": con["network_vs_iteration"],
                "kappa": con.get("theory", {}).get("kappa"),
                "construction_independent_band_error": con["independent"]["band_error"],
                **{k: con["resources"][k] for k in ("L", "M", "window", "D", "params")},
                "matched": con["matched"]})
        return row

    # -- figures -------------------------------------------------------------------------------
    def _fig_errors(self, ctx, train, con, err, ctl, verdict, control):

        plt = pyplot()
        Hs = list(train)
        cons = list(con)
        p = ctx.params
        fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
        ax = axes[0]
        for i, s in enumerate(sorted(err)):
            hs = [H for H in Hs if H in err[s]]
            ax.plot(hs, [err[s][H] for H in hs], "-", color="C0", alpha=0.35, lw=1,
                    label="trained DiT, one line per seed" if i == 0 else None)
            ax.plot(hs, [ctl[s][H] for H in hs], ":", color="C1", alpha=0.35, lw=1,
                    label=f"control: planted (H/{min(Hs)})^{p['planted_slope']:g}"
                    if i == 0 else None)
        ind = [float(np.mean([train[H][s]["independent"]["band_error"] for s in train[H]]))
               for H in Hs]
        ax.plot(Hs, ind, "s--", color="C3", label="independent frames")
        if cons:
            ax.plot(cons, [con[H]["band_error"] for H in cons], "^-", color="C2",
                    label=f"construction, eps {p['construct_eps']:g} (measured)")
            ax.plot(cons, [con[H]["bound"] for H in cons], "k:", label="construction bound")
        ax.set(xscale="log", yscale="log", xlabel="sequence length H",
               ylabel="relative score error ‖ŝ−s‖/‖s‖",
               title=f"error, mean over t ∈ [t0, {p['band_hi']:g}]")
        _ticks(ax, sorted({*Hs, *cons}))
        ax.legend(fontsize=7)
        ax = axes[1]
        for x, v, col in ((0, verdict, "C0"), (1, control, "C1")):
            sl = v["details"]["slopes"]
            ax.scatter(np.full(len(sl), x) + np.linspace(-0.12, 0.12, len(sl)), sl, color=col,
                       s=18, zorder=3)
            lo, hi = v["interval"]
            if v["estimate"] is not None:
                ax.errorbar([x + 0.25], [v["estimate"]],
                            yerr=[[v["estimate"] - lo if lo is not None else 0],
                                  [hi - v["estimate"] if hi is not None else 0]],
                            fmt="D", color=col, capsize=4)
            ax.annotate(v["verdict"], (x, max(sl) if sl else 0), textcoords="offset points",
                        xytext=(0, 6), ha="center", fontsize=8)
        top = max([*verdict["details"]["slopes"], *control["details"]["slopes"], 0.0])
        ax.set_ylim(top=top + 0.15 * max(top, 0.1))
        ax.axhline(float(p["slope_margin"]), color="k", ls="--", lw=0.8,
                   label=f"margin δ = {p['slope_margin']:g}")
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_xticks([0, 1], ["trained DiT", "planted control"])
        ax.set(xlim=(-0.5, 1.6), ylabel="per-seed log-log slope of error vs H",
               title=f"per-seed slopes (◆ mean, one-sided {1 - verdict['alpha']:.0%} bounds)")
        ax.legend(fontsize=7)
        ax = axes[2]
        ex = [mean_se([float(np.mean([d["excess_cv"] for d in train[H][s]["dsm"]]))
                       for s in train[H]]) for H in Hs]
        ax.errorbar(Hs, [_v(e[0]) for e in ex], yerr=[_se(e[1]) for e in ex], marker="o",
                    color="C0", capsize=3, label="trained (mean ± SE over seeds)")
        ax.axhline(0, color="k", lw=0.5)
        ax.set(xscale="log", xlabel="sequence length H",
               ylabel="excess ε-loss per element over the exact score's",
               title=f"DSM excess vs exact score, same draws (t ∈ {p['dsm_t']})")
        _ticks(ax, Hs)
        ax.legend(fontsize=7)
        fig.tight_layout()
        return save_png(fig, ctx.root / "errors_vs_H.png")

    def _fig_operator(self, ctx, train):

        Hs = list(train)
        first = next((r for row in train.values() for r in row.values()), None)
        if first is None:
            return None
        plt = pyplot()
        ts = first["operator"]["t"]
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        ax = axes[0]
        for i, t in enumerate(ts):
            ms = [mean_se([train[H][s]["operator"]["rel_error"][i] for s in train[H]])
                  for H in Hs]
            ax.errorbar(Hs, [m[0] for m in ms], yerr=[_se(m[1]) for m in ms], marker="o",
                        capsize=3, label=f"t = {t:g}")
        ax.set(xscale="log", xlabel="sequence length H", ylim=(0, None),
               ylabel="‖J − J*‖_F / ‖J*‖_F (frame-sampled)",
               title="Jacobian vs exact −A_t⁻¹ (mean ± SE over seeds)")
        _ticks(ax, Hs)
        ax.legend(fontsize=7)
        ax = axes[1]
        i1 = min(range(len(ts)), key=lambda i: abs(math.log(ts[i] / 0.1)))
        cmap = plt.get_cmap("viridis")
        G = 2 * GAPS_SHOWN
        for k, H in enumerate(Hs):
            prof = np.mean([train[H][s]["operator"]["gap_profile"][i1][:G] for s in train[H]],
                           axis=0)
            # 0 = a gap no sampled query frame reaches (not drawn)
            ax.semilogy(np.arange(prof.size), np.where(prof > 0, prof, np.nan), "o-",
                        color=cmap(k / max(len(Hs) - 1, 1)), ms=3, label=f"H = {H}")
        ex = np.asarray(train[Hs[-1]][next(iter(train[Hs[-1]]))]["operator"]
                        ["exact_gap_profile"][i1][:G])
        ax.semilogy(np.arange(ex.size), np.where(ex > 0, ex, np.nan), "k--", lw=2,
                    label=f"exact (H = {Hs[-1]})")
        ax.set(xlabel="gap |i − j| (frames)", ylabel="mean Frobenius norm of the d×d block",
               title=f"Jacobian gap profile at t = {ts[i1]:g} (mean over seeds)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        return save_png(fig, ctx.root / "operator_vs_H.png")

    def _fig_resources(self, ctx, cons, ph):

        if not cons:
            return None
        plt = pyplot()
        p = ctx.params
        fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
        for ax, get, title in (
                (axes[0], lambda H, k: ph[str(H)][k], f"eps = {p['construct_eps']:g}"),
                (axes[1], lambda H, k: ph[str(H)]["matched"][k],
                 f"eps = {p['construct_eps_matched']:g} (looser)")):
            for key, lab in (("L", "layers L = K"), ("M", "heads M"), ("window", "window w"),
                             ("D", "width D")):
                ax.plot(cons, [get(H, key) for H in cons], "o-", label=lab)
            ax.plot(cons, [H - 1 for H in cons], "k:", lw=0.8, label="H − 1 (largest gap)")
            ax.set(xscale="log", yscale="log", xlabel="sequence length H", ylabel="size",
                   title=f"construction resources, {title}")
            _ticks(ax, cons)
            ax.set_yticks([10, 20, 50, 100, 200, 500], ["10", "20", "50", "100", "200", "500"])
            ax.legend(fontsize=7)
        fig.tight_layout()
        return save_png(fig, ctx.root / "resources_vs_H.png")

    # -- markdown -------------------------------------------------------------------------------
    def _markdown(self, ctx, num, Hs, cons, verdict, control) -> str:
        p = ctx.params
        ph = num["per_H"]
        setup = (f"Kernel {p['kernel']} {p['kernel_params']}, Σ = {p['spatial']}, d = {p['d']}; "
                 f"DiT width {p['width']}, {p['depth']} layers, {p['heads']} heads, "
                 f"{p['pos_emb']} positional embedding (same network for every H); "
                 f"{p['steps']} steps, batch {p['batch']} "
                 + ("(same steps and sequences for every H: frames seen ∝ H)"
                    if p["budget_rule"] == "sequences" else
                    f"scaled ∝ 1/H from H = {min(Hs)} (same frames for every H)")
                 + f", lr {p['lr']:g}, EMA {p['ema']:g}, t {p['t_sampling']}; "
                 f"{len(num['seeds'])} seeds (the unit of replication), each with its own "
                 f"evaluation draws: {p['n_eval']} exact X_t per t of a {p['eval_points']}-point "
                 f"geometric grid on [t0, T]; error = mean over t ∈ [t0, {p['band_hi']:g}]. "
                 f"Operator probe: frame-sampled Jacobian ({p['probe_frames']} query frames, "
                 f"{p['probe_base']} base points) at t ∈ {p['probe_t']}. Construction: gated "
                 f"Chebyshev, compact heads, eps = {p['construct_eps']:g} (one network for all t), "
                 f"evaluated through the iteration it realises; its size also at eps = "
                 f"{p['construct_eps_matched']:g}.")
        rows = []
        for H in sorted({*Hs, *cons}):
            r = ph[str(H)]
            probe_t = r.get("probe_t") or []
            jac = " / ".join(f"{r[f'jacobian_error_t{t:g}']:.3g}" for t in probe_t) or None
            gp = r.get("gap_profile")
            gaps = (", ".join(f"{a:.2g}" for a in gp) + " (" + ", ".join(
                f"{b:.2g}" for b in r["exact_gap_profile"]) + ")") if gp else None
            m = r.get("matched") or {}
            rows.append([H, r["seeds"] or None,
                         _pm(r.get("trained_band_error"), r.get("trained_band_error_se")),
                         _pm(r.get("ratio_to_independent"), r.get("ratio_to_independent_se")),
                         _pm(r.get("control_band_error"), r.get("control_band_error_se")),
                         _pm(r.get("dsm_excess_cv"), r.get("dsm_excess_cv_se"), 2),
                         jac, gaps, r.get("constructed_band_error"), r.get("bound"),
                         (f"{r['L']}/{r['M']}/{r['window']}" if "L" in r else None),
                         (f"{m['L']}/{m['M']}/{m['window']}" if m else None)])
        probe_ts = "/".join(f"{t:g}" for t in p["probe_t"])
        table = md_table(["H", "seeds", "trained err ± SE", "÷ indep. ± SE", "control err",
                          "DSM excess ± SE", f"Jacobian err (t = {probe_ts})",
                          f"gap profile 0…{GAPS_SHOWN - 1} (exact)", "constr. err", "bound",
                          f"L/M/w at {p['construct_eps']:g}",
                          f"L/M/w at {p['construct_eps_matched']:g}"], rows)
        return "\n\n".join(["**Set-up.** " + setup, self._reading(num, verdict, control), table,
                            "![errors](errors_vs_H.png)", "![operator](operator_vs_H.png)",
                            "![resources](resources_vs_H.png)"])

    @staticmethod
    def _reading(num, verdict, control) -> str:
        """The plain statements, each from the numbers above."""
        d = verdict["details"]
        lines = []
        iv = verdict["interval"]
        sl = ", ".join(f"{x:.3f}" for x in d["slopes"])
        ivs = ("no interval (fewer than two seeds or no spread)" if iv[0] is None else
               f"one-sided {1 - verdict['alpha']:.0%} bounds [{iv[0]:.3f}, {iv[1]:.3f}]")
        lines.append(f"* Per-seed slopes of the trained error against H: {sl}; mean "
                     f"{verdict['estimate']:.3f}, {ivs}; sign-flip p = {d['p_value']:.3g} "
                     f"(slope < δ = {d['margin']:g}) and {d['p_value_against']:.3g} (slope > δ).")
        z = d["vs_zero"]
        lines.append("* Secondary, not the verdict — is there a length penalty at all (slope > 0)? "
                     + ("no interval" if z["lower"] is None else
                        f"lower bound {z['lower']:.3f}") + f", sign-flip p = {z['p_value']:.3g}: "
                     + ("yes, the error grows with H" if z["verdict"] == "supported" else
                        "not shown" if z["verdict"] == "inconclusive" else "no, it falls") + ".")
        g = d["guard"]
        up = "—" if g["upper"] is None else f"{g['upper']:.3f}"
        lines.append(f"* Guard (beats the independent-frames model at every H): per-seed worst "
                     f"ratio {', '.join(f'{x:.3f}' for x in g['per_seed'])}, upper bound {up}, "
                     f"p = {g['p_value']:.3g}: {g['verdict']}." + (
                         f" {d['downgraded']}." if d.get("downgraded") else ""))
        rec = num["planted_recovered"]
        ci = control["interval"]
        cis = "—" if ci[0] is None else f"[{ci[0]:.3f}, {ci[1]:.3f}]"
        lines.append(f"* Control (planted slope {num['planted_slope']:g}): mean slope "
                     f"{control['estimate']:.3f}, bounds {cis}: **{control['verdict']}**; the "
                     "pipeline recovers the planted slope as "
                     + ("—" if rec is None else f"{rec:.6f}") + ".")
        for key, lab in (("t0_error", "the error at t = t0"),
                         *[(k, "the Jacobian error at t = " + k.split("_t")[-1])
                           for k in num["secondary"] if k.startswith("jacobian")]):
            s = num["secondary"].get(key)
            if s:
                b = ("" if s["lower"] is None else
                     f", one-sided bounds [{s['lower']:.3f}, {s['upper']:.3f}]")
                lines.append(f"* Descriptive: per-seed slope of {lab}: mean {s['mean']:.3f}{b} "
                             f"({s['n']} seeds).")
        sat, satm = num["saturation"], num["saturation_matched"]
        if sat:
            lines.append("* Construction: error ≤ bound at every H: "
                         + ("yes" if num["construction_within_bound"] else "NO")
                         + "; its window stops growing from H = "
                         + (str(sat.get("window")) if sat.get("window") else "(not within the grid)")
                         + f", at eps = {num['construct_eps_matched']:g} from H = "
                         + (str(satm.get("window")) if satm.get("window") else
                            "(not within the grid)") + ".")
        return "**What the numbers say.**\n\n" + "\n".join(lines)

    # -- cost model --------------------------------------------------------------------------------
    def estimate_seconds(self, params, cells, device) -> float:
        """Seconds of all ``cells`` one after another on ``device``.

        Training cell, CPU (one torch thread): ``steps × (CPU_STEP_BASE + CPU_STEP_LAYER·depth +
        flops/CPU_FLOPS)`` with ``flops = 6·batch·H·depth·(12·width² + 2·H·width)`` per step,
        plus the evaluation (``CPU_EVAL`` per evaluated draw, frame and layer: the network, the
        control and the DSM draws) and the operator probe (``PROBE_SECONDS`` per reverse pass,
        frame and layer).  GPU: ``GPU_STEP_SECONDS · max(1, flops/flops_ref)`` per step (the
        throughput assumed, :data:`GPU_STEP_SECONDS`), the evaluation at ``GPU_EVAL_FLOPS`` and
        the probe on the host at ``HOST_FLOPS64``.  Construction cell: ``0.3 + CON_SECONDS·d·H²·
        draws`` (the iteration at every draw, on the host).  CPU constants fitted to the cpu
        preset's per-cell CPU seconds on this project's 2-core machine (docs/reproducing.md).
        Plus the data stream per batch (:func:`.cost.stream_seconds`: CPU measured, GPU
        assumed)."""
        from .cost import stream_seconds

        gpu = device.startswith("cuda")
        total = 10.0  # imports and the summary
        for c in cells:
            p = c.params
            H, d = p["H"], p["d"]
            draws = p["n_eval"] * p["eval_points"] + 2 * p["dsm_n"] * len(p["dsm_t"])
            if p["kind"] == "construct":
                total += 0.3 + CON_SECONDS * d * H * H * draws
                continue
            m = p["model"]
            w, L = m["width"], m["depth"]
            per_seq = 2 * H * L * (12 * w * w + 2 * H * w)  # forward flops of one sequence
            flops = 3 * p["batch"] * per_seq  # one training step (forward + backward)
            passes = len(p["probe_t"]) * p["probe_base"] * d * min(p["probe_frames"], H)
            if gpu:
                ref = 6 * GPU_REF_TOKENS * GPU_REF_DEPTH * (12 * GPU_REF_WIDTH ** 2
                                                            + 2 * GPU_REF_H * GPU_REF_WIDTH)
                step = GPU_STEP_SECONDS * max(1.0, flops / ref)
                evals = 3 * draws * per_seq / GPU_EVAL_FLOPS
                probe = passes * 3 * per_seq / HOST_FLOPS64
            else:
                step = CPU_STEP_BASE + CPU_STEP_LAYER * L + flops / CPU_FLOPS
                evals = CPU_EVAL * 3 * draws * H * L
                probe = PROBE_SECONDS * passes * H * L
            step += stream_seconds(p["batch"], d, H, device)
            total += 2.0 + p["steps"] * step + evals + probe
        return total


#: CPU seconds per reverse pass of the operator probe, per frame and layer (float64, one
#: thread, the cpu preset's DiT; fitted: 0.1 s at H = 16, 1.5 s at H = 128 for 384 passes)
PROBE_SECONDS = 1.5e-5
#: CPU seconds per (d·H²·draw) of a construction cell (fitted: 6.7 s at d=2, H=512, 1088
#: draws, both constructions included)
CON_SECONDS = 1.2e-8
#: CPU step model (one torch thread): fixed part, per layer, and effective flop/s — fitted to
#: the pilot's per-cell CPU seconds (11.8, 15.5, 27.3, 54.4 s for H = 16…128, width 32, 2
#: layers, batch 32, 1000 steps; model 12.2, 16.0, 25.2, 55.8 s with evaluation and probe)
CPU_STEP_BASE = 2e-3
CPU_STEP_LAYER = 3e-3
CPU_FLOPS = 2.2e10
#: CPU seconds per evaluated draw, frame and layer (forward, float32, the cpu preset's DiT)
CPU_EVAL = 2e-6
#: Assumed GPU throughput (this preset was not run on a GPU): the paper-size DiT
#: (width 256, 12 layers, 16 heads, batch 64 × H 96 = 6144 tokens) trains at 26.5 steps/s in
#: float32 on one H100 (measured) → 37.7 ms per step; a step of more work scales with
#: its flops from there, a step of less work costs the same (launch-bound).  The data stream
#: runs on the device (its cost added by :func:`.cost.stream_seconds`, assumed there: no GPU
#: measured it).  An H200 is at least as fast.
GPU_STEP_SECONDS = 1 / 26.5
GPU_REF_TOKENS, GPU_REF_H, GPU_REF_WIDTH, GPU_REF_DEPTH = 64 * 96, 96, 256, 12
#: effective float32 flop/s of the evaluation forwards on the device (assumed, conservative)
GPU_EVAL_FLOPS = 5e12
#: float64 flop/s of the operator probe on a GPU machine's host (assumed: 16 cores)
HOST_FLOPS64 = 5e10


register(LengthExperiment())
