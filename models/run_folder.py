"""The run folder of :func:`ditgp.models.train.train`: one writer, checked before the work,
left as it was found when a fresh run stops before its first checkpoint.

:class:`RunFolder` is what ``train`` opens first and closes last (rank 0 only; other ranks
write nothing):

* **checked before any work** — ``--out`` is a folder (not a file, not a dangling symbolic
  link) whose name is UTF-8; ``checkpoints/`` and ``final/`` can be folders there (a file in
  their place, or a ``final/`` holding someone's files, is refused now, not after training);
  with ``--resume``: ``config.json`` is a ditgp run config (a JSON object with ``spec``,
  ``model`` and ``train`` objects), ``metrics.jsonl`` is UTF-8 text and
  ``checkpoints/`` holds a checkpoint to resume from (an empty one used to restart silently
  from step 0, emptying ``metrics.jsonl``);
* **locked** — :class:`ditgp.numerics.atomic.FolderLock` on ``RUN/.ditgp.lock``: a second
  ``train`` (or a ``reproduce`` cell) writing the same folder is refused at once, naming the
  owner's pid; the kernel drops the lock of a killed process;
* **temporaries** of an export killed mid-write (``RUN/.final.tmp-PID-…``) are removed;
* **nothing half-made is left** — when a *fresh* run stops (error, divergence, Ctrl-C) before
  its first checkpoint, what it wrote is removed again, so the same command (say with a lower
  ``--lr``) can simply be run again; once a checkpoint exists everything is kept for
  ``--resume``.

The finite training set (``train_set.safetensors``) is hashed like a checkpoint: its sha256
is recorded in ``config.json`` (:func:`train_set_record`) and checked before a resume uses
it (:func:`check_train_set`).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ditgp.numerics.atomic import LOCK_NAME, FolderLock, remove_stale_temporaries, sha256_file
from ditgp.numerics.bundle import MANIFEST
from ditgp.theory.errors import SpecError

from .checkpoint import CheckpointError, list_checkpoints

__all__ = ["read_metrics", "RunFolder", "read_run_config", "train_set_record", "check_train_set",
           "check_utf8_path", "check_folder_slot"]

#: Files of a run folder that must be files, and folders that must be folders.
RUN_FILES = ("config.json", "metrics.jsonl", "summary.md", "curves.png", "train_set.safetensors")
RUN_FOLDERS = ("checkpoints", "final")
#: Temporaries of the bundle writer before they carried the writer's pid (``.final.XXXXXXXX``).
_LEGACY_TMP = re.compile(r"^\.final\.(old\.)?[A-Za-z0-9_]{8}$")


def check_utf8_path(flag: str, path: str | Path) -> None:
    """Refuse a path whose name is not UTF-8 (a byte such as ``\\xff`` on the command line):
    the reports write the path into UTF-8 text, which failed only after all the work."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        raise SpecError(flag, str(path).encode("utf-8", "surrogateescape"),
                        "a path whose name is UTF-8 text (this one holds a byte that is not; "
                        "rename it)") from None


def check_folder_slot(flag: str, path: Path, what: str) -> None:
    """Refuse a file or a dangling symbolic link where the folder ``path`` belongs."""
    if path.is_symlink() and not path.exists():
        raise SpecError(flag, str(path), f"a folder for {what} ({path} is a dangling symbolic "
                        "link to a missing target: remove it, or point it at a folder)")
    if path.exists() and not path.is_dir():
        raise SpecError(flag, str(path), f"a folder for {what} ({path} is a file: move it away)")


def _check_writable(flag: str, folder: Path) -> None:
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise SpecError(flag, str(folder), f"a writable folder ({exc.strerror or exc})") from None


def read_run_config(path: Path) -> dict[str, Any]:
    """``RUN/config.json`` as a dict, or a :class:`CheckpointError` naming the file and what
    is wrong (not UTF-8, not JSON, not an object with ``spec``, ``model`` and ``train``
    objects) — such a file is not something ``--resume`` can continue."""
    fix = f"restore {path}, or delete {path.parent} and start the run again without --resume"
    try:
        stored = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise CheckpointError("--resume", str(path), f"a UTF-8 run config (byte {exc.start} is "
                              f"not UTF-8: damaged?); {fix}") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError("--resume", str(path), f"a readable config.json ({exc}); "
                              f"{fix}") from None
    bad = (not isinstance(stored, dict) or
           [k for k in ("spec", "model", "train") if not isinstance(stored.get(k), dict)])
    if bad:
        what = (f"it holds a JSON {type(stored).__name__}" if not isinstance(stored, dict) else
                "its " + ", ".join(f"{k!r}" for k in bad) + " is not a JSON object")
        raise CheckpointError("--resume", str(path), f"a ditgp run config (a JSON object with "
                              f"'spec', 'model' and 'train' objects; {what}); {fix}")
    return stored


