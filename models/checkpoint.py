"""Training checkpoints: one folder per checkpoint, safetensors + JSON, written atomically.

Layout of ``RUN/checkpoints/step-00001000/``::

    model.safetensors       the float32 master weights
    ema.safetensors         the EMA weights (what evaluation and export use)
    optimizer.safetensors   every tensor of the optimizer state (AdamW moments and step counts)
    rng.safetensors         the torch CPU (and CUDA) generator states, as uint8 tensors
    state.json              format, step, the run's config and spec, data cursor, optimizer
                            hyper-parameters (param_groups), metric accumulators, and the
                            sha256 of every tensor file above — written last

A checkpoint is written into a temporary sibling folder (``.tmp-step-…``), every file and the
folder are fsynced, and only then is the folder renamed to ``step-…`` (and the parent
fsynced).  A folder is *complete* when its ``state.json`` parses, names this format and every
listed file has the recorded sha256; :func:`latest_checkpoint` returns the newest complete one
and reports the others it had to skip.  No pickle anywhere: tensors go through safetensors,
everything else through JSON.

Test hook (used by the kill -9, lock and worker tests): with
``DITGP_CHECKPOINT_PAUSE=STEP:FLAGFILE[:RELEASEFILE]`` in the environment, writing the
checkpoint of step ``STEP`` (``any``: the first checkpoint this process writes) stops half-way
(after the model file, before the rest), creates ``FLAGFILE`` (holding the pid) and sleeps
until the process is killed — or, with ``RELEASEFILE``, until that file exists, and then
carries on.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from ditgp.numerics.atomic import (
    atomic_folder,
    atomic_write_text,
    fsync_dir,
    sha256_file,
    write_safetensors,
)
from ditgp.numerics.jsonable import jsonable
from ditgp.theory.errors import SpecError

__all__ = [
    "CHECKPOINT_FORMAT", "CheckpointError", "Checkpoint", "write_checkpoint", "read_checkpoint",
    "latest_checkpoint", "list_checkpoints", "optimizer_tensors", "load_optimizer_tensors",
    "rng_tensors", "set_rng_tensors", "fsync_dir", "atomic_write_text", "remove_temporaries",
]

CHECKPOINT_FORMAT = "ditgp.checkpoint/1"
STATE = "state.json"
GROUPS = ("model", "ema", "optimizer", "rng")
_NAME = re.compile(r"^step-(\d{8,})$")
PAUSE_ENV = "DITGP_CHECKPOINT_PAUSE"


class CheckpointError(SpecError):
    """A checkpoint (or a run folder) that cannot be resumed; prints as one line at the CLI."""


@dataclass
class Checkpoint:
    """A loaded, verified checkpoint: ``tensors[group][name]`` and the JSON ``state``."""

    path: Path
    step: int
    state: dict[str, Any]
    tensors: dict[str, dict[str, torch.Tensor]] = field(repr=False)


def step_name(step: int) -> str:
    return f"step-{step:08d}"


# -- optimizer and RNG state as flat tensors + JSON -----------------------------------------
def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """Split ``optimizer.state_dict()`` into safetensors-ready tensors and JSON metadata.

    Tensors are named ``state.{param_index}.{key}``; non-tensor per-parameter entries and the
    ``param_groups`` (learning rate, betas, weight decay, …) go to the JSON part.
    """
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, entry in sd["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state.{idx}.{key}"] = value.detach().cpu().contiguous().clone()
            else:
                scalars.setdefault(str(idx), {})[key] = value
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()}
              for g in sd["param_groups"]]
    return tensors, {"param_groups": groups, "scalars": scalars}


def load_optimizer_tensors(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                           meta: dict) -> None:
    """Inverse of :func:`optimizer_tensors` (tensors are moved to the parameters' devices)."""
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        _, idx, key = name.split(".", 2)
        state.setdefault(int(idx), {})[key] = value
    for idx, entry in meta.get("scalars", {}).items():
        state.setdefault(int(idx), {}).update(entry)
    groups = []
    for g in meta["param_groups"]:
        g = dict(g)
        if "betas" in g and isinstance(g["betas"], list):
            g["betas"] = tuple(g["betas"])
        groups.append(g)
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def rng_tensors() -> dict[str, torch.Tensor]:
    """The torch generator states (CPU and every CUDA device) as uint8 tensors."""
    out = {"torch.cpu": torch.get_rng_state().clone()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            out[f"torch.cuda.{i}"] = s.clone()
    return out


def set_rng_tensors(tensors: dict[str, torch.Tensor]) -> None:
    if "torch.cpu" in tensors:
        torch.set_rng_state(tensors["torch.cpu"])
    cuda = sorted((k for k in tensors if k.startswith("torch.cuda.")), key=lambda k: int(k.split(".")[2]))
    if cuda and torch.cuda.is_available():
        states = [tensors[k] for k in cuda][: torch.cuda.device_count()]
        torch.cuda.set_rng_state_all(states)


# -- write / read --------------------------------------------------------------------------
_paused: list[int] = []  # steps at which this process has paused (``any`` pauses once)


def _test_pause(step: int, stage: str) -> None:
    """The deterministic test hook (see the module docstring)."""
    value = os.environ.get(PAUSE_ENV)
    if not value or stage != "after-model":
        return
    want, _, rest = value.partition(":")
    flag, _, release = rest.partition(":")
    if want.strip() != str(step) and not (want.strip() == "any" and not _paused):
        return
    _paused.append(step)
    Path(flag).write_text(f"paused writing checkpoint {step} (pid {os.getpid()})\n")
    while not (release and Path(release).exists()):  # wait to be killed, or released
        time.sleep(0.05)


def write_checkpoint(root: str | Path, step: int, tensors: dict[str, dict[str, torch.Tensor]],
                     state: dict[str, Any], *, keep: int = 3) -> Path:
    """Write checkpoint ``step`` under ``root`` atomically and keep only the newest ``keep``.

    ``tensors`` maps each group (``model``, ``ema``, ``optimizer``, ``rng``) to a dict of
    tensors; ``state`` is JSON-serialisable (floats round-trip exactly through JSON).
    """
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise SpecError("keep", keep, "an integer ≥ 1 (checkpoints to keep)")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    final = root / step_name(step)
    files: dict[str, str] = {}
    # a checkpoint of the same step from an interrupted earlier launch is replaced
    with atomic_folder(final, tmp=root / f".tmp-{step_name(step)}-{os.getpid()}") as tmp:
        for group in GROUPS:
            if group not in tensors:
                continue
            path = tmp / f"{group}.safetensors"
            data = {k: v.detach().cpu().contiguous() for k, v in tensors[group].items()}
            # byte-reproducible (sorted metadata), ordinary permissions, fsynced
            write_safetensors(path, data, {"format": CHECKPOINT_FORMAT, "group": group})
            files[group] = sha256_file(path)
            if group == "model":
                _test_pause(step, "after-model")
        body = {"format": CHECKPOINT_FORMAT, "step": int(step), "files": files, **state}
        # non-finite numbers (a diverged evaluation) as null / "inf": JSON has no NaN
        atomic_write_text(tmp / STATE,
                          json.dumps(jsonable(body, nonfinite="string"), indent=2, allow_nan=False)
                          + "\n")
    for old in list_checkpoints(root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def list_checkpoints(root: str | Path) -> list[Path]:
    """Checkpoint folders under ``root`` (complete or not), oldest first; temporaries excluded."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def read_checkpoint(path: str | Path, *, load_tensors: bool = True) -> Checkpoint:
    """Load and verify one checkpoint folder; :class:`CheckpointError` names what is wrong."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    spath = path / STATE
    if not spath.is_file():
        raise CheckpointError("checkpoint", str(path), f"a complete checkpoint ({STATE} is missing)")
    try:
        state = json.loads(spath.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError("checkpoint", str(path), f"a readable {STATE} ({exc})") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        fmt = state.get("format") if isinstance(state, dict) else None
        raise CheckpointError("checkpoint", str(path), f"format {CHECKPOINT_FORMAT!r} (found {fmt!r})")
    files = state.get("files")
    step = state.get("step")
    if not isinstance(files, dict) or "model" not in files or not isinstance(step, int):
        raise CheckpointError("checkpoint", str(path), f"a {STATE} with 'step' and 'files'")
    tensors: dict[str, dict[str, torch.Tensor]] = {}
    for group, digest in files.items():
        fpath = path / f"{group}.safetensors"
        if not fpath.is_file():
            raise CheckpointError("checkpoint", str(path), f"{fpath.name} present (it is missing)")
        actual = sha256_file(fpath)
        if actual != digest:
            raise CheckpointError("checkpoint", str(path),
                                  f"{fpath.name} with sha256 {str(digest)[:12]}… (file has "
                                  f"{actual[:12]}…: corrupt or truncated)")
        if load_tensors:
            try:
                tensors[group] = load_file(str(fpath))
            except (SafetensorError, OSError, ValueError) as exc:
                raise CheckpointError("checkpoint", str(path), f"a readable {fpath.name} ({exc})") from None
    return Checkpoint(path=path, step=step, state=state, tensors=tensors)


def latest_checkpoint(root: str | Path) -> tuple[Checkpoint | None, list[tuple[Path, str]]]:
    """The newest *complete* checkpoint under ``root`` (``None`` if there is none), and the
    newer folders skipped on the way with the reason each was rejected."""
    skipped: list[tuple[Path, str]] = []
    for path in reversed(list_checkpoints(root)):
        try:
            return read_checkpoint(path), skipped
        except CheckpointError as exc:
            skipped.append((path, exc.expected))
    return None, skipped


def remove_temporaries(root: str | Path) -> list[Path]:
    """Delete ``.tmp-step-*`` folders left by a launch that was killed mid-write (they are
    this module's own temporaries); returns what was removed."""
    root = Path(root)
    removed = []
    if root.is_dir():
        for p in root.iterdir():
            if p.is_dir() and p.name.startswith(".tmp-step-"):
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p)
    return removed
