"""Weight bundles: a folder with ``weights.safetensors`` and ``manifest.json``.

Format (``docs/weights-format.md`` is the full specification): the manifest holds the
format tag, library version, architecture config, residual-stream channel layout, the
named feed-forward units of every block, the GP spec, construction choices, iteration plan,
resources, measured error and error bound, and the sha256 and tensor table of the weights
file.  Bundles are written atomically (temporary folder + ``os.replace``) and loaded without
pickle (safetensors + JSON only).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

import numpy as np
import torch

from .architecture import network_score
from .realise import check_frames

__all__ = ["BUNDLE_FORMAT", "BundleError", "Bundle", "BundleCheck", "CheckItem", "build_manifest",
           "save_bundle", "load_bundle", "validate_bundle"]

BUNDLE_FORMAT = "ditgp.bundle/1"
WEIGHTS = "weights.safetensors"
MANIFEST = "manifest.json"


class BundleError(Exception):
    """A weight bundle that cannot be used: the message says which file and why."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


#: Data tensors stored beside the network's own: ``Σ`` ``(d, d)`` and ``γ(0..H-1)`` ``(H,)``
#: (float64), so that a reader needs no generator for ``random:κ:seed`` covariances.
SPEC_TENSORS = ("spec.Sigma", "spec.gamma")
#: Relative agreement required between the stored ``Σ``, ``γ`` and the ones rebuilt from the
#: manifest's spec (float64 rounding of a kernel evaluation on another machine).
SPEC_TENSOR_RTOL = 1e-12


def _tensors(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}


def _spec_tensors(spec) -> dict[str, torch.Tensor]:
    return {"spec.Sigma": torch.tensor(np.array(spec.Sigma), dtype=torch.float64),
            "spec.gamma": torch.tensor(np.array(spec.Gamma[:, 0]), dtype=torch.float64)}


def _all_tensors(con) -> dict[str, torch.Tensor]:
    return {**_tensors(con.module), **_spec_tensors(con.spec)}


def _jsonable(o: Any) -> Any:
    """Plain JSON values: mappings (string keys), lists, numpy arrays and scalars converted,
    non-finite floats as ``null`` (NaN) or ``"inf"``/``"-inf"`` — also inside arrays — and
    paths as strings."""
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_jsonable(v) for v in o]
    if isinstance(o, np.ndarray):
        return _jsonable(o.tolist())
    if isinstance(o, np.generic):
        return _jsonable(o.item())
    if isinstance(o, float) and not np.isfinite(o):
        return None if np.isnan(o) else ("inf" if o > 0 else "-inf")
    if isinstance(o, PurePath):
        return str(o)
    return o


def build_manifest(con) -> dict[str, Any]:
    """The manifest of a :class:`~ditgp.numerics.construct.Construction` (without the hash)."""
    import ditgp

    tensors = _all_tensors(con)
    return _jsonable({
        "format": BUNDLE_FORMAT,
        "library": {"name": "ditgp", "version": ditgp.__version__},
        "architecture": con.config.to_dict(),
        "layout": con.layout.to_dict(),
        "ffn_units": con.ffn_units,
        "blocks_per_iteration": con.blocks_per_iteration,
        "spec": con.spec.to_dict(),
        "construction": con.choices.to_dict(),
        "plan": con.plan.to_dict(),
        "multiply": con.multiply.to_dict() if con.multiply else None,
        "resources": con.resources,
        "measured": con.measured,
        "error_bound": con.error_bound,
        "weights": {
            "file": WEIGHTS,
            "sha256": None,
            "tensors": {k: {"shape": list(v.shape), "dtype": str(v.dtype).removeprefix("torch.")}
                        for k, v in tensors.items()},
        },
    })


