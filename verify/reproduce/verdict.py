"""The verdict every experiment ends in, and the seed-level statistics behind it.

An experiment of ``ditgp reproduce`` tests one claim of the paper about **training** ("a DiT
trained on GP data learns X").  The independent unit of replication for such a claim is the
training **seed** (initialisation, data stream, t/Z draws): probe inputs of one trained network
measure that network, not training.  So every verdict is computed from one number per seed
(or per seed-pair), and its ``replication`` field says so.

``results.json`` carries a top-level object made by :func:`make_verdict`::

    {"claim": str, "verdict": "supported" | "refuted" | "inconclusive",
     "statistic": str, "estimate": float, "interval": [lo, hi] (one-sided 1 − α bounds),
     "alpha": float,
     "replication": {"unit": "seeds", "n": int}, "control": {"name": str, "verdict": ...},
     "power": str}

Rules (:func:`decide`): with the one-sided ``1 − α`` interval of the claimed effect,

* **supported** — the interval lies entirely on the claimed side of the null value, the exact
  sign-flip test agrees (``p ≤ α``; it needs at least ``⌈log₂(1/α)⌉`` seeds to be able to), and
  the control — a planted null run through the same pipeline — is *not* supported;
* **refuted** — the interval lies entirely on the other side (a significant effect against the
  claim);
* **inconclusive** — otherwise; ``power`` says what the design can detect and how many seeds
  (or steps) would be needed.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from ditgp.theory.errors import require

__all__ = ["VERDICTS", "ALPHA", "POWER", "make_verdict", "validate_verdict", "sign_flip_p",
           "mean_interval", "detectable_effect", "seeds_needed", "decide", "seed_level_test",
           "verdict_markdown", "equivalence_test", "equivalence_seeds_needed"]

VERDICTS = ("supported", "refuted", "inconclusive")
#: one-sided level of every experiment's verdict
ALPHA = 0.05
#: power at which :func:`detectable_effect` states the smallest effect a design detects
POWER = 0.8
#: a per-seed spread below this (relative to max(1, |mean|)) is rounding: no interval
DEGENERATE_RTOL = 1e-12
#: enumerate all 2ⁿ sign patterns up to this many seeds (beyond: Monte Carlo, 2¹⁶ draws)
EXACT_SIGN_FLIP_MAX = 16


def sign_flip_p(d: Sequence[float], *, alternative: str = "greater", seed: int = 0) -> float:
    """Exact one-sided sign-flip (randomisation) p-value of ``mean(d) > 0`` (or ``< 0``):
    the fraction of the ``2ⁿ`` sign patterns whose mean is at least the observed one —
    the observed pattern included, so ``p ≥ 2⁻ⁿ`` (never 0).  Valid under the null that each
    per-seed difference is symmetric about 0 (exchangeable arms within a seed)."""
    x = np.asarray(d, dtype=np.float64)
    require(x.ndim == 1 and x.size >= 1 and np.all(np.isfinite(x)), "d", x.shape,
            "a 1-D sample of finite per-seed differences")
    require(alternative in ("greater", "less"), "alternative", alternative, "greater or less")
    if alternative == "less":
        x = -x
    obs = x.mean()
    n = x.size
    if n <= EXACT_SIGN_FLIP_MAX:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=n)))
    else:
        rng = np.random.default_rng([seed, 0x5F11])
        signs = np.vstack([np.ones(n), rng.choice((1.0, -1.0), size=(1 << 16, n))])
    means = signs @ x / n
    return float(np.mean(means >= obs - 1e-12 * max(1.0, abs(obs))))


def mean_interval(d: Sequence[float], alpha: float = ALPHA) -> dict[str, Any]:
    """Mean of per-seed values, its standard error and the Student-t **one-sided** ``1 − α``
    bounds (``lo`` for "> null", ``hi`` for "< null"); ``None`` bounds with fewer than two
    seeds or zero spread (degenerate: reported as such, never as a p-value of 0)."""
    from scipy.stats import t as student

    x = np.asarray(d, dtype=np.float64)
    require(x.ndim == 1 and x.size >= 1, "d", x.shape, "a 1-D sample")
    out: dict[str, Any] = {"n": int(x.size), "mean": float(x.mean()), "se": None, "lo": None,
                           "hi": None, "degenerate": False}
    if x.size < 2:
        return out
    sd = float(x.std(ddof=1))
    if sd <= DEGENERATE_RTOL * max(1.0, abs(float(x.mean()))):  # no spread beyond rounding
        out["degenerate"] = True
        return out
    se = sd / math.sqrt(x.size)
    q = float(student.ppf(1 - alpha, x.size - 1))
    out.update({"se": se, "sd": sd, "lo": out["mean"] - q * se, "hi": out["mean"] + q * se})
    return out


def detectable_effect(sd: float, n: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """Smallest mean per-seed effect a one-sided t-test over ``n`` seeds detects with
    probability ``power`` at level ``alpha`` when the per-seed spread is ``sd``:
    ``(t_{1−α} + t_{power}) · sd/√n`` (``n − 1`` degrees of freedom; ``inf`` below 2 seeds)."""
    from scipy.stats import t as student

    if n < 2 or not math.isfinite(sd):
        return math.inf
    return float((student.ppf(1 - alpha, n - 1) + student.ppf(power, n - 1)) * sd / math.sqrt(n))


def seeds_needed(effect: float, sd: float, alpha: float = ALPHA, power: float = POWER,
                 cap: int = 1000) -> int | None:
    """Seeds for :func:`detectable_effect` to fall to ``|effect|`` (and at least
    ``⌈log₂(1/α)⌉``, what the sign-flip test needs); ``None`` if above ``cap``."""
    floor = math.ceil(math.log2(1 / alpha))
    if effect == 0 or not math.isfinite(sd):
        return None
    for n in range(max(2, floor), cap + 1):
        if detectable_effect(sd, n, alpha, power) <= abs(effect):
            return n
    return None


def make_verdict(*, claim: str, verdict: str, statistic: str, estimate: float,
                 interval: Sequence[float | None], alpha: float, unit: str, n: int,
                 control_name: str, control_verdict: str | None, power: str,
                 details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The verdict object (module docstring), validated."""
    v = {"claim": claim, "verdict": verdict, "statistic": statistic,
         "estimate": None if estimate is None or not math.isfinite(estimate) else float(estimate),
         "interval": [None if x is None or not math.isfinite(x) else float(x) for x in interval],
         "alpha": float(alpha), "replication": {"unit": unit, "n": int(n)},
         "control": {"name": control_name, "verdict": control_verdict}, "power": power}
    if details:
        v["details"] = details
    validate_verdict(v)
    return v


