"""Verification reports: ``DIR/report.md``, ``DIR/report.json`` and PNG plots.

Plots (matplotlib, Agg backend, no display needed):

* ``error_vs_layers.png`` — relative error of GD and Chebyshev iterates (= layers of the
  unrolled network) against their bounds ``ρ_t^k`` and ``1/T_k(σ_t)``;
* ``attention_vs_kernel.png`` — per decay class, the kernel ``Γ`` beside the token mixing a
  constructed network's attention realises (read from its patterns and value weights), and
  one row of it against ``γ(m)``: zero beyond the window;
* ``window_vs_delta.png`` — truncation window ``w(δ)`` per decay class;
* ``eigenvalue_bounds.png`` — ``λ_min, λ_max`` of ``Γ_H`` against the spectral bounds vs ``H``.

Every file is written atomically (temporary file in the same folder, then ``os.replace``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ditgp.models.plotting import pyplot, save_png
from ditgp.numerics.atomic import atomic_write_bytes, atomic_write_text
from ditgp.theory.kernels import kernel
from ditgp.theory.spec import GPSpec

__all__ = [
    "PLOT_KERNELS", "write_report", "merge_reports", "atomic_write_bytes", "atomic_write_text",
    "plots",
]

#: One representative kernel per decay class for the plots.
PLOT_KERNELS = {
    "exponential": ("laplace", {"ell": 3.0}),
    "polynomial": ("power-law", {"ell": 1.0, "nu": 2.0}),
    "logarithmic": ("logarithmic", {"ell": 1.0, "nu": 2.0}),
}


# -- plots ---------------------------------------------
def plot_error_vs_layers(path: Path, spec: GPSpec | None = None, t: float = 0.05,
                         K: int = 40) -> dict[str, Any]:
    from ditgp.numerics import iterations as nit
    from ditgp.theory import iterations as tit
    from ditgp.verify.compare import gp_draws, noised, relative_l2

    plt = pyplot()
    spec = spec or GPSpec(kernel("laplace", ell=3.0), H=16, d=2)
    X, _ = noised(spec, gp_draws(spec, 4, 0), t, 1)
    from ditgp.numerics.oracle import exact_score

    v = -exact_score(spec, X, t)
    lam, mu = np.linalg.eigvalsh(spec.Gamma), np.linalg.eigvalsh(spec.Sigma)
    a_min, a_max = (float(x) for x in tit.a_t_extremes(
        lam[0], lam[-1], mu[0], mu[-1], float(spec.schedule.alpha2(t)),
        float(spec.schedule.sigma2(t))))
    gd = nit.gd_iterates(spec, X, t, K)
    ch = nit.chebyshev_iterates(spec, X, t, K)
    ks = np.arange(K + 1)
    data = {
        "k": ks.tolist(),
        "gd_error": [relative_l2(gd[k], v) for k in ks],
        "gd_bound": [float(tit.gd_error_bound(a_min, a_max, int(k))) for k in ks],
        "chebyshev_error": [relative_l2(ch[k], v) for k in ks],
        "chebyshev_bound": [tit.chebyshev_error_bound(a_min, a_max, int(k)) for k in ks],
        "kappa_t": a_max / a_min, "t": t, "spec": spec.describe(),
    }
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.semilogy(ks, data["gd_error"], "o-", ms=3, label="GD error")
    ax.semilogy(ks, data["gd_bound"], "--", label=r"$\rho_t^k$")
    ax.semilogy(ks, data["chebyshev_error"], "s-", ms=3, label="Chebyshev error")
    ax.semilogy(ks, data["chebyshev_bound"], ":", label=r"$1/T_k(\sigma_t)$")
    ax.set_xlabel("layer k (iterate)")
    ax.set_ylabel(r"$\|v_k - v^\star\| / \|v^\star\|$")
    ax.set_title(f"{spec.describe()}, t={t:g}, κ_t={a_max / a_min:.3g}", fontsize=9)
    shown = np.array([*data["gd_error"], *data["chebyshev_error"], *data["gd_bound"],
                      *data["chebyshev_bound"]], dtype=float)
    shown = shown[np.isfinite(shown) & (shown > 0)]
    if shown.size:  # no empty decades: from half the smallest plotted value to 1.5× the largest
        ax.set_ylim(0.5 * float(shown.min()), 1.5 * float(shown.max()))
    ax.legend(fontsize=9)
    save_png(fig, path, dpi=100, stamp=True)
    return data


def _kernels_by_class():
    return {cls: kernel(name, **params) for cls, (name, params) in PLOT_KERNELS.items()}


def plot_attention(path: Path, H: int = 24, delta: float = 1e-2, t: float = 0.1) -> dict[str, Any]:
    """Per decay class: the kernel ``Γ`` beside the token mixing that a constructed network's
    attention *actually* realises (paper realisation, ``d = 1``, window ``w(δ)``), read from
    its patterns and value/output weights by :func:`~ditgp.verify.adapters.effective_mixing`,
    and the profile of one row against ``γ(m)``."""
    from ditgp.numerics import construct
    from ditgp.theory.truncation import window
    from ditgp.verify.adapters import effective_mixing
    from ditgp.verify.strategies import ConstructionRequest

    plt = pyplot()
    ks = _kernels_by_class()
    fig, axes = plt.subplots(3, len(ks), figsize=(3.8 * len(ks), 10), layout="constrained")
    data: dict[str, Any] = {}
    for col, (cls, k) in enumerate(ks.items()):
        spec = GPSpec(k, H=H, d=1)
        G = spec.Gamma
        w = int(window(k, delta, H))
        req = ConstructionRequest(spec, t, 1e-2, attention="paper", algorithm="gd")
        con = construct(spec, t=t, eps=1e-2, attention="paper", algorithm="gd", window=w,
                        measure=False)
        mix = effective_mixing(con, req)
        err = float(np.max(np.abs(mix.G - mix.expected)))
        data[cls] = {"kernel": k.describe(), "window": w, "heads": int(con.config.heads),
                     "max_abs_diff_vs_gamma_w": err,
                     "source": "constructed network (paper realisation), patterns × values"}
        vmin = min(0.0, float(G.min()))
        for row, (mat, title) in enumerate((
                (G, f"{cls}: Γ = {k.describe()}"),
                (mix.G, f"realised mixing: w={w}, {con.config.heads} heads"))):
            ax = axes[row, col]
            im = ax.imshow(mat, cmap="viridis", vmin=vmin, vmax=1.0)
            ax.set_title(title, fontsize=8)
            ax.set_xlabel("key frame j", fontsize=7)
            ax.set_ylabel("query frame h", fontsize=7)
        fig.colorbar(im, ax=axes[:2, col], shrink=0.6)
        ax = axes[2, col]
        gaps = np.arange(H)
        ax.plot(gaps, k.gamma(gaps), "k-", lw=1, label="γ(m)")
        ax.plot(gaps, mix.G[0, :], "o", ms=3, label="row h=0 of the mixing")
        ax.axvline(w + 0.5, color="grey", ls=":", lw=1, label=f"window w={w}")
        ax.set_xlabel("gap m = |h - j|", fontsize=7)
        ax.set_title(f"max |mixing - Γ_w| = {err:.1e}", fontsize=8)
        ax.legend(fontsize=6)
    save_png(fig, path, dpi=100, stamp=True)
    return data


def plot_window(path: Path, deltas: Sequence[float] = tuple(10.0 ** -e for e in range(1, 9)),
                H: int = 4096) -> dict[str, Any]:
    from ditgp.theory.truncation import window

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    data: dict[str, Any] = {}
    for cls, k in _kernels_by_class().items():
        ws = [int(window(k, d, H)) for d in deltas]
        data[cls] = {"kernel": k.describe(), "delta": list(deltas), "window": ws, "H": H}
        ax.loglog(deltas, np.maximum(ws, 1), "o-", label=f"{cls}: {k.describe()}")
    ax.axhline(H - 1, color="grey", lw=0.8, ls="--", label=f"H - 1 = {H - 1}")
    ax.invert_xaxis()
    ax.set_xlabel("tail level δ")
    ax.set_ylabel("window w(δ)")
    ax.legend(fontsize=7)
    save_png(fig, path, dpi=100, stamp=True)
    return data


def plot_eigenvalue_bounds(path: Path, Hs: Sequence[int] = (2, 4, 8, 16, 32, 64, 128, 256),
                           ) -> dict[str, Any]:
    from ditgp.theory.spectral import eigenvalue_bounds

    plt = pyplot()
    ks = _kernels_by_class()
    fig, axes = plt.subplots(1, len(ks), figsize=(3.4 * len(ks), 3.6))
    data: dict[str, Any] = {}
    for ax, (cls, k) in zip(axes, ks.items(), strict=True):
        lo, hi, b_lo, b_hi = [], [], [], []
        for H in Hs:
            lam = np.linalg.eigvalsh(k.matrix(H))
            b = eigenvalue_bounds(k, H)
            lo.append(float(lam[0]))
            hi.append(float(lam[-1]))
            b_lo.append(float(b.lower))
            b_hi.append(float(b.upper))
        data[cls] = {"kernel": k.describe(), "H": list(Hs), "lambda_min": lo,
                     "lambda_max": hi, "lower": b_lo, "upper": b_hi}
        ax.loglog(Hs, hi, "o-", ms=3, label=r"$\lambda_{\max}$")
        ax.loglog(Hs, b_hi, "--", label="upper bound")
        ax.loglog(Hs, np.maximum(lo, 1e-300), "s-", ms=3, label=r"$\lambda_{\min}$")
        ax.loglog(Hs, np.maximum(b_lo, 1e-300), ":", label="lower bound")
        ax.set_title(f"{cls}: {k.describe()}", fontsize=9)
        ax.set_xlabel("H (frames)")
        ax.set_ylabel(r"eigenvalue of $\Gamma_H$")
        ax.legend(fontsize=8)
    save_png(fig, path, dpi=100, stamp=True)
    return data


#: file name -> caption shown under the plot in report.md
CAPTIONS = {
    "error_vs_layers.png": "Relative error of the GD and Chebyshev iterates (one iterate per "
    "layer of the unrolled network) against their bounds ρ_t^k and 1/T_k(σ_t); the errors "
    "level off at float64 rounding.",
    "attention_vs_kernel.png": "Per decay class: the kernel Γ beside the token mixing that a "
    "constructed network's attention realises (read from its patterns and value weights), "
    "and one row of it against γ(m) — zero beyond the window w.",
    "window_vs_delta.png": "Truncation window w(δ) per decay class: logarithmic in 1/δ "
    "(exponential), a power of 1/δ (polynomial), the whole sequence (non-summable, finite H).",
    "eigenvalue_bounds.png": "Extreme eigenvalues of Γ_H against the spectral bounds as H "
    "grows: uniform bounds for summable kernels (Szegő), an H-dependent row sum otherwise.",
}

#: file name -> plotting function
PLOTS = {
    "error_vs_layers.png": plot_error_vs_layers,
    "attention_vs_kernel.png": plot_attention,
    "window_vs_delta.png": plot_window,
    "eigenvalue_bounds.png": plot_eigenvalue_bounds,
}


def plots(out: Path) -> dict[str, Any]:
    """Draw every plot into ``out``; returns the plotted numbers by file name (a plot that
    cannot be drawn records its error instead of stopping the report)."""
    data: dict[str, Any] = {}
    for name, fn in PLOTS.items():
        try:
            data[name] = fn(Path(out) / name)
        except Exception as exc:  # noqa: BLE001 - reported in the report, not fatal
            data[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return data


# -- the report ---------------------------------------------
def _fmt_margin(m: float | None) -> str:
    if m is None or (isinstance(m, float) and not math.isfinite(m)):
        return "—"
    return f"{m:.3g}"


def write_report(out: str | Path, results: Sequence[Any], *, meta: dict[str, Any] | None = None,
                 weights: dict[str, Any] | None = None, with_plots: bool = True,
                 claims: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Write ``report.json``, ``report.md`` and (``with_plots``) the PNG plots into ``out``;
    returns the JSON object written.  ``claims`` (id → :class:`~ditgp.verify.claims.Claim`,
    e.g. the registry) adds each claim's LaTeX and tolerance to report.md."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = [r.to_dict() if hasattr(r, "to_dict") else dict(r) for r in results]
    plot_data = plots(out) if with_plots else {}
    ok = (bool(rows) or weights is not None) and all(
        r["status"] in ("pass", "unavailable", "inconclusive") for r in rows) and (
        weights is None or weights.get("passed", False))
    doc = {
        "format": "ditgp.verify-report/1",
        "passed": ok,
        "meta": meta or {},
        "claims": rows,
        "weights": weights,
        "plots": {k: v for k, v in plot_data.items()},
    }
    atomic_write_text(out / "report.json", json.dumps(doc, indent=2, default=_json_default))

    lines = ["# ditgp verification report", ""]
    if meta:
        lines += [", ".join(f"{k}: `{v}`" for k, v in meta.items()), ""]
    n_inc = sum(r["status"] == "inconclusive" for r in rows)
    lines += [f"**Overall: {'PASS' if ok else 'FAIL'}**"
              + (f" ({n_inc} claim{'s' * (n_inc > 1)} inconclusive: not decidable on these "
                 "inputs, neither passed nor failed)" if n_inc else ""), "",
              "| # | claim | source | examples | worst margin | status |",
              "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['number']} | `{r['id']}` | {r['source']} | {r['examples']} | "
                     f"{_fmt_margin(r['worst_margin'])} | {r['status']} |")
    lines += ["", "A margin is relative to the claim's bound: ≥ 0 holds, 1 is the most room, "
              "0 means the bound is attained (up to rounding).", ""]
    for r in rows:
        c = (claims or {}).get(r["id"])
        lines += [f"## {r['number']}. `{r['id']}` — {r['status']}", "", r["statement"], ""]
        if c is not None:
            lines += [f"$$ {c.latex} $$", "", f"Tolerance: {c.tolerance}.", ""]
        if r.get("message"):
            lines += [f"> {r['message']}", ""]
        if r.get("counterexample"):
            lines += ["Shrunk counterexample:", "", "```json",
                      json.dumps(r["counterexample"], indent=2, default=_json_default), "```", ""]
    if weights is not None:
        lines += ["## Weight bundle", "", f"Bundle: `{weights.get('bundle')}` — "
                  f"{'PASS' if weights.get('passed') else 'FAIL'}", ""]
        for chk in weights.get("checks", []):
            lines.append(f"* `{chk['name']}`: {'ok' if chk['passed'] else 'FAILED'} — "
                         f"{chk['detail']}")
        lines.append("")
    if plot_data:
        lines += ["## Plots", ""]
        for name, d in plot_data.items():
            if isinstance(d, dict) and "error" in d:
                lines += [f"* `{name}`: not drawn ({d['error']})"]
            else:
                lines += [f"![{name}]({name})", "", f"*{CAPTIONS.get(name, name)}*", ""]
    atomic_write_text(out / "report.md", "\n".join(lines) + "\n")
    return doc


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _check_complete(directories: Sequence[str | Path], metas: list[dict[str, Any]],
                    ids: set[str]) -> None:
    """Every shard ``i/n`` of one run, each once, and (when the shards record it) every claim
    of the run's selection: a merge of shard 0/2 alone is refused, not reported as a pass."""
    from ditgp.theory.errors import SpecError

    shards = []
    for d, m in zip(directories, metas, strict=True):
        try:
            i, n = (int(v) for v in str(m.get("shard", "")).split("/"))
        except ValueError:
            raise SpecError("--merge", str(d), "a shard report (written by verify --shard I/N)") from None
        shards.append((i, n))
    ns = {n for _, n in shards}
    if len(ns) != 1:
        raise SpecError("--merge", ", ".join(map(str, directories)),
                        f"shards of one run (same N; got {sorted(ns)})")
    n = ns.pop()
    have = sorted(i for i, _ in shards)
    if have != list(range(n)):
        missing = sorted(set(range(n)) - set(have))
        raise SpecError("--merge", ", ".join(map(str, directories)),
                        f"every shard 0..{n - 1} of {n} exactly once (missing: "
                        f"{', '.join(f'{i}/{n}' for i in missing) or 'none'}; "
                        f"given: {', '.join(f'{i}/{n}' for i in have)})")
    selections = {str(m["selection"]) for m in metas if "selection" in m}
    if len(selections) > 1:
        raise SpecError("--merge", ", ".join(map(str, directories)),
                        "shards of the same claim selection")
    if selections:
        wanted = {c for c in selections.pop().split(",") if c}
        if wanted - ids:
            raise SpecError("--merge", ", ".join(map(str, directories)),
                            f"reports covering every selected claim (missing: "
                            f"{', '.join(sorted(wanted - ids))})")


