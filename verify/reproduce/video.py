"""``ditgp reproduce video``: a DiT trained on a moving-ball video whose trajectory is a GP.

Data (:mod:`ditgp.models.video`): a ball whose centre follows two independent GPs over frames
with the squared-exponential kernel ``γ(m) = exp(-m²/(2ℓ²))`` (scaled so the ball stays
inside the frame while ``|g| ≤ 3``, clipped beyond), rendered as anti-aliased discs, values
standardised; one frame (``d = size²`` pixels) is one token.  There is no exact score, so
the experiment measures what can be measured:

* **Attention vs gap** — the trained network's mean attention weight per frame gap
  (:func:`ditgp.models.probes.gap_profile`, mean over heads and layers, and per layer) on
  held-out noised sequences at a few diffusion times, against (a) the trajectory kernel
  ``γ`` and (b) the **pixel** temporal correlation measured on the data — which is not ``γ``:
  a pixel correlates over time through the overlap of the two frames' discs, a non-linear
  function of the trajectory covariance (narrower than ``γ`` when the ball moves more than
  its radius).  Spearman rank correlation with a permutation p-value
  (:func:`ditgp.verify.probes.profile_vs_kernel`) on all gaps and on gaps ``≥ 1`` (the part
  that the self-attention peak at gap 0 cannot explain), and the ``R²`` of the best affine
  fit ``a + b·ref`` to each reference (which shape explains the profile better).
* **Controls** — the same network trained on balls whose centres are independent across
  frames (``Γ = I``, same per-frame marginal): if the decay came from the positional
  embedding alone, the control would show it too; and the untrained network (same seed):
  what random weights and the sinusoidal positions give.
* **Generated video** — the reverse SDE driven by the trained network (score ``-ε̂/σ_t``,
  ``N(0, I)`` prior at ``T``): a strip of generated frames next to real ones (PNG, and an
  animated GIF when matplotlib's Pillow writer is available), and checks of the samples
  against real sequences of the same number: pixel mean and variance of the intensities, the
  ball's mass per frame (1 = one clean ball), the detected centres' gap correlation against
  ``γ``, and the mean step of the centre between frames.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
from ditgp.theory.errors import require

from ..probes import profile_vs_kernel
from ..report import atomic_write_bytes
from .base import Cell, Context, Experiment, md_table, pyplot, register, save_png, train_cell

__all__ = ["VideoExperiment", "ALPHA", "temporal_correlation", "affine_r2", "decay_contrast",
           "gap_stats",
           "sample_checks", "ONE_BALL_MASS_TOL", "DATA_SEED_OFFSET", "HELDOUT_SEED_OFFSET"]

#: significance level of the plain-language reading (one-sided permutation p-values)
ALPHA = 0.05
#: a control whose decay contrast is below this fraction of the ball network's is "flat"
#: (a significant rank correlation of a profile that is flat to this precision is a wiggle)
NEGLIGIBLE_CONTRAST = 0.1
#: generated motion counts as coherent when the detected centres' gap-1 correlation is at
#: least this fraction of the real sequences' (independent frames give ≈ 0)
COHERENT_FRACTION = 0.5
#: a frame counts as "one ball" when its mass is within this fraction of a clean disc's
#: (a second ball doubles it, a missing or half-faded ball halves it)
ONE_BALL_MASS_TOL = 0.25
#: the training set of seed ``s`` is drawn with seed ``s + DATA_SEED_OFFSET``; held-out
#: sequences (probes, real references) with ``s + HELDOUT_SEED_OFFSET``: never the same draws
DATA_SEED_OFFSET = 1000
HELDOUT_SEED_OFFSET = 2000
#: seed of the noise added to the probe sequences
PROBE_NOISE_SEED = 7
#: real and generated sequences shown in the frame strip and the GIF
N_SHOW = 3
#: frames shown per sequence in the strip (evenly spaced)
STRIP_FRAMES = 12

#: cost model (seconds): per training step ``STEP_S0 + STEP_S1 · batch·H·(12·depth·width² +
#: 2·d·width)·1e-9`` on one core of the 2-core machine, fitted on the cpu preset (module
#: docstring of base.py); per sampler step and sequence ``SAMPLE_S1`` times the same size
#: factor; a fixed ``CELL_S`` for imports, data and probes.  GPU: ``GPU_STEPS_PER_S`` steps/s
#: (the assumption the gpu preset is sized on, paper-sized DiT at batch 64 on one H100), plus
#: four checkpoints of ``16·params`` bytes (model, EMA, two Adam moments) written and hashed at
#: ``GPU_CKPT_BYTES_PER_S`` and ``GPU_CELL_S`` for data, CPU probes and export (assumed).  The
#: data stream's cost per batch (given data: only the noise is drawn) is added by
#: :func:`.cost.stream_seconds` (CPU measured; GPU assumed, not measured).
STEP_S0, STEP_S1, SAMPLE_S1, CELL_S = 0.012, 0.3, 0.05, 15.0
GPU_STEPS_PER_S, GPU_CKPT_BYTES_PER_S, GPU_CELL_S = 25.0, 0.5e9, 60.0


# -- statistics ---------------------------------------------------------------------------
def temporal_correlation(x) -> np.ndarray:
    """Correlation over time of each channel of ``x`` ``(n, c, H)``, pooled: each channel is
    centred by its own mean over sequences and frames, then ``ρ(m) = mean(x̃_h x̃_{h+m}) /
    mean(x̃²)`` over all sequences, channels and frame pairs at gap ``m`` (float64, ``(H,)``,
    ``ρ(0) = 1``).  Pixels (``c = d``) give the pixel temporal correlation, centres
    (``c = 2``) the trajectory correlation."""
    from ..compare import lag_autocorrelation

    a = np.asarray(x, dtype=np.float64)
    require(a.ndim == 3 and a.shape[2] >= 2, "x", a.shape, "shape (n, channels, H ≥ 2)")
    a = a - a.mean(axis=(0, 2), keepdims=True)
    if not np.any(a):
        return np.zeros(a.shape[2])
    return lag_autocorrelation(a)


def affine_r2(profile, ref) -> float:
    """``R²`` of the least-squares fit ``profile ≈ a + b·ref`` (0 if ``ref`` is constant)."""
    p = np.asarray(profile, dtype=np.float64)
    r = np.asarray(ref, dtype=np.float64)
    require(p.shape == r.shape and p.ndim == 1 and p.size >= 3, "profile", p.shape,
            f"a 1-D profile of ref's length {r.shape} (≥ 3)")
    ss = float(np.sum((p - p.mean()) ** 2))
    if ss == 0 or np.ptp(r) == 0:
        return 0.0
    A = np.stack([np.ones_like(r), r], axis=1)
    coef, *_ = np.linalg.lstsq(A, p, rcond=None)
    return float(1.0 - np.sum((p - A @ coef) ** 2) / ss)


def decay_contrast(profile, gamma) -> float:
    """Size of the decay: the slope ``b`` of the least-squares fit ``profile ≈ a + b·γ`` on
    gaps ``≥ 1``, times ``H`` — the attention weight per unit of kernel correlation in units of
    the uniform weight ``1/H`` (0 for a flat profile; rank statistics cannot see the size: a
    nearly flat profile with a tiny monotone wiggle has a large Spearman ρ)."""
    p = np.asarray(profile, dtype=np.float64)
    g = np.asarray(gamma, dtype=np.float64)
    require(p.shape == g.shape and p.ndim == 1 and p.size >= 3, "profile", p.shape,
            f"a 1-D profile of gamma's length {g.shape} (≥ 3)")
    if np.ptp(g[1:]) == 0:
        return 0.0
    A = np.stack([np.ones(p.size - 1), g[1:]], axis=1)
    coef, *_ = np.linalg.lstsq(A, p[1:], rcond=None)
    return float(coef[1] * p.size)


def gap_stats(profile, refs: dict[str, np.ndarray], seed: int = 0) -> dict[str, Any]:
    """Per reference: :func:`profile_vs_kernel` on all gaps and on gaps ≥ 1, and
    :func:`affine_r2` on gaps ≥ 1."""
    p = np.asarray(profile, dtype=np.float64)
    out: dict[str, Any] = {}
    for name, ref in refs.items():
        ref = np.asarray(ref, dtype=np.float64)
        out[name] = {"all": profile_vs_kernel(p, ref, seed=seed),
                     "gaps1": profile_vs_kernel(p[1:], ref[1:], seed=seed),
                     "r2_gaps1": affine_r2(p[1:], ref[1:])}
    return out


def _mean_se(v: np.ndarray) -> tuple[float, float]:
    v = np.asarray(v, dtype=np.float64).ravel()
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else 0.0


def sample_checks(ball, gen: np.ndarray, real: np.ndarray) -> dict[str, Any]:
    """Generated ``gen`` vs real ``real`` sequences ``(n, d, H)`` (module docstring): per
    statistic the mean and its standard error over sequences, and for the detected centres
    the gap correlation and its RMS distance to ``γ`` over gaps ``1..H-1``."""
    from ditgp.models.video import detect_centres, to_intensity

    gam = ball.gamma(np.arange(ball.H))
    out: dict[str, Any] = {"gamma": gam.tolist()}
    for name, x in (("generated", gen), ("real", real)):
        v = to_intensity(ball, x)
        c, mass = detect_centres(ball, x)
        corr = temporal_correlation(c)
        step = np.linalg.norm(np.diff(c, axis=2), axis=1)  # (n, H-1) pixels per frame
        out[name] = {
            "pixel_mean": _mean_se(v.mean(axis=(1, 2))),
            "pixel_var": _mean_se(v.var(axis=(1, 2))),
            "mass": _mean_se(mass.mean(axis=1)),
            "one_ball_frac": float(np.mean(np.abs(mass - 1.0) <= ONE_BALL_MASS_TOL)),
            "centre_step": _mean_se(step.mean(axis=1)),
            "centre_corr": corr.tolist(),
            "centre_corr_rms": float(np.sqrt(np.mean((corr[1:] - gam[1:]) ** 2))),
            "n": int(x.shape[0]),
        }
    return out


# -- the experiment ------------------------------------------------------------------------
_PRESETS: dict[str, dict[str, Any]] = {
    # One frame is one token of d = size² pixels, so the DiT width is ≥ d in every preset: the
    # network has no skip from input to output, and ε̂ = W_out·h is rank ≤ width; with width
    # < d it cannot even pass the noise through (measured: 10×10 frames, width 32 plateaus at
    # ε-loss 0.71; width 128 reaches 0.035 in the same 300 steps).
    # seconds: what the tests run
    "toy": dict(frames=6, size=8, radius=1.5, ell=2.0, n_train=96, width=64, depth=2, heads=2,
                steps=24, batch=8, lr=2e-3, warmup=4, ema=0.9, probe_ts=[0.1, 0.5, 2.0],
                headline_t=0.5, n_probe=16, n_corr=96, n_samples=6, sample_steps=8,
                control=True),
    # 2 cores, --jobs 2: one seed = one ball cell + one control cell in parallel
    "cpu": dict(frames=12, size=10, radius=1.5, ell=2.0, n_train=2048, width=128, depth=2,
                heads=4, steps=1500, batch=32, lr=1e-3, warmup=100, ema=0.995,
                probe_ts=[0.1, 0.5, 2.0], headline_t=0.5, n_probe=64, n_corr=1024,
                n_samples=48, sample_steps=100, control=True),
    # the GP-VAE benchmark's sizes (30 frames of 32×32, radius 3) and the paper's 12 layers,
    # 16 heads and batch 64, at width 1152 (DiT-XL's) ≥ d = 1024 instead of 256 (293 M
    # parameters); two cells × 2500 steps at the assumed GPU_STEPS_PER_S = 25 steps/s on one
    # H100 = 3.3 min of training, plus 4 checkpoints of 4.7 GB per cell, data, CPU probes and
    # 64 samples × 250 sampler steps: ≈ 7.5 min by the cost model, ≤ 9 min.  Not measured on a
    # GPU (none was used); change with --set steps=...
    "gpu": dict(frames=30, size=32, radius=3.0, ell=4.0, n_train=8192, width=1152, depth=12,
                heads=16, steps=2500, batch=64, lr=1e-4, warmup=500, ema=0.999,
                probe_ts=[0.1, 0.5, 2.0], headline_t=0.5, n_probe=128, n_corr=2048,
                n_samples=64, sample_steps=250, control=True),
}


def _ball(p: dict[str, Any], control: bool):
    from ditgp.models.video import MovingBall

    return MovingBall(frames=p["frames"], size=p["size"], radius=p["radius"],
                      ell=0.0 if control else p["ell"])


def _se_ball(p: dict[str, Any]):
    return _ball(p, control=False)


class VideoExperiment(Experiment):
    name = "video"
    title = "Moving-ball video: attention follows the trajectory's kernel"
    claim = ("On a semi-synthetic video — a ball whose 2-D trajectory is a Gaussian process in "
             "time — a diffusion transformer trained on the frames captures the temporal "
             "dependence: its attention decays with the frame gap like the trajectory's "
             "kernel, and it generates videos of a moving ball.")
    default_seeds = {"toy": 1, "cpu": 1, "gpu": 1}

    def params(self, preset: str) -> dict[str, Any]:
        return dict(_PRESETS[preset])

    def cells(self, params: dict[str, Any], seeds) -> list[Cell]:
        require(params["headline_t"] in params["probe_ts"], "--set headline_t",
                params["headline_t"], f"one of probe_ts {params['probe_ts']}")
        _se_ball(params)  # validate the video numbers before any work
        roles = ["ball", "control"] if params["control"] else ["ball"]
        return [Cell(f"{role}-s{s}", {**params, "role": role, "seed": int(s)})
                for s in seeds for role in roles]

    # -- one cell ------------------------------------------------------------------------
    def run_cell(self, cell: Cell, ctx: Context) -> dict[str, Any]:
        import torch
        from ditgp.models import build_model
        from ditgp.models.config import ModelConfig
        from ditgp.models.data import noised
        from ditgp.models.export import load_trained
        from ditgp.models.probes import attention_maps, gap_profile
        from ditgp.models.video import make_video

        p = cell.params
        seed, control = p["seed"], p["role"] == "control"
        ball = _ball(p, control)
        spec = ball.pseudo_spec()
        train_set = make_video(ball, p["n_train"], seed=seed + DATA_SEED_OFFSET)
        cfg = ModelConfig("dit", width=p["width"], depth=p["depth"], heads=p["heads"])
        res = train_cell(ctx, cell, spec, cfg, steps=p["steps"], batch=p["batch"], lr=p["lr"],
                         seed=seed, warmup=p["warmup"], ema=p["ema"],
                         data=torch.from_numpy(train_set.x))
        net = load_trained(res.bundle)  # CPU copy for the probes
        torch.manual_seed(seed)
        untrained = build_model(cfg, spec).double().eval()

        # references: the trajectory kernel of the ball data (also for the control: does
        # the control's profile decay like it?), the pixel and centre correlations of the
        # cell's own training data
        gaps = np.arange(ball.H)
        n_corr = min(p["n_corr"], p["n_train"])
        refs = {"gamma": _se_ball(p).gamma(gaps),
                "pixel_corr": temporal_correlation(train_set.x[:n_corr]),
                "centre_corr": temporal_correlation(train_set.centres[:n_corr])}

        held = make_video(ball, p["n_probe"], seed=seed + HELDOUT_SEED_OFFSET, dtype=np.float64)
        rng = np.random.default_rng([seed, PROBE_NOISE_SEED])
        z = rng.standard_normal(held.x.shape)
        profiles, stats = {}, {}
        for t in p["probe_ts"]:
            xt = noised(torch.from_numpy(held.x), torch.full((p["n_probe"],), float(t)),
                        torch.from_numpy(z)).numpy()
            prof = gap_profile(attention_maps(net, xt, t))  # (L, M, H)
            mean = prof.mean(axis=(0, 1))
            profiles[str(t)] = {"mean": mean.tolist(), "per_layer": prof.mean(axis=1).tolist()}
            stats[str(t)] = gap_stats(mean, refs, seed=seed)
            if t == p["headline_t"]:
                uprof = gap_profile(attention_maps(untrained, xt, t)).mean(axis=(0, 1))
        out: dict[str, Any] = {
            "role": p["role"], "seed": seed, "clipped": train_set.clipped,
            "refs": {k: v.tolist() for k, v in refs.items()},
            "profiles": profiles, "stats": stats,
            "untrained": {"mean": uprof.tolist(), "stats": gap_stats(uprof, refs, seed=seed)},
            "train": {k: res.final.get(k) for k in ("steps", "loss", "train_seconds", "params")},
        }
        if not control:
            out["samples"] = self._samples(ctx, cell, ball, spec, res.bundle, held.x, p)
        return out

    def _samples(self, ctx, cell, ball, spec, bundle, real, p) -> dict[str, Any]:
        from ditgp.models.export import load_trained
        from ditgp.models.sampling import sample

        net = load_trained(bundle, device=ctx.device)
        gen = sample(net.score, spec, p["n_samples"], sampler="sde", steps=p["sample_steps"],
                     grid="log", seed=p["seed"], prior="standard", batch=256)
        buf = io.BytesIO()
        np.save(buf, gen.astype(np.float32), allow_pickle=False)
        atomic_write_bytes(ctx.run_dir(cell) / "samples.npy", buf.getvalue())
        return {"file": f"runs/{cell.id}/samples.npy",
                **sample_checks(ball, gen, real[: p["n_samples"]])}

    # -- summary -------------------------------------------------------------------------
    def summarise(self, results, cells, ctx) -> dict[str, Any]:
        p = ctx.params
        t = str(p["headline_t"])
        by_role: dict[str, list[dict[str, Any]]] = {}
        for c in cells:
            by_role.setdefault(results[c.id]["role"], []).append(results[c.id])
        ball_runs = by_role["ball"]
        figures = [self._fig_profile(ctx, by_role, t), self._fig_layers(ctx, ball_runs, p)]
        first = ball_runs[0]
        if "samples" in first:
            figures += self._fig_samples(ctx, first, p)

        def agg(runs, path) -> tuple[float, float, list[float]]:
            vals = []
            for r in runs:
                v: Any = r
                for key in path:
                    v = v[key]
                vals.append(float(v))
            a = np.asarray(vals)
            return float(a.mean()), (float(a.std(ddof=1)) if a.size > 1 else 0.0), vals

        rows, numbers = [], {"headline_t": p["headline_t"], "roles": {}}
        rowdefs = [(role, label) for role, label in
                   (("ball", "ball (SE trajectory)"), ("control", "control (Γ = I)"))
                   if role in by_role]
        for role, label in rowdefs:
            runs = by_role[role]
            entry = {}
            for refname in ("gamma", "pixel_corr"):
                for part in ("all", "gaps1"):
                    rho = agg(runs, ("stats", t, refname, part, "spearman"))
                    pv = agg(runs, ("stats", t, refname, part, "p_value"))
                    entry[f"{refname}_{part}"] = {"spearman_mean": rho[0], "spearman_sd": rho[1],
                                                  "spearman": rho[2], "p_value": pv[2]}
                entry[f"{refname}_r2_gaps1"] = agg(runs, ("stats", t, refname, "r2_gaps1"))[2]
            entry["untrained_gamma_gaps1"] = {
                "spearman": agg(runs, ("untrained", "stats", "gamma", "gaps1", "spearman"))[2],
                "p_value": agg(runs, ("untrained", "stats", "gamma", "gaps1", "p_value"))[2]}
            entry["final_loss"] = agg(runs, ("train", "loss"))[2]
            entry["contrast"] = [decay_contrast(r["profiles"][t]["mean"], r["refs"]["gamma"])
                                 for r in runs]
            entry["untrained_contrast"] = [decay_contrast(r["untrained"]["mean"],
                                                          r["refs"]["gamma"]) for r in runs]
            numbers["roles"][role] = entry
            rows.append([label, len(runs), _pm(entry["gamma_all"]), _pvals(entry["gamma_all"]),
                         _pm(entry["gamma_gaps1"]), _pvals(entry["gamma_gaps1"]),
                         _pm(entry["pixel_corr_gaps1"]), _pvals(entry["pixel_corr_gaps1"]),
                         _mean_list(entry["gamma_r2_gaps1"]), _mean_list(entry["pixel_corr_r2_gaps1"]),
                         _mean_list(entry["contrast"])])
            u = entry["untrained_gamma_gaps1"]
            rows.append([f"{label}, untrained net", len(runs), "", "",
                         _pm({"spearman": u["spearman"]}), _pvals(u), "", "", "", "",
                         _mean_list(entry["untrained_contrast"])])
        table = md_table(["network", "seeds", "ρ vs γ (all gaps)", "p", "ρ vs γ (gaps ≥ 1)", "p",
                          "ρ vs pixel corr (gaps ≥ 1)", "p", "R² γ (≥ 1)", "R² pixel (≥ 1)",
                          "contrast"], rows)
        md = [self._setup_md(p, first), "", f"**Attention vs gap at t = {t}** (mean over heads "
              "and layers; Spearman ρ with one-sided permutation p-values, 999 permutations; "
              "R² of the best affine fit on gaps ≥ 1; contrast = H × its slope on γ, the "
              "attention per unit of kernel correlation in units of the uniform 1/H):", "", table,
              "", self._reading(numbers), ""]
        md += [f"![attention vs gap]({figures[0]})", "", f"![per layer]({figures[1]})", ""]
        if "samples" in first:
            s = first["samples"]
            numbers["samples"] = {k: s[k] for k in ("generated", "real")}
            srows = []
            for key, label in (("pixel_mean", "pixel mean (intensity)"),
                               ("pixel_var", "pixel variance"),
                               ("mass", "ball mass per frame (1 = one clean ball)"),
                               ("centre_step", "centre step per frame (pixels)")):
                srows.append([label, _ms(s["generated"][key]), _ms(s["real"][key])])
            srows.append([f"frames with one ball (mass within ±{ONE_BALL_MASS_TOL:.0%})",
                          s["generated"]["one_ball_frac"], s["real"]["one_ball_frac"]])
            srows.append(["centre correlation at gap 1 (γ(1) = "
                          f"{s['gamma'][1]:.3g})", s["generated"]["centre_corr"][1],
                          s["real"]["centre_corr"][1]])
            srows.append(["RMS(centre corr − γ), gaps ≥ 1", s["generated"]["centre_corr_rms"],
                          s["real"]["centre_corr_rms"]])
            md += [f"**Generated vs real** (seed {first['seed']}, {s['generated']['n']} sequences "
                   f"each; mean ± standard error over sequences; the real RMS is the sampling "
                   "noise of the same number of sequences):", "",
                   md_table(["statistic", "generated", "real (held out)"], srows), "",
                   _sample_reading(s), "",
                   f"![frames]({figures[2]})", "", f"![samples]({figures[3]})", ""]
            if len(figures) > 4:
                md += [f"![animation]({figures[4]})", ""]
            else:
                md += ["*(No GIF: matplotlib's Pillow writer is not available.)*", ""]
        return {"numbers": numbers, "markdown": "\n".join(md), "figures": figures}

    def _setup_md(self, p, first) -> str:
        note = ("" if p["width"] >= p["size"] ** 2 else
                f" **Width {p['width']} < d = {p['size'] ** 2}: the frame embedding is a rank-"
                f"{p['width']} bottleneck (ε̂ cannot pass the noise through); expect a high loss "
                "plateau.**")
        head = note.strip() + ("\n\n" if note else "")
        return head + (f"Set-up: {p['frames']} frames of {p['size']}×{p['size']} pixels (d = "
                f"{p['size'] ** 2}, one frame = one token), radius {p['radius']:g}, trajectory "
                f"kernel squared-exponential ℓ = {p['ell']:g} frames (centre sd = (size−1)/2 − "
                f"radius over 3, clipped; clipped fraction {first['clipped']:.2%}), "
                f"standardised values; DiT width {p['width']}, {p['depth']} layers, "
                f"{p['heads']} heads, {p['steps']} steps of batch {p['batch']} on {p['n_train']} "
                f"training sequences; probes on {p['n_probe']} held-out sequences noised at "
                f"t ∈ {p['probe_ts']}; {p['n_samples']} samples with the reverse SDE "
                f"({p['sample_steps']} log-spaced steps, N(0, I) prior). Final training "
                f"ε-loss per element {first['train']['loss']:.3g} (no Bayes floor is known "
                "for this data).")

    def _reading(self, numbers) -> str:
        ball = numbers["roles"]["ball"]["gamma_gaps1"]
        sig = all(pv <= ALPHA for pv in ball["p_value"]) and ball["spearman_mean"] > 0
        text = ["**Reading.** " + (
            f"Beyond gap 0, the trained network's attention decays with the gap like the "
            f"trajectory kernel (ρ = {ball['spearman_mean']:.2f}, p ≤ {max(ball['p_value']):.3g} "
            f"in every seed; α = {ALPHA})." if sig else
            f"Beyond gap 0, the trained network's attention does not decay significantly with "
            f"the gap (ρ = {ball['spearman_mean']:.2f}, p = "
            f"{', '.join(f'{v:.3g}' for v in ball['p_value'])}; α = {ALPHA}): the effect is too "
            "small to see at this size.")]
        ctl = numbers["roles"].get("control")
        if ctl is not None:
            c = ctl["gamma_gaps1"]
            csig = all(pv <= ALPHA for pv in c["p_value"]) and c["spearman_mean"] > 0
            pv = ", ".join(f"{v:.3g}" for v in c["p_value"])
            cb = float(np.mean(numbers["roles"]["ball"]["contrast"]))
            cc = float(np.mean(ctl["contrast"]))
            if csig and abs(cc) < NEGLIGIBLE_CONTRAST * abs(cb):
                text.append(f"The control trained on independent frames has a significant rank "
                            f"correlation too (ρ = {c['spearman_mean']:.2f}, p = {pv}), but its "
                            f"profile is flat: its contrast is {cc:.3g} against the ball "
                            f"network's {cb:.3g} (< {NEGLIGIBLE_CONTRAST:.0%}) — a tiny monotone "
                            "wiggle around 1/H, not a decay: the decay comes from the data, not "
                            "from the positional embedding.")
            elif csig:
                text.append(f"The control trained on independent frames decays too (ρ = "
                            f"{c['spearman_mean']:.2f}, p = {pv}; contrast {cc:.3g} against the "
                            f"ball network's {cb:.3g}): part of the pattern comes from the "
                            "positional embedding, not from the data's kernel.")
            else:
                text.append(f"The control trained on independent frames shows no significant "
                            f"decay (ρ = {c['spearman_mean']:.2f}, p = {pv})"
                            + (": the decay comes from the data, not from the positional "
                               "embedding." if sig else "."))
        r2g = float(np.mean(numbers["roles"]["ball"]["gamma_r2_gaps1"]))
        r2p = float(np.mean(numbers["roles"]["ball"]["pixel_corr_r2_gaps1"]))
        text.append(f"Rank correlation cannot tell two decreasing curves apart; the affine fits "
                    f"can: the profile's shape is explained with R² = {r2g:.2f} by γ and "
                    f"{r2p:.2f} by the pixel correlation (the nearer the data's own pixel "
                    "statistics, the larger the second).")
        return " ".join(text)

    # -- figures ---------------------------------------------------------------------------
    def _fig_profile(self, ctx, by_role, t) -> str:
        plt = pyplot()
        ball = by_role["ball"][0]
        H = len(ball["refs"]["gamma"])
        gaps = np.arange(H)
        fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
        ax = axes[0]
        for role, style in (("ball", "-o"), ("control", "-s")):
            for i, r in enumerate(by_role.get(role, [])):
                ax.plot(gaps, r["profiles"][t]["mean"], style, ms=3, color="C0" if role == "ball"
                        else "C3", alpha=1 if i == 0 else 0.4,
                        label=f"{role} network" if i == 0 else None)
        ax.plot(gaps, ball["untrained"]["mean"], ":", color="gray", label="untrained network")
        ax.axhline(1 / H, color="k", lw=0.6, ls="--", label="uniform 1/H")
        ax.set(xlabel="frame gap", ylabel="mean attention weight", title=f"attention vs gap, t = {t}")
        ax.legend(fontsize=8)
        ax = axes[1]
        prof = np.asarray(ball["profiles"][t]["mean"])
        for name, style, label in (("gamma", "-k", "trajectory kernel γ"),
                                   ("centre_corr", "--k", "centre correlation (data)"),
                                   ("pixel_corr", "-", "pixel correlation (data)")):
            ax.plot(gaps, ball["refs"][name], style, label=label)
        for name, color in (("gamma", "C0"), ("pixel_corr", "C1")):
            ref = np.asarray(ball["refs"][name])
            A = np.stack([np.ones(H - 1), prof[1:]], axis=1)
            coef, *_ = np.linalg.lstsq(A, ref[1:], rcond=None)
            ax.plot(gaps[1:], A @ coef, "o", ms=4, color=color,
                    label=f"ball profile, affine fit to {'γ' if name == 'gamma' else 'pixel corr'}")
        ax.set(xlabel="frame gap", ylabel="correlation", title="references (gaps ≥ 1 fitted)")
        ax.legend(fontsize=7)
        ax = axes[2]
        for k, tt in enumerate(ball["profiles"]):
            ax.plot(gaps, ball["profiles"][tt]["mean"], "-o", ms=3, color=f"C{k}", label=f"t = {tt}")
        ax.set(xlabel="frame gap", ylabel="mean attention weight", yscale="log",
               title="ball network at each probe time")
        ax.legend(fontsize=8)
        for a in axes:
            a.grid(alpha=0.3)
        return save_png(fig, ctx.root / "video_profile.png")

    def _fig_layers(self, ctx, ball_runs, p) -> str:
        plt = pyplot()
        t = str(p["headline_t"])
        r = ball_runs[0]
        per = np.asarray(r["profiles"][t]["per_layer"])
        fig, ax = plt.subplots(figsize=(6, 4))
        for layer, row in enumerate(per):
            ax.plot(np.arange(per.shape[1]), row, "-o", ms=3, label=f"layer {layer + 1}")
        ax.set(xlabel="frame gap", ylabel="mean attention weight (over heads)", yscale="log",
               title=f"ball network per layer, t = {t}, seed {r['seed']}")
        ax.legend(fontsize=7, ncol=2)
        ax.grid(alpha=0.3)
        return save_png(fig, ctx.root / "video_layers.png")

    def _fig_samples(self, ctx, run, p) -> list[str]:
        from ditgp.models.video import make_video, to_intensity

        plt = pyplot()
        ball = _ball(p, control=False)
        gen = np.load(ctx.root / run["samples"]["file"], allow_pickle=False)[:N_SHOW]
        real = make_video(ball, N_SHOW, seed=run["seed"] + HELDOUT_SEED_OFFSET).x
        frames = np.unique(np.linspace(0, ball.H - 1, min(STRIP_FRAMES, ball.H)).round().astype(int))

        def img(x, h):
            return np.clip(to_intensity(ball, x[:, h]), 0, 1).reshape(ball.size, ball.size)

        seqs = [("real", x) for x in real] + [("generated", x) for x in gen]
        fig, axes = plt.subplots(len(seqs), len(frames), figsize=(1.1 * len(frames), 1.15 * len(seqs)),
                                 squeeze=False)
        for i, (label, x) in enumerate(seqs):
            for j, h in enumerate(frames):
                ax = axes[i, j]
                ax.imshow(img(x, h), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
                if i == 0:
                    ax.set_title(f"frame {h}", fontsize=7)
                if j == 0:
                    ax.set_ylabel(label, fontsize=7)
        strip = save_png(fig, ctx.root / "video_frames.png", dpi=90)

        s = run["samples"]
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
        ax = axes[0]
        gaps = np.arange(ball.H)
        ax.plot(gaps, s["gamma"], "-k", label="trajectory kernel γ")
        ax.plot(gaps, s["real"]["centre_corr"], "-o", ms=3, label=f"real (n = {s['real']['n']})")
        ax.plot(gaps, s["generated"]["centre_corr"], "-s", ms=3,
                label=f"generated (n = {s['generated']['n']})")
        ax.set(xlabel="frame gap", ylabel="correlation of detected centres",
               title="trajectory correlation of samples")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        ax = axes[1]
        rows = [(k, s["generated"][k][0], s["real"][k][0], s["generated"][k][1], s["real"][k][1])
                for k in ("pixel_mean", "pixel_var", "mass", "centre_step")]
        xs = np.arange(len(rows))
        gv = np.array([r[1] / r[2] if r[2] else 0 for r in rows])
        ge = np.array([r[3] / r[2] if r[2] else 0 for r in rows])
        ax.bar(xs, gv, yerr=2 * ge, color="C1", alpha=0.8, label="generated / real (±2 SE)")
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_xticks(xs, ["pixel mean", "pixel var", "ball mass", "centre step"])
        ax.set(ylabel="ratio generated / real", title="sample statistics")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3, axis="y")
        out = [strip, save_png(fig, ctx.root / "video_samples.png")]
        gif = _gif(ctx.root / "video.gif", ball, real, gen, img)
        return out + ([gif] if gif else [])

    # -- cost model --------------------------------------------------------------------------
    def estimate_seconds(self, params, cells, device) -> float:
        from .cost import stream_seconds

        p = params
        stream = stream_seconds(p["batch"], p["size"] ** 2, p["frames"], device, gp_draws=False)
        size = p["batch"] * p["frames"] * (12 * p["depth"] * p["width"] ** 2
                                           + 2 * p["size"] ** 2 * p["width"]) * 1e-9
        total = 0.0
        for c in cells:
            samples = c.params["role"] == "ball"
            if device.startswith("cuda"):
                params = p["depth"] * 18 * p["width"] ** 2 + 2 * p["size"] ** 2 * p["width"]
                total += (p["steps"] * (1 / GPU_STEPS_PER_S + stream) + GPU_CELL_S
                          + 4 * 16 * params / GPU_CKPT_BYTES_PER_S
                          + (p["sample_steps"] / GPU_STEPS_PER_S if samples else 0.0))
            else:
                total += CELL_S + p["steps"] * (STEP_S0 + STEP_S1 * size + stream)
                if samples:
                    total += SAMPLE_S1 * p["sample_steps"] * size * p["n_samples"] / p["batch"]
        return total


def _sample_reading(s: dict[str, Any]) -> str:
    g, r = s["generated"], s["real"]
    coherent = g["centre_corr"][1] >= COHERENT_FRACTION * r["centre_corr"][1]
    return (f"**Reading.** {g['one_ball_frac']:.1%} of the generated frames hold one ball (real: "
            f"{r['one_ball_frac']:.1%}); the motion "
            + ("is coherent: " if coherent else "is **not** coherent at this size: ")
            + f"the detected centres correlate {g['centre_corr'][1]:.2f} between neighbouring "
            f"frames (real {r['centre_corr'][1]:.2f}, γ(1) = {s['gamma'][1]:.2f}) and move "
            f"{g['centre_step'][0]:.2f} pixels per frame (real {r['centre_step'][0]:.2f}).")


def _pm(e: dict[str, Any]) -> str:
    v = np.asarray(e["spearman"], dtype=float)
    return f"{v.mean():.2f}" if v.size == 1 else f"{v.mean():.2f} ± {v.std(ddof=1):.2f}"


def _pvals(e: dict[str, Any]) -> str:
    return ", ".join(f"{v:.3g}" for v in e["p_value"])


def _mean_list(v) -> float:
    return float(np.mean(v))


def _ms(pair) -> str:
    return f"{pair[0]:.4g} ± {pair[1]:.2g}"


def _gif(path: Path, ball, real, gen, img) -> str | None:
    """An animated GIF of the real (top) and generated (bottom) sequences, or ``None`` when
    matplotlib's Pillow writer is not available."""
    from matplotlib import animation

    if not animation.PillowWriter.isAvailable():
        return None
    plt = pyplot()
    n = max(len(real), len(gen))
    fig, axes = plt.subplots(2, n, figsize=(1.2 * n, 2.6), squeeze=False)
    ims = []
    for row, (label, seqs) in enumerate((("real", real), ("generated", gen))):
        for j in range(n):
            ax = axes[row, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(label, fontsize=8)
            ims.append(ax.imshow(img(seqs[j], 0), cmap="gray", vmin=0, vmax=1,
                                 interpolation="nearest") if j < len(seqs) else None)
    title = fig.suptitle("frame 0", fontsize=8)

    def update(h):
        k = 0
        for seqs in (real, gen):
            for j in range(n):
                if ims[k] is not None:
                    ims[k].set_data(img(seqs[j], h))
                k += 1
        title.set_text(f"frame {h}")
        return [i for i in ims if i is not None]

    anim = animation.FuncAnimation(fig, update, frames=ball.H, blit=False)
    tmp = path.with_name(f".tmp-{path.name}")
    try:
        anim.save(str(tmp), writer=animation.PillowWriter(fps=6), dpi=70)
        atomic_write_bytes(path, tmp.read_bytes())
    finally:
        tmp.unlink(missing_ok=True)
        plt.close(fig)
    return path.name


register(VideoExperiment())