def validate_verdict(v: Any) -> None:
    """Refuse a verdict object that breaks the schema (module docstring)."""
    require(isinstance(v, dict), "verdict", type(v).__name__, "an object")
    for key, kind in (("claim", str), ("verdict", str), ("statistic", str), ("power", str),
                      ("alpha", float), ("replication", dict), ("control", dict),
                      ("interval", list)):
        require(isinstance(v.get(key), kind), f"verdict.{key}", v.get(key), kind.__name__)
    require(v["verdict"] in VERDICTS, "verdict.verdict", v["verdict"], " | ".join(VERDICTS))
    require(0 < v["alpha"] < 1, "verdict.alpha", v["alpha"], "in (0, 1)")
    require(len(v["interval"]) == 2, "verdict.interval", v["interval"], "[lo, hi]")
    rep = v["replication"]
    require(isinstance(rep.get("unit"), str) and isinstance(rep.get("n"), int) and rep["n"] >= 0,
            "verdict.replication", rep, '{"unit": str, "n": int ≥ 0}')
    ctl = v["control"]
    require(isinstance(ctl.get("name"), str)
            and (ctl.get("verdict") is None or ctl["verdict"] in VERDICTS),
            "verdict.control", ctl, '{"name": str, "verdict": one of the verdicts or null}')
    require("estimate" in v, "verdict.estimate", None, "a number or null")


