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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .architecture import network_score

__all__ = ["BUNDLE_FORMAT", "BundleError", "Bundle", "build_manifest", "save_bundle", "load_bundle"]

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


def _tensors(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}


def _jsonable(o: Any) -> Any:
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_jsonable(v) for v in o]
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, float) and not np.isfinite(o):
        return None if np.isnan(o) else ("inf" if o > 0 else "-inf")
    return o


def build_manifest(con) -> dict[str, Any]:
    """The manifest of a :class:`~ditgp.numerics.construct.Construction` (without the hash)."""
    import ditgp

    tensors = _tensors(con.module)
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
        save_file(_tensors(con.module), str(tmp / WEIGHTS), metadata={"format": BUNDLE_FORMAT})
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

    @property
    def layout(self):
        return self.config.layout

    def score(self, X, t: float | None = None):
        """Network output for ``X`` ``(n, d, H)`` (numpy in → numpy out)."""
        if t is None:
            t = self.manifest["construction"]["t"]
        self.spec.schedule.check_time(t)
        return network_score(self.module, X, t)


def load_bundle(directory: str | Path) -> Bundle:
    """Load and validate a bundle; raises :class:`BundleError` naming the problem."""
    from ditgp.theory.errors import SpecError
    from ditgp.theory.spec import GPSpec
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .architecture import ArchConfig, Transformer

    path = Path(directory)
    if not path.is_dir():
        raise BundleError(f"{path}: not a bundle folder (missing)")
    mpath, wpath = path / MANIFEST, path / WEIGHTS
    if not mpath.is_file():
        raise BundleError(f"{mpath}: missing manifest")
    try:
        manifest = json.loads(mpath.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{mpath}: corrupt manifest ({exc})") from None
    if not isinstance(manifest, dict):
        raise BundleError(f"{mpath}: corrupt manifest (not a JSON object)")
    fmt = manifest.get("format")
    if fmt != BUNDLE_FORMAT:
        raise BundleError(f"{mpath}: incompatible bundle format {fmt!r} "
                          f"(this ditgp reads {BUNDLE_FORMAT!r})")
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
    if set(tensors) != set(want) or set(table) != set(want):
        missing = sorted(set(want) - set(tensors))[:3]
        extra = sorted(set(tensors) - set(want))[:3]
        raise BundleError(f"{wpath}: tensor names do not match the architecture "
                          f"(missing {missing}, unexpected {extra})")
    for name, ref in want.items():
        got = tensors[name]
        if tuple(got.shape) != tuple(ref.shape) or list(got.shape) != table[name]["shape"]:
            raise BundleError(f"{wpath}: tensor {name!r} has shape {tuple(got.shape)}, "
                              f"architecture expects {tuple(ref.shape)}")
        if got.dtype != ref.dtype:
            raise BundleError(f"{wpath}: tensor {name!r} has dtype {got.dtype}, "
                              f"expected {ref.dtype}")
    module.load_state_dict(tensors, strict=True)
    module.eval()
    return Bundle(path, manifest, config, module, spec)
