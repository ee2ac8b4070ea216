"""Weight bundles: a folder with ``weights.safetensors`` and ``manifest.json``.

Format (``docs/weights-format.md`` is the full specification): the manifest holds the
format tag, library version, architecture config, residual-stream channel layout, the
named feed-forward units of every block, the GP spec, construction choices, iteration plan,
resources, measured error and error bound, and the sha256 and tensor table of the weights
file.  Bundles are written atomically (a temporary folder renamed into place) and loaded without
pickle (safetensors + JSON only).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .constructions.architecture import network_score
from .constructions.realise import check_frames
from .jsonable import jsonable

__all__ = ["BUNDLE_FORMAT", "BundleError", "Bundle", "BundleCheck", "CheckItem", "build_manifest",
           "save_bundle", "load_bundle", "validate_bundle", "write_bundle", "check_bundle_target",
           "open_bundle", "BuiltNetwork", "BundleKind", "register_bundle_kind", "served_times",
           "check_served_time", "read_manifest"]

BUNDLE_FORMAT = "ditgp.bundle/1"
WEIGHTS = "weights.safetensors"
MANIFEST = "manifest.json"


class BundleError(Exception):
    """A weight bundle that cannot be used: the message says which file and why."""


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


def build_manifest(con) -> dict[str, Any]:
    """The manifest of a :class:`~ditgp.numerics.constructions.construct.Construction` (without the hash)."""
    import ditgp

    tensors = _all_tensors(con)
    return jsonable({
        "format": BUNDLE_FORMAT,
        "library": {"name": "ditgp", "version": ditgp.__version__},
        "architecture": con.config.to_dict(),
        "layout": con.layout.to_dict(),
        "ffn_units": con.ffn_units,
        "blocks_per_iteration": con.blocks_per_iteration,
        "spec": con.spec.to_dict(),
        "output": "score",
        "time_range": list(served_times(con.choices.to_dict() | {"t": con.t}, con.spec)),
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
    }, nonfinite="string")


def check_bundle_target(target: str | Path) -> None:
    """Refuse, before any work, a bundle folder that cannot receive a bundle: a file, a
    dangling symbolic link, or a non-empty folder that is not a bundle (someone's files)."""
    target = Path(target)
    if target.is_symlink() and not target.exists():
        raise BundleError(f"{target}: a dangling symbolic link where the bundle folder belongs "
                          "(remove it, or point it at a folder)")
    if target.exists() and not target.is_dir():
        raise BundleError(f"{target}: exists and is a file, not a bundle folder; refusing to "
                          "overwrite")
    if target.is_dir() and any(target.iterdir()) and not (target / MANIFEST).exists():
        raise BundleError(f"{target}: exists and is not a ditgp bundle; refusing to overwrite")


def write_bundle(directory: str | Path, tensors: dict[str, torch.Tensor],
                 manifest: dict[str, Any]) -> Path:
    """The one bundle writer (constructions and trained networks).  A new folder appears
    atomically (a temporary sibling, every file fsynced, one rename); in an existing bundle
    folder only the bundle's own two files are replaced — each atomically, weights first, the
    manifest (which names the weights' hash) last — so other files there (notes, a ``verify``
    report) are kept.  Files and folder get the usual permissions (``0666``/``0777`` less
    the umask); the weights file is byte-reproducible.  Temporaries left by a writer that was
    killed are removed first.  ``manifest['weights']['sha256']`` is filled in."""
    from .atomic import atomic_folder, atomic_write_text, sha256_file, write_safetensors

    target = Path(directory).resolve()
    check_bundle_target(target)
    # the manifest last: it names the weights' hash
    with atomic_folder(target, replace_files=(WEIGHTS, MANIFEST)) as tmp:
        write_safetensors(tmp / WEIGHTS, tensors, {"format": BUNDLE_FORMAT})
        manifest["weights"]["sha256"] = sha256_file(tmp / WEIGHTS)
        atomic_write_text(tmp / MANIFEST, json.dumps(jsonable(manifest, nonfinite="string"),
                                                     indent=2, allow_nan=False) + "\n")
    return target


def save_bundle(con, directory: str | Path) -> Path:
    """Write the bundle of a construction into ``directory`` (:func:`write_bundle`)."""
    return write_bundle(directory, _all_tensors(con), build_manifest(con))


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

    @property
    def time_range(self) -> tuple[float, float]:
        """The times the network serves (:func:`served_times`)."""
        return served_times(self.manifest["construction"], self.spec)

    def score(self, X, t: float | None = None):
        """Network output for ``X`` ``(n, d, H)`` (numpy in → numpy out) at a time it serves
        (default: the construction's ``t``); any other time is refused."""
        if t is None:
            t = self.manifest["construction"]["t"]
        self.spec.schedule.check_time(t)
        check_served_time(t, self.time_range, "construction")
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


# -- the one verifier of bundles (constructed and trained) --------------------------------

#: Manifest keys every bundle has (``docs/weights-format.md``).
COMMON_KEYS = ("format", "library", "architecture", "spec", "resources", "weights")
#: ... and those of a construction.
CONSTRUCTED_KEYS = (*COMMON_KEYS, "layout", "ffn_units", "blocks_per_iteration", "construction",
                    "plan", "multiply", "measured", "error_bound")
#: Floating dtypes a bundle may store its network in.
NETWORK_DTYPES = ("float32", "float64")


@dataclass
class BuiltNetwork:
    """What a bundle kind rebuilds from a manifest, before any weight is loaded: the empty
    ``module`` (its state-dict names, shapes and dtypes are what the weights must have), the
    ``spec``, what its forward pass returns (``output``), the times it serves
    (``time_range``, a single time for a fixed-``t`` construction), its ``resources``
    (``D, L, M, params`` of the module), and ``data_names``: tensors of the file that are not
    the module's (checked by ``check_data``)."""

    module: torch.nn.Module
    spec: Any
    output: str
    time_range: tuple[float, float]
    resources: dict[str, int]
    data_names: tuple[str, ...] = ()
    check_data: Any = None  # (wpath, data, spec) -> None


@dataclass(frozen=True)
class BundleKind:
    """A kind of bundle the verifier knows: ``origin`` (the manifest's ``origin``; absent
    means ``constructed``), the manifest ``keys`` the docs promise, whether ``output`` and
    ``time_range`` must be present (older constructions lack both and are read with the
    values their construction implies), and ``build(manifest) -> BuiltNetwork``."""

    origin: str
    keys: tuple[str, ...]
    build: Any
    promises_required: bool = True
    loader: str = "ditgp.load_bundle"


#: Registered kinds by origin; ``ditgp.models`` registers ``trained`` when imported.
BUNDLE_KINDS: dict[str, BundleKind] = {}


def register_bundle_kind(kind: BundleKind) -> BundleKind:
    BUNDLE_KINDS[kind.origin] = kind
    return kind


def served_times(construction: dict[str, Any], spec) -> tuple[float, float]:
    """The times a constructed network serves: ``[t, t]`` for ``fixed`` time conditioning (its
    coefficients are those of one ``t``), ``[t0, T]`` of the spec for ``gated``/``multiply``."""
    sched = spec.schedule
    if construction.get("time_conditioning", "fixed") == "fixed":
        t = float(construction["t"])
        return (t, t)
    return (float(sched.t0), float(sched.T))


def check_served_time(t: Any, time_range: tuple[float, float], what: str = "network",
                      flag: str = "t") -> float:
    """``t`` as a float if the network serves it (``time_range``; a single time for a
    fixed-``t`` construction, to relative ``1e-12``); :class:`SpecError` naming ``flag``
    otherwise — a network is never asked for a time it was not built or trained for."""
    from ditgp.theory.errors import SpecError

    lo, hi = time_range
    try:
        tt = np.asarray(t, dtype=np.float64)
    except (TypeError, ValueError):
        raise SpecError(flag, t, "a time (a number)") from None
    ok = bool(np.all(np.isfinite(tt)))
    if ok and lo == hi:
        ok = bool(np.all(np.abs(tt - lo) <= 1e-12 * max(abs(lo), 1e-300)))
        if not ok:
            raise SpecError(flag, t, f"t={lo:g}, the only time this {what} serves (a fixed-t "
                                     "construction; construct one with --time-conditioning "
                                     "gated to serve every t in [t0, T])")
    ok = ok and bool(np.all((tt >= lo * (1 - 1e-12)) & (tt <= hi * (1 + 1e-12))))
    if not ok:
        raise SpecError(flag, t, f"a time in [{lo:g}, {hi:g}], the range this {what} serves")
    return float(tt) if tt.ndim == 0 else t


def _corrupt(mpath: Path, exc: BaseException | str) -> BundleError:
    why = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    return BundleError(f"{mpath}: corrupt manifest ({why})")


def open_bundle(directory: str | Path, origin: str) -> tuple[dict[str, Any], BuiltNetwork,
                                                             dict[str, torch.Tensor]]:
    """Verify the bundle folder ``directory`` of kind ``origin`` and return ``(manifest,
    built, data)`` with ``built.module`` holding the weights (eval mode, no gradients) and
    ``data`` the extra tensors.  Every promise of ``docs/weights-format.md`` is checked, the
    same way for constructed and trained bundles; the first broken one raises
    :class:`BundleError` naming the file:

    * the folder, ``manifest.json`` (a JSON object, this format, every documented key) and
      ``weights.safetensors``;
    * ``weights.sha256`` — a sha256 (never skipped: ``null`` is refused) equal to the file's;
    * the tensor table — the file's names, and for **each tensor** its shape and dtype;
    * the architecture — names and shapes the module has, and each tensor's dtype the one the
      architecture runs in (``float32``/``float64``; a float16 re-save is refused);
    * ``output`` — what the forward pass returns (``eps`` ↔ ``score`` cannot be swapped);
    * ``time_range`` — the times the network serves;
    * ``resources`` — ``D``, ``L``, ``M`` and ``params`` of the rebuilt module.
    """
    from ditgp.theory.errors import SpecError
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .atomic import sha256_file

    path = Path(directory)
    mpath, wpath = path / MANIFEST, path / WEIGHTS
    manifest = read_manifest(path)
    found = manifest.get("origin", "constructed")
    if found != origin:
        if origin == "constructed":
            raise BundleError(f"{mpath}: a {found} network, not a construction "
                              "(load it with ditgp.models.load_network)")
        raise BundleError(f"{mpath}: not a {origin} bundle (origin {found!r})")
    kind = BUNDLE_KINDS.get(origin)
    if kind is None:  # pragma: no cover - ditgp.models registers "trained" on import
        raise BundleError(f"{mpath}: a {origin} bundle (load it with ditgp.models.load_network)")
    missing = [k for k in kind.keys if k not in manifest]
    if missing:
        raise _corrupt(mpath, f"missing {', '.join(repr(k) for k in missing)}")
    if not wpath.is_file():
        raise BundleError(f"{wpath}: missing weights file")
    weights = manifest["weights"]
    expected = weights.get("sha256") if isinstance(weights, dict) else None
    if not (isinstance(expected, str) and len(expected) == 64
            and all(c in "0123456789abcdef" for c in expected)):
        raise _corrupt(mpath, f"weights.sha256 is {expected!r}, not the sha256 of the weights "
                              "file: the hash is never skipped")
    actual = sha256_file(wpath)
    if actual != expected:
        raise BundleError(f"{wpath}: sha256 mismatch (manifest {expected[:12]}…, "
                          f"file {actual[:12]}…): the weights were modified or truncated")
    try:
        tensors = load_file(str(wpath))
    except (SafetensorError, OSError, ValueError) as exc:
        raise BundleError(f"{wpath}: corrupt weights file ({exc})") from None
    _check_table(mpath, weights.get("tensors"), tensors)
    try:
        built = kind.build(manifest)
    except (KeyError, TypeError, ValueError, AttributeError, SpecError) as exc:
        raise _corrupt(mpath, exc) from None
    data = {name: tensors.pop(name) for name in built.data_names if name in tensors}
    if built.check_data is not None:
        built.check_data(wpath, data, built.spec)
    want = built.module.state_dict()
    if set(tensors) != set(want):
        missing = sorted(set(want) - set(tensors))[:3]
        extra = sorted(set(tensors) - set(want))[:3]
        raise BundleError(f"{wpath}: tensor names do not match the architecture "
                          f"(missing {missing}, unexpected {extra})")
    for name, ref in want.items():
        got = tensors[name]
        if tuple(got.shape) != tuple(ref.shape):
            raise BundleError(f"{wpath}: tensor {name!r} has shape {tuple(got.shape)}, "
                              f"architecture expects {tuple(ref.shape)}")
        if got.dtype != ref.dtype:
            raise BundleError(f"{wpath}: tensor {name!r} has dtype "
                              f"{str(got.dtype).removeprefix('torch.')}, the architecture runs "
                              f"in {str(ref.dtype).removeprefix('torch.')}")
    _check_promises(mpath, manifest, built, required=kind.promises_required)
    built.module.load_state_dict(tensors, strict=True)
    built.module.eval()
    for p in built.module.parameters():
        p.requires_grad_(False)
    return manifest, built, data


def _check_promises(mpath: Path, manifest: dict[str, Any], built: BuiltNetwork,
                    required: bool) -> None:
    """``output``, ``time_range`` and ``resources`` say what the rebuilt network is."""
    if "output" in manifest or required:
        if manifest.get("output") != built.output:
            raise BundleError(f"{mpath}: output {manifest.get('output')!r}, but this network's "
                              f"forward pass returns {built.output!r}")
    if "time_range" in manifest or required:
        tr = manifest.get("time_range")
        ok = (isinstance(tr, list) and len(tr) == 2
              and all(_finite_number(v) is not None for v in tr))
        if not ok or [float(v) for v in tr] != [float(v) for v in built.time_range]:
            raise BundleError(f"{mpath}: time_range {tr!r}, but the network serves "
                              f"{list(built.time_range)}")
    res = manifest.get("resources")
    if not isinstance(res, dict):
        raise _corrupt(mpath, f"resources is {res!r}, not a mapping")
    bad = {k: res.get(k) for k, v in built.resources.items() if res.get(k) != v}
    if bad:
        raise BundleError(f"{mpath}: resources {bad} differ from the network's "
                          + ", ".join(f"{k}={built.resources[k]}" for k in bad))


def _build_constructed(manifest: dict[str, Any]) -> BuiltNetwork:
    from ditgp.theory.spec import GPSpec

    from .constructions.architecture import ArchConfig, Transformer

    config = ArchConfig.from_dict(manifest["architecture"])
    spec = GPSpec.from_dict(manifest["spec"])
    construction = manifest["construction"]
    if not isinstance(construction, dict):
        raise TypeError("construction is not a mapping")
    time_range = served_times(construction, spec)
    spec.schedule.check_time(time_range[0], "construction.t")
    module = Transformer(config)
    resources = {"D": config.width, "L": config.layers, "M": config.heads,
                 "params": sum(p.numel() for p in module.parameters())}
    return BuiltNetwork(module, spec, "score", time_range, resources, SPEC_TENSORS,
                        _check_spec_tensors)


register_bundle_kind(BundleKind("constructed", CONSTRUCTED_KEYS, _build_constructed,
                                promises_required=False))


def load_bundle(directory: str | Path) -> Bundle:
    """Load and verify a construction bundle (:func:`open_bundle`); raises
    :class:`BundleError` naming the problem."""
    manifest, built, data = open_bundle(directory, "constructed")
    return Bundle(Path(directory), manifest, built.module.config, built.module, built.spec,
                  data)


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