def decide(diffs: Sequence[float], *, alternative: str = "greater", null: float = 0.0,
           alpha: float = ALPHA, control: str | None = None) -> dict[str, Any]:
    """The verdict rule of the module docstring on per-seed values ``diffs`` (the claimed
    effect is ``mean > null`` for ``alternative="greater"``).  ``control``: the control's own
    verdict (a supported control blocks "supported").  Returns ``verdict``, the interval
    ``[lo, hi]`` whose ends are the one-sided ``1 − α`` bounds (a two-sided ``1 − 2α``
    interval; ``None`` ends when degenerate), the sign-flip ``p_value`` and the statistics."""
    x = np.asarray(diffs, dtype=np.float64) - null
    mi = mean_interval(x, alpha)
    p = sign_flip_p(x, alternative=alternative)
    p_other = sign_flip_p(x, alternative="less" if alternative == "greater" else "greater")
    if alternative == "greater":
        claimed = mi["lo"] is not None and mi["lo"] > 0
        against = mi["hi"] is not None and mi["hi"] < 0
    else:
        claimed = mi["hi"] is not None and mi["hi"] < 0
        against = mi["lo"] is not None and mi["lo"] > 0
    interval = [None if mi["lo"] is None else mi["lo"] + null,
                None if mi["hi"] is None else mi["hi"] + null]
    if claimed and p <= alpha and control != "supported":
        verdict = "supported"
    elif against and p_other <= alpha:
        verdict = "refuted"
    else:
        verdict = "inconclusive"
    return {"verdict": verdict, "interval": interval, "p_value": p, "p_value_against": p_other,
            "mean": mi["mean"] + null, "se": mi["se"], "sd": mi.get("sd"), "n": mi["n"],
            "degenerate": mi["degenerate"], "blocked_by_control": bool(claimed and p <= alpha
                                                                       and control == "supported")}


def seed_level_test(diffs: Sequence[float], *, claim: str, statistic: str,
                    alternative: str = "greater", null: float = 0.0, alpha: float = ALPHA,
                    unit: str = "seeds", control_name: str, control_verdict: str | None,
                    effect_of_interest: float | None = None, control_blocks: bool = True,
                    details: dict[str, Any] | None = None) -> dict[str, Any]:
    """:func:`decide` wrapped into a :func:`make_verdict` object, with the power statement:
    the smallest effect this many seeds detect at the observed spread, and — when
    ``effect_of_interest`` (or the observed mean) is not detectable — the seeds needed.
    ``control_blocks=False`` when ``diffs`` are already paired differences against the control
    (its effect is subtracted seed by seed; its own verdict is then reported, not a gate)."""
    d = decide(diffs, alternative=alternative, null=null, alpha=alpha,
               control=control_verdict if control_blocks else None)
    n = d["n"]
    min_seeds = math.ceil(math.log2(1 / alpha))
    if d["sd"] is None:
        power = (f"not computable from {n} seed(s) (no spread): at least {max(2, min_seeds)} "
                 f"seeds are needed for a one-sided test at α = {alpha:g}")
    else:
        det = detectable_effect(d["sd"], n, alpha)
        target = effect_of_interest if effect_of_interest is not None else d["mean"] - null
        need = seeds_needed(target, d["sd"], alpha)
        power = (f"with {n} seeds (per-seed sd {d['sd']:.3g}) the design detects a mean effect "
                 f"of {det:.3g} with {POWER:.0%} power at α = {alpha:g}; the sign-flip test "
                 f"needs ≥ {min_seeds} seeds to reach α")
        if n < min_seeds or det > abs(target):
            power += (f"; an effect of {abs(target):.3g} needs "
                      + (f"{need} seeds" if need else "more than 1000 seeds"))
    return make_verdict(claim=claim, verdict=d["verdict"], statistic=statistic,
                        estimate=d["mean"], interval=d["interval"], alpha=alpha, unit=unit, n=n,
                        control_name=control_name, control_verdict=control_verdict, power=power,
                        details={"p_value": d["p_value"], "p_value_against": d["p_value_against"],
                                 "se": d["se"], "degenerate": d["degenerate"],
                                 "per_unit": [float(v) for v in np.asarray(diffs, float)],
                                 **(details or {})})


def equivalence_seeds_needed(sd: float, margin: float, alpha: float = ALPHA,
                             power: float = POWER, cap: int = 1000) -> int | None:
    """Seeds for the two one-sided tests of :func:`equivalence_test` to accept a true mean
    of 0 with probability ``power`` when the per-seed spread is ``sd``:
    ``(t_{1−α} + t_{(1+power)/2}) · sd/√n ≤ margin`` (and at least ``⌈log₂(1/α)⌉`` seeds, what
    each sign-flip test needs); ``None`` above ``cap``."""
    from scipy.stats import t as student

    floor = math.ceil(math.log2(1 / alpha))
    if margin <= 0 or not math.isfinite(sd):
        return None
    for n in range(max(2, floor), cap + 1):
        q = student.ppf(1 - alpha, n - 1) + student.ppf((1 + power) / 2, n - 1)
        if q * sd / math.sqrt(n) <= margin:
            return n
    return None


