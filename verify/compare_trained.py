"""The three-way comparison: trained vs constructed vs exact, on identical oracle inputs.

For a training run (``RUN/config.json`` + ``RUN/final`` bundle) and a construction bundle
(given, or built here for the run's spec with ``gated`` time conditioning so one network
serves every ``t ∈ [t0, T]``, at the run's ``t0`` and ``eps``), :func:`compare` measures per
``t`` of a grid, on the **same** draws ``X_t ~ N(0, A_t)`` for every network:

* relative score errors ``‖ŝ - s‖/‖s‖`` (pooled over the draws) of the trained network, the
  construction and the independent-frames baseline against the exact score, and trained vs
  constructed ``‖ŝ_tr - ŝ_con‖/‖ŝ_con‖``;
* the **excess DSM loss over the Bayes floor** (per element): directly, as the Monte-Carlo
  ε-loss ``mean‖-σ_t ŝ(X_t) - Z‖²/(dH)`` on fresh ``(X₀, Z)`` minus ``floor(t)/(dH)``, with
  its standard error (it can be negative only by Monte-Carlo noise: no network beats the
  floor), and through the identity ``excess = σ_t² E‖ŝ - s‖²/(dH)`` (``ε* = -σ_t s`` is the
  conditional mean of ``Z``, docs/theory.md §2), which is ``≥ 0`` by construction;
* attention: mean attention weight vs gap (trained: averaged over heads and layers, and per
  layer; construction: the value-weighted profile, ``= γ_w``) against ``γ``, with Spearman,
  scaled L2 and a permutation p-value (:mod:`ditgp.verify.probes`); an optional **control**
  run trained on ``Γ = I`` data answers "does the pattern merely reflect the positional
  embedding?";
* value ↔ ``Σ`` alignment and layer ↔ iteration distances of both networks.

It writes ``compare.md``, ``compare.json`` and PNGs (error vs ``t`` on log axes, excess loss
vs ``t``, attention profile vs ``γ``, heat-maps of mean attention, layer-distance curves).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ditgp.numerics.oracle import Oracle
from ditgp.theory.errors import SpecError, require
from ditgp.theory.spec import GPSpec

from .probes import SHARE_MIN, layer_iteration_distance, profile_vs_kernel, value_alignment

__all__ = ["DEFAULT_EPS", "DEFAULT_N", "DSM_N", "PROBE_N", "Networks", "load_networks",
           "default_t_grid", "dsm_excess", "score_errors", "attention_summary", "compare",
           "write_compare"]

#: accuracy of the construction built when no bundle is given
DEFAULT_EPS = 1e-3
#: oracle draws per t for the score errors
DEFAULT_N = 64
#: (X₀, Z) pairs per t for the direct DSM estimate of the networks
DSM_N = 256
#: draws for the attention probes
PROBE_N = 16


@dataclass
class Networks:
    """What a comparison needs: the spec, score functions and probeable networks."""

    spec: GPSpec
    run: Path | None
    trained: Any  # TrainedNetwork
    constructed_score: Any
    constructed_probe: Any
    constructed_manifest: dict[str, Any]
    control: Any = None  # TrainedNetwork trained on Γ = I (optional)


def _load_run(run) -> Any:
    from ditgp.models.export import load_trained
    from ditgp.numerics.bundle import MANIFEST, BundleError

    path = Path(run)
    final = path / "final"
    if not (final / MANIFEST).is_file():
        raise SpecError("--run", str(path), "a training run folder with a final/ bundle "
                                            "(made by ditgp train)")
    try:
        return load_trained(final)
    except BundleError as exc:
        raise SpecError("--run", str(path), f"a run with a valid final bundle ({exc})") from None


def load_networks(run, *, bundle=None, eps: float = DEFAULT_EPS, control=None,
                  save_construction: str | Path | None = None) -> Networks:
    """Load the run (and the control run), and the construction: ``bundle`` or a ``gated``
    Chebyshev/compact construction of the run's spec at its ``t0`` and ``eps`` (saved to
    ``save_construction`` if given)."""
    from ditgp.models.probes import as_probeable

    tr = _load_run(run)
    spec = tr.spec
    if bundle is not None:
        from ditgp.models.export import load_network
        from ditgp.models.sampling import require_all_t

        score, manifest = load_network(bundle)
        require_all_t(manifest, str(bundle), "--bundle")
        got = GPSpec.from_dict(manifest["spec"])
        require(got.to_dict()["kernel"] == spec.to_dict()["kernel"] and got.H == spec.H
                and got.d == spec.d and got.Sigma.tolist() == spec.Sigma.tolist(),
                "--bundle", str(bundle), f"a bundle for the run's spec ({spec.describe()})")
        probe = as_probeable(bundle)
    else:
        from ditgp.numerics import construct

        con = construct(spec, t=spec.schedule.t0, eps=float(eps), attention="compact",
                        algorithm="chebyshev", time_conditioning="gated")
        if save_construction is not None:
            con.save(save_construction)
        manifest = con.manifest

        def score(X, t, con=con):
            return con.score(np.asarray(X, dtype=np.float64), float(t))

        probe = as_probeable(con)
    ctrl = _load_run(control) if control is not None else None
    if ctrl is not None:
        require(ctrl.spec.H == spec.H and ctrl.spec.d == spec.d, "--control", str(control),
                f"a run with H={spec.H}, d={spec.d} like the compared run")
    return Networks(spec, Path(run), tr, score, probe, manifest, ctrl)


def default_t_grid(spec: GPSpec, points: int = 8) -> list[float]:
    """``points`` log-spaced times in ``[t0, T]`` (endpoints included)."""
    t0, T = spec.schedule.t0, spec.schedule.T
    return [float(t) for t in np.geomspace(t0, T, points)]


def dsm_excess(score_fn, spec: GPSpec, t: float, n: int, seed: int,
               floor_fn=None, x0=None, control_variate: bool = True) -> dict[str, float]:
    """Direct Monte-Carlo excess ε-loss over the Bayes floor, per element, with its SE:
    ``mean_i ‖-σ_t ŝ(X_t^i) - Z^i‖²/(dH) - floor(t)/(dH)`` (floor from
    :func:`ditgp.models.data.bayes_floor` unless ``floor_fn``).  ``x0`` (optional, ``(m, d, H)``)
    replaces the ``n`` fresh draws of ``X₀`` by given sequences (e.g. a training set: the
    train-side loss, which a memorising network pushes below the floor).

    With ``control_variate`` (default) the exact score is scored on the **same** ``(X₀, Z, t)``:
    ``excess_cv = mean_i (ℓ_net,i − ℓ_exact,i)`` with the SE of the paired differences.  The
    Monte-Carlo offset both losses share (the draws' own deviation from the floor) cancels, so
    ``excess_cv`` is the estimate to report; ``excess`` (against the closed-form floor) is kept
    as the check of the floor itself."""
    from ditgp.models.data import bayes_floor

    oracle = Oracle.for_spec(spec)
    rng = np.random.default_rng([seed, 104729])
    X0 = oracle.sample(n, seed=rng) if x0 is None else np.asarray(x0, dtype=np.float64)
    n = X0.shape[0]
    Z = rng.standard_normal(X0.shape)
    a, s = math.exp(-t / 2), math.sqrt(-math.expm1(-t))
    Xt = a * X0 + s * Z
    dH = spec.d * spec.H
    per = np.sum((-s * score_fn(Xt, t) - Z) ** 2, axis=(1, 2)) / dH
    floor = float((floor_fn or bayes_floor)(spec, np.array([t]))[0])
    out = {"excess": float(per.mean()) - floor, "se": float(per.std(ddof=1) / math.sqrt(n)),
           "loss": float(per.mean()), "floor": floor, "n": int(n)}
    if control_variate:
        ex = np.sum((-s * oracle.score(Xt, t) - Z) ** 2, axis=(1, 2)) / dH
        diff = per - ex
        out.update({"excess_cv": float(diff.mean()), "se_cv": float(diff.std(ddof=1) / math.sqrt(n)),
                    "exact_offset": float(ex.mean()) - floor})
    return out


def score_errors(nets: Networks, t_grid: list[float], n: int = DEFAULT_N, seed: int = 0,
                 dsm_n: int = DSM_N) -> dict[str, Any]:
    """Per ``t``: relative errors and excess losses (module docstring)."""
    from ditgp.models.data import independent_frames_score

    spec = nets.spec
    oracle = Oracle.for_spec(spec)
    fns = {"trained": nets.trained.score, "constructed": nets.constructed_score,
           "independent": lambda X, t: independent_frames_score(spec, X, t)}
    rows = []
    dH = spec.d * spec.H
    for i, t in enumerate(t_grid):
        X = oracle.sample(n, seed=np.random.default_rng([seed, i]), t=t)  # identical inputs
        s = oracle.score(X, t)
        ns = float(np.linalg.norm(s))
        out = {name: f(X, t) for name, f in fns.items()}
        s2 = float(-math.expm1(-t))
        row: dict[str, Any] = {"t": float(t)}
        for name, sh in out.items():
            row[f"{name}_rel_error"] = float(np.linalg.norm(sh - s)) / ns
            row[f"{name}_excess_identity"] = s2 * float(np.sum((sh - s) ** 2)) / (n * dH)
        row["trained_vs_constructed"] = float(np.linalg.norm(out["trained"] - out["constructed"])
                                              / np.linalg.norm(out["constructed"]))
        for name in ("trained", "constructed", "independent"):
            row[f"{name}_dsm"] = dsm_excess(fns[name], spec, t, dsm_n, seed + 1000 + i)
        rows.append(row)
    return {"n": n, "dsm_n": dsm_n, "seed": seed, "rows": rows}


def _probe_t(spec: GPSpec, t: float | None) -> float:
    """The attention probes' time: ``t`` if given, else the spec's ``t0`` (the theorem's
    range starts there, docs/theory.md §2)."""
    t0, T = spec.schedule.t0, spec.schedule.T
    if t is None:
        return float(t0)
    spec.schedule.check_time(float(t), "--probe-t")
    return float(min(max(t, t0), T))


def attention_summary(net, spec: GPSpec, t: float, n: int = PROBE_N, seed: int = 0,
                      weighted: bool = False, plan: dict | None = None,
                      control=None) -> dict[str, Any]:
    """Probe one network on ``n`` oracle draws at ``t``: the discriminating attention test
    (:func:`~ditgp.verify.probes.kernel_model_test` on the per-input profiles, with the exact
    operator's gap profile and, if given, a ``control`` network's profile on the same inputs
    as candidates), descriptive statistics against ``γ`` (Spearman, scaled L2), per-layer
    profiles, the gated value path against ``Σ``, and layer ↔ iteration distances with their
    trivial bound and Γ = I null.  ``weighted``: the construction's value-weighted profile
    (``= γ_w``) is the descriptive profile; the test always uses the plain attention."""
    from ditgp.models.probes import (
        as_probeable,
        attention_maps,
        block_readouts,
        gap_profile,
        input_gap_profiles,
        value_coefficients,
        value_paths,
    )

    from .operator import block_norms, exact_jacobian, gap_profile_of
    from .probes import kernel_model_test

    p = as_probeable(net, spec)
    X = Oracle.for_spec(spec).sample(n, seed=np.random.default_rng([seed, 7]), t=t)
    maps = attention_maps(p, X, t)
    prof = gap_profile(maps)  # (L, M, H)
    gamma = np.asarray(spec.Gamma[:, 0])
    vp = value_paths(p, t)
    c = value_coefficients(vp["frame"], spec.Sigma)  # (L, M)
    wprof = np.einsum("lm,lmh->lh", c, prof)
    main = wprof.mean(axis=0) if weighted else prof.mean(axis=(0, 1))
    exact_prof = gap_profile_of(block_norms(exact_jacobian(spec, t)))
    ctrl_prof = None
    if control is not None:
        ctrl_prof = input_gap_profiles(attention_maps(as_probeable(control, spec), X, t)).mean(axis=0)
    test = kernel_model_test(input_gap_profiles(maps), gamma, exact=exact_prof, control=ctrl_prof,
                             seed=seed)
    per_layer_prof = wprof if weighted else prof.mean(axis=1)
    out = {
        "t": t, "n": n, "profile_kind": "value-weighted" if weighted else "mean over heads/layers",
        "profile": main.tolist(),
        "attention_profile": prof.mean(axis=(0, 1)).tolist(),
        "kernel_test": test,
        "exact_operator_profile": exact_prof.tolist(),
        "control_profile": None if ctrl_prof is None else ctrl_prof.tolist(),
        "vs_gamma": profile_vs_kernel(main, gamma, seed=seed),
        "per_layer": [profile_vs_kernel(pl, gamma, seed=seed, n_perm=199) for pl in per_layer_prof],
        "per_layer_test": [kernel_model_test(pl[None], gamma, exact=exact_prof, n_boot=0)["best"]
                           for pl in prof.mean(axis=1)],
        "per_layer_profile": per_layer_prof.tolist(),
        "heatmap": np.mean([m.mean(axis=(0, 1)) for m in maps], axis=0).tolist(),
        "value": {**value_alignment(vp["frame"], spec.Sigma), "gated": vp["gated"]},
    }
    R = block_readouts(p, X, t)
    out["layers"] = layer_iteration_distance(R, spec, X, t, plan=plan,
                                             K_max=None if plan else max(R.shape[0] + 4, 32))
    return out


def compare(run, *, bundle=None, t_grid: list[float] | None = None, n: int = DEFAULT_N,
            seed: int = 0, eps: float = DEFAULT_EPS, control=None, probe_t: float | None = None,
            out: str | Path | None = None, nets: Networks | None = None) -> dict[str, Any]:
    """The three-way comparison (module docstring); writes the report when ``out`` is given."""
    nets = nets or load_networks(run, bundle=bundle, eps=eps, control=control)
    spec = nets.spec
    grid = t_grid or default_t_grid(spec)
    for t in grid:
        spec.schedule.check_time(t, "--t-grid")
    tp = _probe_t(spec, probe_t)
    from .operator import operator_probe

    doc: dict[str, Any] = {
        "run": str(nets.run), "spec": spec.to_dict(), "spec_text": spec.describe(),
        "trained": {"arch": nets.trained.config.to_dict(),
                    "params": nets.trained.manifest.get("resources", {}).get("params")},
        "constructed": {"construction": nets.constructed_manifest.get("construction"),
                        "resources": {k: nets.constructed_manifest.get("resources", {}).get(k)
                                      for k in ("D", "L", "M", "params", "K", "window")}},
        "operator": {"trained": operator_probe(nets.trained, spec, seed=seed),
                     "constructed": operator_probe(nets.constructed_probe, spec, seed=seed)},
        "errors": score_errors(nets, grid, n=n, seed=seed),
        "gamma": np.asarray(spec.Gamma[:, 0]).tolist(),
    }
    ctrl_model = nets.control.model if nets.control is not None else None
    doc["attention"] = {
        "trained": attention_summary(nets.trained.model, spec, tp, seed=seed, control=ctrl_model),
        "constructed": attention_summary(nets.constructed_probe, spec, tp, seed=seed,
                                         weighted=True, plan=nets.constructed_manifest.get("plan")),
    }
    if nets.control is not None:
        doc["operator"]["control"] = operator_probe(nets.control, spec, seed=seed)
        doc["attention"]["control"] = attention_summary(nets.control.model, spec, tp, seed=seed)
    if out is not None:
        write_compare(out, doc)
    return doc


# -- report ----------------------------------------------------------------------------------


def _plots(out: Path, doc: dict[str, Any]) -> list[str]:
    from ditgp.models.plotting import pyplot, save_png

    from .operator import plot_gap_profiles

    plt = pyplot()
    rows = doc["errors"]["rows"]
    t = [r["t"] for r in rows]
    names = [plot_gap_profiles(out / "operator_gap_profile.png", doc["operator"])]
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label, mk in (("trained_rel_error", "trained vs exact", "o-"),
                           ("constructed_rel_error", "constructed vs exact", "s-"),
                           ("trained_vs_constructed", "trained vs constructed", "^--"),
                           ("independent_rel_error", "independent frames vs exact", "x:")):
        y = np.maximum([r[key] for r in rows], 1e-17)
        ax.loglog(t, y, mk, label=label)
    ax.set_xlabel("diffusion time t")
    ax.set_ylabel("relative score error ‖ŝ − s‖/‖s‖ (dimensionless)")
    ax.set_title("score error on identical oracle draws")
    ax.legend(fontsize=8)
    names.append(save_png(fig, out / "errors.png", dpi=100, stamp=True))

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, mk in (("trained", "o-"), ("constructed", "s-"), ("independent", "x:")):
        y = np.maximum([r[f"{name}_excess_identity"] for r in rows], 1e-20)
        ax.loglog(t, y, mk, label=f"{name} (σ²E‖ŝ−s‖²/dH)")
        d = [r[f"{name}_dsm"] for r in rows]
        ax.errorbar(t, np.maximum([x["excess"] for x in d], 1e-20),
                    yerr=[2 * x["se"] for x in d], fmt="none", ecolor="gray", alpha=0.6)
    ax.set_xlabel("diffusion time t")
    ax.set_ylabel("excess ε-loss over Bayes floor (per element)")
    ax.set_title("excess DSM loss (bars: direct MC estimate ± 2 SE)")
    ax.legend(fontsize=8)
    names.append(save_png(fig, out / "excess_loss.png", dpi=100, stamp=True))

    gamma = np.asarray(doc["gamma"])
    m = np.arange(len(gamma))
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(m, gamma, "k-", lw=2, label="γ(m)")
    for key, mk in (("trained", "o"), ("constructed", "s"), ("control", "x")):
        a = doc["attention"].get(key)
        if a is None:
            continue
        prof = np.asarray(a["profile"])
        sc = a["vs_gamma"]["scale"]
        kt = a["kernel_test"]
        ax.plot(m, sc * prof, mk + "--", label=f"{key} ({a['profile_kind']}, ×{sc:.3g}); "
                f"kernel test {'PASS' if kt['passed'] else 'FAIL'} (best: {kt['best']}, "
                f"share {kt['share']:.2f}, p={kt['p_value']:.3g})")
    ax.set_xlabel("gap |i − j| (frames)")
    ax.set_ylabel("attention weight, best-scaled (γ units)")
    ax.set_title("attention profile vs temporal kernel")
    ax.legend(fontsize=7)
    names.append(save_png(fig, out / "attention_profile.png", dpi=100, stamp=True))

    keys = [k for k in ("trained", "constructed", "control") if k in doc["attention"]]
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.6))
    for ax, key in zip(np.atleast_1d(axes), keys, strict=True):
        im = ax.imshow(np.asarray(doc["attention"][key]["heatmap"]), cmap="viridis")
        ax.set_title(f"{key}: mean attention")
        ax.set_xlabel("key frame j")
        ax.set_ylabel("query frame i")
        fig.colorbar(im, ax=ax, fraction=0.046, label="attention weight")
    names.append(save_png(fig, out / "attention_heatmaps.png", dpi=100, stamp=True))

    fig, ax = plt.subplots(figsize=(6, 4))
    for (key, mk), col in zip((("trained", "o-"), ("constructed", "s-")), ("C0", "C1"), strict=True):
        lay = doc["attention"][key]["layers"]
        dist = np.maximum(lay["distance"], 1e-17)
        ax.semilogy(range(len(dist)), dist, mk, color=col, label=f"{key}: nearest iterate")
        ax.semilogy(range(len(dist)), np.maximum(lay["trivial_bound"], 1e-17), ":", color=col,
                    label=f"{key}: trivial bound min(‖r‖, ‖r − v*‖)/‖v*‖")
    ax.set_xlabel("block k (0 = encoder)")
    ax.set_ylabel("distance to nearest GD/Chebyshev iterate (relative to ‖A⁻¹x‖)")
    ax.set_title("layer ↔ iteration")
    ax.legend(fontsize=8)
    names.append(save_png(fig, out / "layer_distance.png", dpi=100, stamp=True))
    return names


def write_compare(out: str | Path, doc: dict[str, Any]) -> dict[str, Any]:
    """``compare.md``, ``compare.json`` and the PNGs into ``out``."""
    from .report import atomic_write_text

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pngs = _plots(out, doc)
    rows = doc["errors"]["rows"]
    lines = [f"# Trained vs constructed vs exact — {doc['spec_text']}", "",
             f"Run `{doc['run']}`; trained {doc['trained']['arch']['arch']} "
             f"({doc['trained']['params']} parameters); construction "
             f"{json.dumps(doc['constructed']['resources'])}.", "",
             "## Operator probe: the Jacobian against −A_t⁻¹", ""]
    from .operator import probe_markdown

    for key, probe in doc["operator"].items():
        lines += [f"### {key}", ""] + probe_markdown(probe, key) + [""]
    lines += [f"![operator gap profiles]({pngs[0]})", "",
              "## Score error and excess loss per t (identical oracle draws)", "",
             "| t | trained | constructed | indep. frames | trained vs constr. | excess trained "
             "(− exact, ± SE) | excess constructed | excess indep. |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        def ex(name, r=r):
            d = r[f"{name}_dsm"]
            return f"{d['excess_cv']:.3g} ± {d['se_cv']:.2g}"
        lines.append(f"| {r['t']:.3g} | {r['trained_rel_error']:.3g} | "
                     f"{r['constructed_rel_error']:.3g} | {r['independent_rel_error']:.3g} | "
                     f"{r['trained_vs_constructed']:.3g} | {ex('trained')} | "
                     f"{ex('constructed')} | {ex('independent')} |")
    lines += ["", "Relative errors pooled over the draws (unit: oracle draws at each t). Excess "
              "ε-loss per element: the network's DSM loss minus the exact score's on the same "
              "(X₀, Z, t) (a control variate: the Monte-Carlo offset of the draws cancels; "
              "paired SE), and via σ²E‖ŝ−s‖²/(dH) in compare.json.", "",
              "## Attention ↔ kernel", "",
              "The attention test compares the mean attention profile (over heads and layers, "
              "per input) with candidate shapes by held-out error: the kernel a·γ+b, a "
              "free-length exponential, the exact operator's gap profile, flat, and the "
              "control's profile when a control run is given. PASS needs the kernel selected, "
              "stable over a bootstrap of the probe inputs (p ≤ α; unit: inputs — a statement "
              "about this network, not about training), and carrying at least "
              f"{SHARE_MIN:g} of the attention mass.", "",
              "| network | kernel test | best shape | p | kernel share (lower) | Spearman | "
              "scaled L2 | gated value path ↔ Σ: best layer (abs. cosine) | layer ↔ iteration |",
              "|---|---|---|---|---|---|---|---|---|"]
    for key, a in doc["attention"].items():
        v, kt = a["vs_gamma"], a["kernel_test"]
        lay = a["layers"]
        lines.append(f"| {key} | {'PASS' if kt['passed'] else 'FAIL'} | {kt['best']} | "
                     f"{kt['p_value']:.3g} | {kt['share']:.3f} ({kt['share_lower']:.3f}) | "
                     f"{v['spearman']:.3f} | {v['rel_l2']:.3g} | {a['value']['best_layer']} "
                     f"({abs(a['value']['best_cos']):.3f}; null RMS {a['value']['null_rms_cos']:.2f}) | "
                     f"{lay['verdict'].split(':')[0]} |")
    lines += ["", "Profiles at t = " + f"{doc['attention']['trained']['t']:g}. Layer ↔ iteration: "
              "each block's read-out against the nearest GD/Chebyshev iterate, beside the "
              "trivial bound min(‖r‖, ‖r − v*‖)/‖v*‖ and the Γ = I null; \"no evidence\" when "
              "no intermediate block is closer than half of both. The construction's descriptive "
              "profile is value-weighted (Σ_m c_m·profile_m = γ_w by design); its kernel test "
              "uses the plain attention (a ReLU construction's attention is not ∝ γ — only its "
              "value-weighted sum is).", ""]
    lines += [f"![{p}]({p})" for p in pngs[1:]] + [""]
    atomic_write_text(out / "compare.md", "\n".join(lines))
    from ditgp.numerics.jsonable import jsonable

    atomic_write_text(out / "compare.json", json.dumps(jsonable(doc, nonfinite="string"), indent=2) + "\n")
    return doc