def read_metrics(run: str | Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(train_lines, eval_lines)`` of ``RUN/metrics.jsonl`` (a line cut by a kill is skipped)."""
    train, evals = [], []
    path = Path(run) / "metrics.jsonl"
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            (evals if rec.get("kind") == "eval" else train).append(rec)
    return train, evals


def _check_metrics(path: Path) -> None:
    if not path.is_file():
        return
    for i, line in enumerate(path.read_bytes().splitlines(), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            raise CheckpointError("--resume", str(path), f"UTF-8 text in {path} (line {i} holds "
                                  "a byte that is not UTF-8: damaged?; delete that line to "
                                  "resume)") from None


def train_set_record(path: Path, stored: dict[str, Any] | None = None) -> dict[str, Any]:
    """``{"train_set": {"file", "sha256"}}`` for ``config.json`` when the run has a finite
    training set (the record of the ``stored`` config on a resume, checked by
    :func:`check_train_set` before), else ``{}``."""
    if stored and isinstance(stored.get("train_set"), dict):
        return {"train_set": stored["train_set"]}
    if not path.is_file():
        return {}
    return {"train_set": {"file": path.name, "sha256": sha256_file(path)}}


def check_train_set(path: Path, stored: dict[str, Any] | None) -> None:
    """Before a resume uses ``train_set.safetensors``: its sha256 must be the one recorded in
    ``config.json`` (runs from before the record are not checked)."""
    want = ((stored or {}).get("train_set") or {}).get("sha256")
    if want is None:
        return
    got = sha256_file(path)
    if got != want:
        raise CheckpointError("--resume", str(path), f"the training set recorded in config.json "
                              f"(sha256 {str(want)[:12]}…; {path} has {got[:12]}…: damaged "
                              "or replaced): restore it, or start a new run")


class RunFolder:
    """The run folder of one ``train`` call (module docstring).  ``main``: this process
    writes the files (rank 0); ``notify`` receives one-line notices."""

    def __init__(self, out: str | Path, *, resume: bool, main: bool = True,
                 notify: Callable[[str], None] | None = None):
        self.out = Path(out)
        self.resume = resume
        self.main = main
        self.say = notify or (lambda _m: None)
        self.lock: FolderLock | None = None
        self.existed: set[str] = set()

    def _foreign(self) -> list[Path]:
        return [p for p in self.out.iterdir() if p.name != LOCK_NAME] if self.out.is_dir() else []

    def open(self) -> RunFolder:
        """Check and lock the folder (rank 0); :class:`SpecError` naming what to do."""
        if not self.main:
            return self
        out = self.out
        check_utf8_path("--out", out)
        check_folder_slot("--out", out, "the run")
        if self.resume and not (out / "config.json").is_file():
            raise CheckpointError("--resume", str(out), "a run folder with config.json "
                                  "(start the run without --resume first)")
        if not self.resume and out.exists():
            _check_writable("--out", out)
        try:
            self.lock = FolderLock(out, "--out").acquire()  # a second writer is refused here
        except OSError as exc:
            raise SpecError("--out", str(out), f"a writable location ({exc.strerror or exc}: "
                            f"{exc.filename})") from None
        try:
            self._check()
        except BaseException:
            self.lock.release()
            self.lock = None
            raise
        self.existed = {p.name for p in self._foreign()}
        return self

    def _check(self) -> None:
        out = self.out
        if not self.resume and self._foreign():
            raise SpecError("--out", str(out), "a new or empty folder (or --resume to continue "
                            "the run in it)")
        for name in RUN_FOLDERS:
            check_folder_slot("--out", out / name, f"the run's {name}/")
            if (out / name).is_dir():
                _check_writable("--out", out / name)
        for name in RUN_FILES:
            p = out / name
            if p.is_dir() or (p.is_symlink() and not p.exists()):
                raise SpecError("--out", str(p), f"a file for the run's {name} ({p} is a folder or "
                                "a dangling link: move it away)")
        final = out / "final"
        if final.is_dir() and any(final.iterdir()) and not (final / MANIFEST).exists():
            raise SpecError("--out", str(final), f"a folder for the run's final bundle ({final} "
                            "holds other files and no bundle: move them away)")
        for p in remove_stale_temporaries(final):
            self.say(f"removed {p} (left by an export that was killed)")
        for p in out.iterdir():
            if _LEGACY_TMP.match(p.name) and p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
                self.say(f"removed {p} (left by an export that was killed)")
        if self.resume:
            stored = read_run_config(out / "config.json")
            _check_metrics(out / "metrics.jsonl")
            if (out / "train_set.safetensors").is_file():  # hashed like a checkpoint
                check_train_set(out / "train_set.safetensors", stored)
            if not list_checkpoints(out / "checkpoints"):
                raise CheckpointError("--resume", str(out), f"a run with a checkpoint to resume "
                                      f"from ({out / 'checkpoints'} holds none): delete {out} "
                                      "(or move it away) and start again without --resume")

    def close(self) -> None:
        """Release the lock; a fresh run without a checkpoint (and without a final bundle)
        stopped early: remove what it wrote."""
        if self.lock is None:
            return
        out = self.out
        try:
            unfinished = (not self.resume and not list_checkpoints(out / "checkpoints")
                          and not (out / "final" / MANIFEST).exists())
            if unfinished:
                made = [p for p in self._foreign() if p.name not in self.existed]
                for p in made:
                    if p.is_dir() and not p.is_symlink():
                        shutil.rmtree(p, ignore_errors=True)
                    else:
                        p.unlink(missing_ok=True)
                if made:
                    self.say(f"the run stopped before its first checkpoint: removed what it "
                             f"wrote in {out}, so the same command can start it again")
        finally:
            self.lock.release()
            self.lock = None