def merge_reports(directories: Sequence[str | Path]) -> tuple[list[dict[str, Any]], dict[str, Any],
                                                             dict[str, Any] | None]:
    """Read the ``report.json`` of several shards (``ditgp verify --shard i/n``) and return
    ``(claim rows sorted by number, merged meta, weights result)`` for :func:`write_report`.

    Refuses (``SpecError`` naming the folder) a missing or unreadable report, another format,
    and a claim reported by two shards."""
    from ditgp.theory.errors import SpecError

    rows: dict[str, dict[str, Any]] = {}
    metas: list[dict[str, Any]] = []
    weights = None
    for d in directories:
        path = Path(d) / "report.json"
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise SpecError("--merge", str(d), f"a folder with a readable report.json ({exc})") from None
        if not isinstance(doc, dict) or doc.get("format") != "ditgp.verify-report/1":
            raise SpecError("--merge", str(d), "a report.json of format ditgp.verify-report/1")
        for row in doc.get("claims", []):
            if row["id"] in rows:
                raise SpecError("--merge", str(d), f"shards with disjoint claims ({row['id']} twice)")
            rows[row["id"]] = row
        metas.append(doc.get("meta", {}))
        weights = weights or doc.get("weights")
    _check_complete(directories, metas, set(rows))
    meta = {"merged": [str(d) for d in directories],
            "shards": ",".join(str(m.get("shard", "?")) for m in metas),
            "seed": ",".join(sorted({str(m.get("seed", "?")) for m in metas})),
            "seconds": round(sum(float(m.get("seconds", 0.0)) for m in metas), 1)}
    return sorted(rows.values(), key=lambda r: r["number"]), meta, weights
