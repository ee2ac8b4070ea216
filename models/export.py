"""Export trained networks as weight bundles, and load any bundle as a score function.

A trained bundle is the same folder format as a construction bundle
(:mod:`ditgp.numerics.bundle`, ``docs/weights-format.md``): ``weights.safetensors`` plus
``manifest.json`` with ``format: "ditgp.bundle/1"`` and the sha256 and tensor table of the
weights file, written atomically (temporary folder, fsync, rename) and loaded without
pickle.  Its manifest says ``origin: "trained"`` and carries

* ``architecture``: the :class:`~ditgp.models.config.ModelConfig` (``arch`` ``dit`` or
  ``theory``); for the theory family also ``theory_architecture`` (the numerics
  :class:`~ditgp.numerics.constructions.architecture.ArchConfig`, with its channel ``layout``);
* ``spec`` (the GP spec trained on), ``time_range`` ``[t0, T]`` the network was trained for;
* ``output``: what the module's forward pass returns (``eps`` for the DiT: the score is
  ``-ε̂/σ_t``; ``score`` for the theory family: the decoder reads the score);
* ``resources`` (``D``, ``L``, ``M``, ``params``), the run's final ``metrics`` (free-form JSON
  from the trainer) and ``measured``: the relative score error against the exact oracle on
  a fixed ``t`` grid and seeded draws, for the network and the independent-frames baseline —
  reproducible, so ``ditgp verify --weights`` can re-measure it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ditgp.numerics.bundle import (
    BUNDLE_FORMAT,
    COMMON_KEYS,
    NETWORK_DTYPES,
    WEIGHTS,
    BuiltNetwork,
    BundleError,
    BundleKind,
    load_bundle,
    open_bundle,
    register_bundle_kind,
    write_bundle,
)
from ditgp.numerics.jsonable import jsonable
from ditgp.numerics.oracle import Oracle
from ditgp.theory.errors import SpecError
from ditgp.theory.spec import GPSpec

from .build import count_parameters
from .config import ModelConfig
from .data import independent_frames_score

__all__ = ["ORIGIN", "MEASURE_SAMPLES", "MEASURE_SEED", "MEASURE_RTOL", "TrainedNetwork",
           "export_bundle", "load_trained", "load_network", "measure_score_error",
           "measure_t_grid", "trained_info", "trained_info_lines",
           "network_time_range"]

ORIGIN = "trained"
#: seeded GP draws per time on which the exported error is measured
MEASURE_SAMPLES = 64
MEASURE_SEED = 20240716
#: relative agreement of a re-measured error with the recorded one (float32 rounding of the
#: network on a different BLAS/thread count; the draws and the oracle are float64 and fixed)
MEASURE_RTOL = 1e-3
#: sequences per forward pass when scoring
SCORE_CHUNK = 256


def measure_t_grid(t0: float, T: float) -> list[float]:
    """Times ``t0``, ``0.01, 0.03, 0.1, 0.3, 1, 3`` (those inside) and ``T``."""
    grid = [t0] + [t for t in (0.01, 0.03, 0.1, 0.3, 1.0, 3.0) if t0 < t < T] + [T]
    return [float(t) for t in grid]


def _module_output(model: torch.nn.Module) -> str:
    from .theory_net import TheoryNet

    return "score" if isinstance(model, TheoryNet) else "eps"


def _tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}


def _score_fn(model: torch.nn.Module, spec: GPSpec, t_range: tuple[float, float]
              ) -> Callable[[np.ndarray, float], np.ndarray]:
    d = spec.d
    lo, hi = t_range

    def score(X, t) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 3 or X.shape[1] != d or X.shape[0] < 1:
            raise SpecError("X", X, f"an array of shape (n, d, H) with d={d}")
        if not np.issubdtype(X.dtype, np.floating) and not np.issubdtype(X.dtype, np.integer):
            raise SpecError("X", str(X.dtype), "a real numeric array")
        tt = np.asarray(t, dtype=np.float64)
        if tt.ndim:
            tt = np.broadcast_to(tt, (X.shape[0],))
        if np.any(~np.isfinite(tt) | (tt < lo) | (tt > hi)):
            raise SpecError("t", t, f"a time in the trained range [{lo:g}, {hi:g}]")
        p = next(model.parameters())
        out = np.empty(X.shape, dtype=np.float64)
        with torch.no_grad():  # on the model's device and dtype, in chunks
            for a in range(0, X.shape[0], SCORE_CHUNK):
                xb = torch.as_tensor(np.asarray(X[a:a + SCORE_CHUNK], dtype=np.float64))
                tb = torch.as_tensor(tt[a:a + SCORE_CHUNK] if tt.ndim else tt,
                                     dtype=torch.float64)
                s = model.score(xb.to(device=p.device, dtype=p.dtype), tb.to(p.device))
                out[a:a + SCORE_CHUNK] = s.double().cpu().numpy()
        return out

    return score


def measure_score_error(score_fn: Callable, spec: GPSpec, t_grid: list[float],
                        n: int = MEASURE_SAMPLES, seed: int = MEASURE_SEED) -> dict[str, Any]:
    """Relative error ``‖ŝ - s‖/‖s‖`` (over all ``n`` draws of ``X_t ~ N(0, A_t)``, float64
    oracle) at each ``t``, for ``score_fn`` and for the independent-frames baseline."""
    oracle = Oracle.for_spec(spec)
    model_err, base_err = [], []
    for i, t in enumerate(t_grid):
        X = oracle.sample(n, seed=seed + i, t=t)  # (n, d, H) forward marginal at t
        s = oracle.score(X, t)
        norm = float(np.linalg.norm(s))
        model_err.append(float(np.linalg.norm(score_fn(X, t) - s)) / norm)
        base_err.append(float(np.linalg.norm(independent_frames_score(spec, X, t) - s)) / norm)
    return {"t": list(t_grid), "rel_error": model_err, "baseline_rel_error": base_err,
            "n": int(n), "seed": int(seed)}


def export_bundle(model: torch.nn.Module, cfg: ModelConfig, spec: GPSpec, out_dir,
                  *, metrics: dict, t0: float, measure: bool = True) -> Path:
    """Write ``model`` as a bundle into ``out_dir`` (:func:`ditgp.numerics.bundle.write_bundle`:
    an earlier bundle there is replaced atomically, other files in its folder are kept; a
    folder that is not a bundle is refused).  ``t0`` is the smallest time the
    network was trained for (``time_range = [t0, T]``); ``metrics`` any JSON-able dict.
    The relative score error on :func:`measure_t_grid` is measured and recorded (``measure=
    False``: ``measured`` is ``null`` — a network trained on data that is not a GP of
    ``spec``, whose oracle is then not the data's score)."""
    from .theory_net import TheoryNet

    if not isinstance(cfg, ModelConfig):
        raise SpecError("cfg", cfg, "a ModelConfig")
    mcfg = getattr(model, "config", None)
    if not isinstance(mcfg, ModelConfig) or mcfg.arch != cfg.arch:
        raise SpecError("cfg", cfg.arch, f"the model's own arch {getattr(mcfg, 'arch', None)!r}")
    t0 = float(spec.schedule.check_time(t0, "t0"))
    try:
        json.dumps(jsonable(metrics, nonfinite="string"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise SpecError("metrics", metrics, f"a JSON-able dict ({exc})") from None
    T = spec.schedule.T
    import ditgp

    tensors = _tensors(model)
    model_was_training = model.training
    model.eval()
    try:
        measured = (measure_score_error(_score_fn(model, spec, (t0, T)), spec,
                                        measure_t_grid(t0, T)) if measure else None)
    finally:
        model.train(model_was_training)
    theory = isinstance(model, TheoryNet)
    manifest: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "origin": ORIGIN,
        "library": {"name": "ditgp", "version": ditgp.__version__},
        "architecture": mcfg.to_dict(),
        "theory_architecture": (model.arch.to_dict() | {"dtype": str(
            next(model.parameters()).dtype).removeprefix("torch.")}) if theory else None,
        "layout": model.arch.layout.to_dict() if theory else None,
        "init_from": getattr(model, "init_from", None),
        "spec": spec.to_dict(),
        "time_range": [t0, T],
        "output": _module_output(model),
        "resources": {"D": mcfg.width if not theory else model.arch.width,
                      "L": mcfg.depth if not theory else model.arch.layers,
                      "M": mcfg.heads if not theory else model.arch.heads,
                      "params": count_parameters(model, trainable_only=False)},
        "metrics": metrics,
        "measured": measured,
        "weights": {
            "file": WEIGHTS,
            "sha256": None,
            "dtype": str(next(v.dtype for v in tensors.values() if v.is_floating_point())
                         ).removeprefix("torch."),
            "tensors": {k: {"shape": list(v.shape),
                            "dtype": str(v.dtype).removeprefix("torch.")}
                        for k, v in tensors.items()},
        },
    }
    return write_bundle(out_dir, tensors, manifest)


# -- loading -------------------------------------------------------------------------------


@dataclass
class TrainedNetwork:
    """A loaded trained bundle: ``model`` (eval mode, the stored dtype), ``config``, ``spec``,
    ``manifest``, ``score`` (``X (n, d, H)`` numpy, ``t`` in ``time_range`` → float64 score)."""

    path: Path
    manifest: dict[str, Any]
    config: ModelConfig
    spec: GPSpec
    model: torch.nn.Module
    score: Callable[[np.ndarray, float], np.ndarray]


def _read_manifest(path: Path) -> dict[str, Any]:
    from ditgp.numerics.bundle import read_manifest

    return read_manifest(path)


def is_trained_bundle(directory) -> bool:
    """Whether ``directory`` holds a readable manifest saying ``origin: "trained"``."""
    try:
        return _read_manifest(Path(directory)).get("origin") == ORIGIN
    except BundleError:
        return False


#: Manifest keys of a trained bundle (``docs/weights-format.md``, "Trained networks").
TRAINED_KEYS = (*COMMON_KEYS, "origin", "theory_architecture", "layout", "init_from",
                "time_range", "output", "metrics", "measured")


def _build_trained(manifest: dict[str, Any]) -> BuiltNetwork:
    """The trained kind of the one bundle verifier (:func:`ditgp.numerics.bundle.open_bundle`):
    the module of the manifest's architecture in the stored dtype, what it returns, the
    times it was trained for (inside the spec's ``[t0, T]``) and its resources."""
    from .dit import DiT
    from .theory_net import TheoryNet

    cfg = ModelConfig.from_dict(manifest["architecture"])
    spec = GPSpec.from_dict(manifest["spec"])
    dtype = manifest["weights"]["dtype"]
    if dtype not in NETWORK_DTYPES:
        raise ValueError(f"weights.dtype {dtype!r} is not one of {', '.join(NETWORK_DTYPES)}")
    tr = manifest["time_range"]
    if not (isinstance(tr, list) and len(tr) == 2):
        raise ValueError(f"time_range {tr!r} is not [t0, T]")
    t0, T = (float(spec.schedule.check_time(v, "time_range")) for v in tr)
    if not t0 < T:
        raise ValueError(f"time_range {tr!r} is not an interval t0 < T")
    if cfg.arch == "theory":
        from ditgp.numerics.constructions.architecture import ArchConfig

        model: torch.nn.Module = TheoryNet(ArchConfig.from_dict(manifest["theory_architecture"]),
                                           cfg)
        dims = (model.arch.width, model.arch.layers, model.arch.heads)
    else:
        model = DiT(cfg, spec)
        dims = (cfg.width, cfg.depth, cfg.heads)
    model = model.to(getattr(torch, dtype))
    resources = {"D": dims[0], "L": dims[1], "M": dims[2],
                 "params": count_parameters(model, trainable_only=False)}
    return BuiltNetwork(model, spec, _module_output(model), (t0, T), resources)


register_bundle_kind(BundleKind(ORIGIN, TRAINED_KEYS, _build_trained,
                                loader="ditgp.models.load_network"))


def load_trained(directory, device: str | torch.device = "cpu") -> TrainedNetwork:
    """Load a trained bundle onto ``device``, verified by the one bundle verifier
    (:func:`ditgp.numerics.bundle.open_bundle`: files, sha256, tensor table, each tensor's
    name, shape and dtype, ``output``, ``time_range``, ``resources``); raises
    :class:`~ditgp.numerics.BundleError` naming the problem."""
    path = Path(directory)
    manifest, built, _ = open_bundle(path, ORIGIN)
    model = built.module.to(device).eval()
    cfg = ModelConfig.from_dict(manifest["architecture"])
    return TrainedNetwork(path, manifest, cfg, built.spec, model,
                          _score_fn(model, built.spec, built.time_range))


def network_time_range(manifest: dict[str, Any]) -> tuple[float, float]:
    """The times the network of a (verified) bundle manifest serves: a trained network its
    ``time_range``; a construction its ``t`` (fixed) or ``[t0, T]`` (gated, multiply)."""
    if manifest.get("origin") == ORIGIN:
        t0, T = manifest["time_range"]
        return float(t0), float(T)
    from ditgp.numerics.bundle import served_times

    return served_times(manifest["construction"], GPSpec.from_dict(manifest["spec"]))


def load_network(bundle_dir, device: str | torch.device = "cpu"
                 ) -> tuple[Callable[[np.ndarray, float], np.ndarray], dict]:
    """``(score_fn, manifest)`` for any bundle — trained (this module, run on ``device``) or
    constructed (:func:`ditgp.numerics.load_bundle`, CPU).  ``score_fn(X, t)``: ``X``
    ``(n, d, H)`` numpy, ``t`` a time the network serves → the network's score estimate,
    float64 ``(n, d, H)``."""
    if is_trained_bundle(bundle_dir):
        net = load_trained(bundle_dir, device)
        return net.score, net.manifest
    b = load_bundle(bundle_dir)

    def score(X, t):
        X = np.asarray(X, dtype=np.float64)
        return b.score(X, float(t))

    return score, b.manifest


# -- inspect / verify support ----------------------------------------------------------------


def trained_info(directory) -> dict[str, Any]:
    """Summary of a trained bundle for ``ditgp inspect`` (``--check`` adds the checks of
    :func:`ditgp.verify.bundle_check.verify_trained`)."""
    net = load_trained(directory)
    m = net.manifest
    info = {
        "bundle": str(net.path), "format": m["format"], "origin": ORIGIN,
        "library_version": m.get("library", {}).get("version"),
        "spec": net.spec.describe(), "architecture": m["architecture"],
        "time_range": m["time_range"], "output": m.get("output"),
        "layers": m["resources"]["L"], "heads": m["resources"]["M"],
        "width": m["resources"]["D"], "params": m["resources"]["params"],
        "measured": m.get("measured"), "metrics": m.get("metrics"),
        "init_from": m.get("init_from"),
        "sha256": m["weights"]["sha256"], "valid": True,
    }
    return info


def trained_info_lines(info: dict[str, Any]) -> list[str]:
    a = info["architecture"]
    meas = info.get("measured") or {}
    lines = [
        f"bundle     {info['bundle']} ({info['format']}, ditgp {info['library_version']}) "
        f"— {'valid' if info['valid'] else 'INVALID'}, trained network",
        f"spec       {info['spec']}",
        f"network    {a['arch']}: {a['attention']} attention, {a['pos_emb']} positions, "
        f"mlp_ratio {a['mlp_ratio']:g}; output {info['output']}; "
        f"t in [{info['time_range'][0]:g}, {info['time_range'][1]:g}]",
        f"resources  D={info['width']} L={info['layers']} M={info['heads']} "
        f"params={info['params']}",
    ]
    if meas:
        pairs = ", ".join(f"t={t:g}: {e:.3g} (baseline {b:.3g})" for t, e, b in
                          zip(meas["t"], meas["rel_error"], meas["baseline_rel_error"],
                              strict=True))
        lines.append(f"error      relative score error vs exact: {pairs}")
    if info.get("rechecked_rel_error"):
        lines.append("recheck    " + ", ".join(f"{e:.3g}" for e in info["rechecked_rel_error"]))
    for c in info.get("checks", []):
        lines.append(f"check      {c['name']}: {'ok' if c['passed'] else 'FAILED'} ({c['detail']})")
    if info.get("init_from"):
        lines.append(f"init from  {info['init_from']}")
    return lines