def equivalence_test(diffs: Sequence[float], margin: float, *, claim: str, statistic: str,
                     alpha: float = ALPHA, unit: str = "seeds", control_name: str,
                     control_verdict: str | None, null_sd: float | None = None,
                     details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The verdict on "the per-seed values ``diffs`` are 0 within ``±margin``" (two one-sided
    tests at the seed level, each the rule of :func:`decide`):

    * **supported** — ``mean > −margin`` and ``mean < +margin`` are both supported (the interval
      lies inside ``(−margin, margin)`` and both sign-flip p-values are ``≤ α``), and the
      control is not supported;
    * **refuted** — ``mean < −margin`` or ``mean > +margin`` is supported (the interval lies
      entirely beyond a margin);
    * **inconclusive** — otherwise.

    ``null_sd``: the per-seed spread a design that meets the claim exactly would show (for the
    power statement: the seeds it needs)."""
    require(math.isfinite(margin) and margin > 0, "margin", margin, "a finite margin > 0")
    lower = decide(diffs, alternative="greater", null=-margin, alpha=alpha)
    upper = decide(diffs, alternative="less", null=margin, alpha=alpha)
    below = decide(diffs, alternative="less", null=-margin, alpha=alpha)
    above = decide(diffs, alternative="greater", null=margin, alpha=alpha)
    inside = lower["verdict"] == "supported" and upper["verdict"] == "supported"
    if inside and control_verdict != "supported":
        verdict = "supported"
    elif below["verdict"] == "supported" or above["verdict"] == "supported":
        verdict = "refuted"
    else:
        verdict = "inconclusive"
    n, sd = lower["n"], lower["sd"]
    min_seeds = math.ceil(math.log2(1 / alpha))
    if sd is None:
        power = (f"not computable from {n} seed(s) (no spread): the two one-sided tests need "
                 f"at least {max(2, min_seeds)} seeds at α = {alpha:g}")
    else:
        need = equivalence_seeds_needed(sd, margin, alpha)
        power = (f"with {n} seeds (per-seed sd {sd:.3g}) a true mean of 0 is shown inside "
                 f"±{margin:.3g} with {POWER:.0%} power from "
                 + (f"{need} seeds" if need else "more than 1000 seeds")
                 + f" (each sign-flip test needs ≥ {min_seeds} seeds)")
        if null_sd is not None:
            need0 = equivalence_seeds_needed(null_sd, margin, alpha)
            power += (f"; a design meeting the claim exactly (per-seed sd {null_sd:.3g}) needs "
                      + (f"{need0} seeds" if need0 else "more than 1000 seeds"))
    return make_verdict(
        claim=claim, verdict=verdict, statistic=statistic, estimate=lower["mean"],
        interval=lower["interval"][:1] + upper["interval"][1:], alpha=alpha, unit=unit, n=n,
        control_name=control_name, control_verdict=control_verdict, power=power,
        details={"margin": float(margin), "p_value": max(lower["p_value"], upper["p_value"]),
                 "p_value_below": below["p_value"], "p_value_above": above["p_value"],
                 "se": lower["se"], "degenerate": lower["degenerate"],
                 "blocked_by_control": bool(inside and control_verdict == "supported"),
                 "per_unit": [float(v) for v in np.asarray(diffs, float)], **(details or {})})


def verdict_markdown(v: dict[str, Any]) -> str:
    """The lines ``summary.md`` leads with."""
    iv = v["interval"]

    def num(x):
        if x is None:
            return "—"
        return "∞" if x == math.inf else "−∞" if x == -math.inf else f"{x:.3g}"

    ctl = v["control"]
    det = v.get("details", {})
    return "\n".join([
        f"**Verdict: {v['verdict'].upper()}** — {v['claim']}", "",
        f"- statistic: {v['statistic']} = {num(v['estimate'])}, interval [{num(iv[0])}, "
        f"{num(iv[1])}] (ends: one-sided {1 - v['alpha']:.0%} bounds)"
        + (f", sign-flip p = {det['p_value']:.3g}" if "p_value" in det else ""),
        f"- replication: {v['replication']['n']} {v['replication']['unit']} (the independent "
        "unit)",
        f"- control ({ctl['name']}): {ctl['verdict'] or 'not run'}",
        f"- power: {v['power']}", ""])
