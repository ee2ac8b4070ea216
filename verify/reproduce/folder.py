"""The results folder of ``ditgp reproduce``: one writer, records that are checked, worker
processes that end with their parent, and parameters checked before anything is planned.

* :func:`locked_experiment_folder` — :func:`~ditgp.verify.reproduce.base.run_experiment`
  holds ``OUT/<experiment>/.ditgp.lock`` (:class:`ditgp.numerics.atomic.FolderLock`) while it
  writes: a second ``reproduce`` into the same folder is refused at once, naming the owner's
  pid (two used to run side by side and one died on the other's temporaries).
* :func:`cell_hash` / :func:`read_cell` — every ``cells/<cell>.json`` carries the sha256 of
  its own content; a record that was edited or damaged, is not a JSON object of the
  experiment's shape, or is not UTF-8 is refused with its file name (it used to flow into
  ``summary.md``), so nothing is silently recomputed over it either.
* :func:`read_experiment_record` — ``experiment.json`` that cannot be read is named as such.
* :func:`check_params` — the training and model numbers of ``--set`` are checked before any
  file is written (``--set steps=-5`` used to be refused inside the first cell, after
  ``experiment.json`` fixed the bad value, naming a flag reproduce does not have).
* :func:`worker_init` / :func:`workers_die_with_parent` — with ``--jobs N`` each worker
  watches its parent and exits when the parent is gone (``kill -9`` included), and the parent
  stops its workers when it is interrupted or terminated (SIGINT, SIGTERM) instead of leaving
  them to finish their cells and idle forever.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ditgp.theory.errors import SpecError

__all__ = ["locked_experiment_folder", "cell_hash", "read_cell", "read_experiment_record",
           "check_params", "worker_init", "workers_die_with_parent", "WORKER_POLL_S",
           "resumable_run"]

#: How often a worker checks that its parent is still there (seconds).
WORKER_POLL_S = 0.2


# -- the lock -------------------------------------------------------------------------------------
def locked_experiment_folder(fn: Callable) -> Callable:
    """Decorate ``run_experiment(name, out, ..., dry_run=...)``: hold the lock of
    ``out/<name>`` while it runs (not for a dry run, which writes nothing), after refusing a
    file or a dangling link where that folder or its ``cells/`` and ``runs/`` belong."""
    from ditgp.numerics.atomic import FolderLock

    @functools.wraps(fn)
    def wrapper(name: str, out: str | Path, *args: Any, **kwargs: Any):
        if kwargs.get("dry_run"):
            return fn(name, out, *args, **kwargs)
        from ditgp.models.run_folder import check_folder_slot, check_utf8_path

        root = Path(out) / name
        check_utf8_path("--out", out)
        for p, what in ((Path(out), "the results"), (root, f"the {name} experiment"),
                        (root / "cells", "the finished cells"),
                        (root / "runs", "the cells' training runs")):
            check_folder_slot("--out", p, what)
        try:
            lock = FolderLock(root, "--out").acquire()
        except OSError as exc:
            raise SpecError("--out", str(out), f"a writable location ({exc.strerror or exc}: "
                            f"{exc.filename})") from None
        try:
            return fn(name, out, *args, **kwargs)
        finally:
            lock.release()

    return wrapper


# -- records -------------------------------------------------------------------------------------
def cell_hash(rec: dict[str, Any]) -> str:
    """sha256 of a cell record's content (every key but ``sha256``, as canonical JSON)."""
    from ditgp.numerics.jsonable import jsonable

    body = {k: v for k, v in rec.items() if k != "sha256"}
    text = json.dumps(jsonable(body, nonfinite="string"), sort_keys=True, separators=(",", ":"),
                      allow_nan=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _load_json(path: Path, what: str, fix: str) -> Any:
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError("--out", str(path), f"{what} in UTF-8 (byte {exc.start} of {path.name} is "
                        f"not UTF-8: damaged?); {fix}") from None
    except OSError as exc:
        raise SpecError("--out", str(path), f"a readable {what} ({exc.strerror or exc}); "
                        f"{fix}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError("--out", str(path), f"{what} in JSON ({exc}); {fix}") from None


def read_cell(path: Path, cell) -> dict[str, Any]:
    """The finished record of ``cell`` in ``path``, checked: a JSON object with ``cell``,
    ``params`` (the cell's) and a ``result`` object, whose ``sha256`` is its content's."""
    from ditgp.numerics.jsonable import jsonable

    fix = f"delete {path} to recompute that cell"
    rec = _load_json(path, "a finished-cell record", fix)
    if not isinstance(rec, dict) or not isinstance(rec.get("result"), dict):
        raise SpecError("--out", str(path), f"a finished-cell record (a JSON object with a "
                        f"'result' object; it holds {type(rec).__name__} {str(rec)[:40]}); {fix}")
    if rec.get("sha256") != cell_hash(rec):
        raise SpecError("--out", str(path), "a finished-cell record as ditgp wrote it (its "
                        f"content does not match its sha256: edited or damaged); {fix}")
    if rec.get("cell") != cell.id or rec.get("params") != jsonable(cell.params,
                                                                   nonfinite="string"):
        raise SpecError("--out", str(path), f"the record of cell {cell.id} with this "
                        f"experiment's parameters (it holds another cell's); {fix}")
    return rec


def read_experiment_record(path: Path) -> Any:
    """``experiment.json`` (the experiment, preset and parameters a folder was made with)."""
    return _load_json(path, "an experiment record (experiment.json)",
                      f"delete {path} to record this run's set-up (the finished cells are "
                      "checked against their own hashes)")


def check_params(params: dict[str, Any]) -> None:
    """The training and model numbers among ``params`` (``--set`` values included) are valid,
    named as ``--set KEY``: checked before any cell is planned or any file written."""
    import math

    from ditgp.models.config import TrainConfig

    for key, value in params.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise SpecError(f"--set {key}", value, "a finite number")
    train = ("steps", "batch", "lr", "warmup", "ema", "weight_decay", "clip")
    for key in train:
        if key in params:
            try:
                TrainConfig(**{key: params[key]})
            except (SpecError, TypeError) as exc:
                raise SpecError(f"--set {key}", params[key],
                                getattr(exc, "expected", "a valid training number")) from None
    for key in ("width", "depth", "heads"):
        v = params.get(key, 1)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise SpecError(f"--set {key}", v, "an integer ≥ 1")
    v = params.get("mlp_ratio", 1.0)
    if isinstance(v, bool) or not isinstance(v, int | float) or not v > 0:
        raise SpecError("--set mlp_ratio", v, "a finite number > 0")


def resumable_run(out: Path) -> bool:
    """Whether the training run folder ``out`` of a cell can be resumed (it has a config and a
    checkpoint).  A folder with a config and no checkpoint was left by a cell killed before
    its first checkpoint: it is the experiment's own (under its lock) and is removed, so the
    cell starts again."""
    import shutil

    from ditgp.models.checkpoint import list_checkpoints

    if not (out / "config.json").is_file():
        return False
    if list_checkpoints(out / "checkpoints"):
        return True
    shutil.rmtree(out)
    return False


# -- worker processes ---------------------------------------------------------------------------
def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(1)  # the parent is gone: nobody will read this cell's result
        time.sleep(WORKER_POLL_S)


def worker_init(parent: int) -> None:
    """Initializer of a ``--jobs`` worker: exit as soon as the parent ``parent`` is gone.
    Progress bars use a thread lock here: tqdm's default is a multiprocessing semaphore, which
    a worker ended by its parent could not unregister (a "leaked semaphore" warning)."""
    from tqdm import tqdm

    tqdm.set_lock(threading.RLock())
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True,
                     name="ditgp-watch-parent").start()


class Terminated(SystemExit):
    """SIGTERM received by the parent of the worker processes (exit status 143)."""


@contextmanager
def workers_die_with_parent(pool, notify: Callable[[str], None] | None = None) -> Iterator[None]:
    """While the parent waits on ``pool``: SIGTERM stops it like Ctrl-C does, and either
    (or any other failure) cancels the queued cells and ends the running workers before the
    exception goes on — finished cells are kept, a re-run continues."""
    say = notify or (lambda _m: None)
    old = None
    if threading.current_thread() is threading.main_thread():
        def on_term(signum, _frame):
            raise Terminated(128 + signum)

        old = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    except BaseException as exc:
        # the workers (before shutdown, which forgets them); no public handle exists
        procs = list((getattr(pool, "_processes", None) or {}).values())
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.join(timeout=10)
            if proc.is_alive():  # pragma: no cover - a worker that ignores SIGTERM
                proc.kill()
                proc.join()
        pool.shutdown(wait=True, cancel_futures=True)  # the pool sees its workers gone
        if isinstance(exc, Terminated | KeyboardInterrupt):
            say("stopped: the worker processes were ended; finished cells are kept (a re-run "
                "continues from them)")
        raise
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)