def save_bundle(con, directory: str | Path) -> Path:
    """Write the bundle into ``directory``: a new folder appears atomically (temporary folder +
    ``os.replace``); in an existing bundle folder only the bundle's own files are replaced
    (each atomically, weights first), so other files there (notes, reports) are kept.  Folder
    and files get the usual permissions (``0777``/``0666`` less the umask)."""
    from safetensors.torch import save_file

    target = Path(directory).resolve()
    if target.exists() and (not target.is_dir() or
                            (any(target.iterdir()) and not (target / MANIFEST).exists())):
        raise BundleError(f"{target}: exists and is not a ditgp bundle; refusing to overwrite")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o777 & ~mask)  # mkdtemp makes 0700 whatever the umask
        save_file(_all_tensors(con), str(tmp / WEIGHTS), metadata={"format": BUNDLE_FORMAT})
        manifest = build_manifest(con)
        manifest["weights"]["sha256"] = _sha256(tmp / WEIGHTS)
        with open(tmp / MANIFEST, "w") as f:
            json.dump(manifest, f, indent=2, sort_keys=False, allow_nan=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        for name in (WEIGHTS, MANIFEST):  # safetensors writes 0600 whatever the umask
            os.chmod(tmp / name, 0o666 & ~mask)
        if not target.exists():
            os.replace(tmp, target)
            return target
        for name in (WEIGHTS, MANIFEST):  # the manifest last: it names the weights' hash
            os.replace(tmp / name, target / name)
        shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


@dataclass
class Bundle:
    """A loaded, validated bundle: ``manifest``, ``config``, ``module`` (eval mode), ``spec``."""

    path: Path
    manifest: dict[str, Any]
    config: Any
    module: torch.nn.Module
    spec: Any
    data: dict[str, torch.Tensor] = field(default_factory=dict)  # spec.Sigma, spec.gamma

    @property
    def layout(self):
        return self.config.layout

    def score(self, X, t: float | None = None):
        """Network output for ``X`` ``(n, d, H)`` (numpy in → numpy out)."""
        if t is None:
            t = self.manifest["construction"]["t"]
        self.spec.schedule.check_time(t)
        check_frames(self.config, X)
        return network_score(self.module, X, t)


def _check_table(mpath: Path, table: Any, tensors: dict[str, torch.Tensor]) -> None:
    """The manifest's tensor table must describe the weights file exactly: the same names
    (no extra, none missing), and each entry's ``shape`` and ``dtype`` those of the file."""
    if not isinstance(table, dict):
        raise BundleError(f"{mpath}: corrupt manifest (weights.tensors is not a mapping)")
    missing = sorted(set(tensors) - set(table))[:3]
    extra = sorted(set(table) - set(tensors))[:3]
    if missing or extra:
        raise BundleError(f"{mpath}: tensor table does not match the weights file "
                          f"(missing {missing}, unexpected {extra})")
    for name, got in tensors.items():
        entry = table[name]
        dtype = str(got.dtype).removeprefix("torch.")
        if (not isinstance(entry, dict) or entry.get("shape") != list(got.shape)
                or entry.get("dtype") != dtype):
            raise BundleError(f"{mpath}: tensor table entry {name!r} is {entry!r}, the weights "
                              f"file holds shape {list(got.shape)} dtype {dtype}")


def _check_spec_tensors(wpath: Path, data: dict[str, torch.Tensor], spec) -> None:
    """``spec.Sigma`` and ``spec.gamma`` (written since they were introduced; a bundle
    without them is still read) must be the manifest spec's ``Σ`` and ``γ``."""
    if not data:
        return
    if set(data) != set(SPEC_TENSORS):
        raise BundleError(f"{wpath}: has {sorted(data)} but not all of {list(SPEC_TENSORS)}")
    ref = {k: v.numpy() for k, v in _spec_tensors(spec).items()}
    for name, got in data.items():
        g = got.detach().cpu().numpy()
        if g.shape != ref[name].shape or got.dtype != torch.float64:
            raise BundleError(f"{wpath}: tensor {name!r} has shape {g.shape} dtype {got.dtype}, "
                              f"the spec implies {ref[name].shape} float64")
        scale = max(float(np.max(np.abs(ref[name]))), 1.0)
        if not np.all(np.isfinite(g)) or np.max(np.abs(g - ref[name])) > SPEC_TENSOR_RTOL * scale:
            raise BundleError(f"{wpath}: tensor {name!r} differs from the manifest spec's "
                              f"({spec.describe()}): the weights belong to another spec")


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest of the bundle folder ``path``, checked to be a JSON object of this
    library's bundle format (constructed and trained bundles alike); :class:`BundleError`
    otherwise."""
    path = Path(path)
    mpath = path / MANIFEST
    if not path.is_dir():
        raise BundleError(f"{path}: not a bundle folder (missing)")
    if not mpath.is_file():
        raise BundleError(f"{mpath}: missing manifest")
    try:
        manifest = json.loads(mpath.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{mpath}: corrupt manifest ({exc})") from None
    if not isinstance(manifest, dict):
        raise BundleError(f"{mpath}: corrupt manifest (not a JSON object)")
    if manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{mpath}: incompatible bundle format {manifest.get('format')!r} "
                          f"(this ditgp reads {BUNDLE_FORMAT!r})")
    return manifest


def load_bundle(directory: str | Path) -> Bundle:
    """Load and validate a bundle; raises :class:`BundleError` naming the problem."""
    from ditgp.theory.errors import SpecError
    from ditgp.theory.spec import GPSpec
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .architecture import ArchConfig, Transformer

    path = Path(directory)
    mpath, wpath = path / MANIFEST, path / WEIGHTS
    manifest = read_manifest(path)
    if manifest.get("origin", "constructed") != "constructed":
        raise BundleError(f"{mpath}: a {manifest.get('origin')} network, not a construction "
                          "(load it with ditgp.models.load_network)")
    if not wpath.is_file():
        raise BundleError(f"{wpath}: missing weights file")
    try:
        expected = manifest["weights"]["sha256"]
        table = manifest["weights"]["tensors"]
        config = ArchConfig.from_dict(manifest["architecture"])
        spec = GPSpec.from_dict(manifest["spec"])
    except (KeyError, TypeError, ValueError, SpecError) as exc:
        raise BundleError(f"{mpath}: corrupt manifest ({type(exc).__name__}: {exc})") from None
    actual = _sha256(wpath)
    if actual != expected:
        raise BundleError(f"{wpath}: sha256 mismatch (manifest {str(expected)[:12]}…, "
                          f"file {actual[:12]}…): "
                          "the weights were modified or truncated")
    try:
        tensors = load_file(str(wpath))
    except (SafetensorError, OSError, ValueError) as exc:
        raise BundleError(f"{wpath}: corrupt weights file ({exc})") from None
    module = Transformer(config)
    want = module.state_dict()
    data = {name: tensors.pop(name) for name in SPEC_TENSORS if name in tensors}
    _check_spec_tensors(wpath, data, spec)
    if set(tensors) != set(want):
        missing = sorted(set(want) - set(tensors))[:3]
        extra = sorted(set(tensors) - set(want))[:3]
        raise BundleError(f"{wpath}: tensor names do not match the architecture "
                          f"(missing {missing}, unexpected {extra})")
    _check_table(mpath, table, {**tensors, **data})
    for name, ref in want.items():
        got = tensors[name]
        if tuple(got.shape) != tuple(ref.shape):
            raise BundleError(f"{wpath}: tensor {name!r} has shape {tuple(got.shape)}, "
                              f"architecture expects {tuple(ref.shape)}")
        if got.dtype != ref.dtype:
            raise BundleError(f"{wpath}: tensor {name!r} has dtype {got.dtype}, "
                              f"expected {ref.dtype}")
    module.load_state_dict(tensors, strict=True)
    module.eval()
    return Bundle(path, manifest, config, module, spec, data)


# -- validation (``ditgp inspect --check``) ------------------------------------------------

#: Fresh draws per checked time in :func:`validate_bundle`.
CHECK_SAMPLES = 8
#: Seed of those draws (fixed: a check is reproducible).
CHECK_SEED = 12345


@dataclass(frozen=True)
class CheckItem:
    """One named check of :func:`validate_bundle`: ``passed`` and what was measured."""

    name: str
    passed: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True)
class BundleCheck:
    """Result of :func:`validate_bundle`: ``ok`` only if every item passed."""

    items: tuple[CheckItem, ...]
    rechecked_rel_error: float | None
    error_bound: float | None

    @property
    def ok(self) -> bool:
        return bool(self.items) and all(i.passed for i in self.items)

    @property
    def failures(self) -> list[CheckItem]:
        return [i for i in self.items if not i.passed]

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "rechecked_rel_error": self.rechecked_rel_error,
                "error_bound": self.error_bound, "checks": [i.to_dict() for i in self.items]}


def _finite_number(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, int | float):
        return None
    x = float(x)
    return x if np.isfinite(x) else None


def validate_bundle(bundle: Bundle | str | Path, samples: int = CHECK_SAMPLES,
                    seed: int = CHECK_SEED) -> BundleCheck:
    """Check that a (loaded) bundle does what its manifest says; ``ok`` only if all hold:

    * ``weights-finite`` — every floating tensor is finite;
    * ``layout`` — the manifest's ``layout`` is the architecture's (width and channels);
    * ``error-bound`` — ``error_bound`` is a finite number ≥ the float64 floor
      ``16·κ_t·u`` of the spec (:func:`ditgp.numerics.tolerances.eps_floor`; ``κ_t`` over
      ``[t0, T]`` for all-t constructions);
    * ``measured`` — the stored ``measured.rel_error`` is finite and within the bound;
    * ``recheck`` — on ``samples`` fresh draws ``X_t ~ N(0, A_t)`` of the **manifest's**
      spec (at ``t``, and also at ``t0`` and ``T`` for all-t constructions) the relative
      error against the exact oracle is finite and ≤ ``error_bound + 16·κ_t·u``.  Weights
      built for another spec (e.g. ``ell=4`` weights under a manifest saying ``ell=1``) fail.

    The numbers are computed here, never read back from the manifest.
    """
    from .oracle import Oracle
    from .tolerances import eps_floor

    b = bundle if isinstance(bundle, Bundle) else load_bundle(bundle)
    m, spec = b.manifest, b.spec
    items: list[CheckItem] = []

    bad = [n for n, v in b.module.state_dict().items()
           if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    items.append(CheckItem("weights-finite", not bad,
                           "all finite" if not bad else f"non-finite values in {bad[:3]}"
                           + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")))

    want = b.config.layout.to_dict()
    same = m.get("layout") == want
    items.append(CheckItem("layout", same, f"width {want['width']}" if same else
                           f"manifest layout {m.get('layout')!r} ≠ architecture's {want!r}"))

    construction = m.get("construction") if isinstance(m.get("construction"), dict) else {}
    all_t = construction.get("coefficients") == "all-t"
    t = _finite_number(construction.get("t"))
    sched = spec.schedule
    times = [t] if t is not None else []
    if all_t:
        times = sorted({*times, sched.t0, sched.T})
    oracle = Oracle.for_spec(spec)
    ends = [oracle.a_extremes(tt) for tt in (times or [sched.t0])]
    lo, hi = min(e[0] for e in ends), max(e[1] for e in ends)
    floor = eps_floor(hi / lo) if lo > 0 else float("inf")

    bound = _finite_number(m.get("error_bound"))
    ok_bound = bound is not None and bound >= floor
    items.append(CheckItem("error-bound", ok_bound,
                           f"{bound:.3g} ≥ float64 floor {floor:.3g}" if ok_bound else
                           f"error_bound {m.get('error_bound')!r} is not a finite number ≥ the "
                           f"float64 floor 16·κ_t·u = {floor:.3g}"))

    measured = m.get("measured") if isinstance(m.get("measured"), dict) else {}
    rel = _finite_number(measured.get("rel_error"))
    if measured:
        ok_meas = rel is not None and bound is not None and rel <= bound
        items.append(CheckItem("measured", ok_meas,
                               f"stored rel_error {measured.get('rel_error')!r} vs bound "
                               f"{m.get('error_bound')!r}"))

    worst = None
    if not times:
        items.append(CheckItem("recheck", False, f"construction.t {construction.get('t')!r} "
                               "is not a finite time"))
    else:
        multiply = m.get("multiply") if isinstance(m.get("multiply"), dict) else None
        worst = 0.0
        for tt in times:
            X = oracle.sample(samples, seed=seed, t=tt)
            if multiply:  # the multiplication bound holds on x_norm_min ≤ ‖x‖ ≤ R_x
                norms = np.linalg.norm(X, axis=(1, 2))
                X = X[(norms >= multiply["x_norm_min"]) & (norms <= multiply["R_x"])]
            s = oracle.score(X, tt)
            with np.errstate(all="ignore"):
                out = b.score(X, tt)
                err = np.linalg.norm(out - s, axis=(1, 2)) / np.linalg.norm(s, axis=(1, 2))
            e = float(np.max(err)) if err.size else float("nan")
            worst = e if not np.isfinite(e) else max(worst, e)
        allowed = (bound if bound is not None else float("nan")) + floor
        ok_re = worst is not None and np.isfinite(worst) and worst <= allowed
        items.append(CheckItem("recheck", bool(ok_re),
                               f"max relative error {worst:.3g} over {samples} draws at "
                               f"t ∈ {[round(x, 6) for x in times]} vs allowed {allowed:.3g} "
                               "(error_bound + 16·κ_t·u)"))
    return BundleCheck(tuple(items), worst, bound)
