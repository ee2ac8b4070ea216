"""The machinery every experiment of ``ditgp reproduce`` shares.

An **experiment** (:class:`Experiment`) is a grid of **cells** (:class:`Cell`: one
configuration — a kernel, a training-set size, a sequence length, a seed — with its JSON
parameters) and a **summary** that turns the finished cells into numbers, PNGs and a markdown
page.  :func:`run_experiment` runs it in ``OUT/<experiment>/``:

* ``experiment.json`` — the experiment, preset and all its parameters (after ``--set``
  overrides).  A folder made with other parameters is refused (``--out``), so results of two
  set-ups never mix; more ``--seeds`` only add cells.
* ``cells/<cell>.json`` — one finished cell (its parameters and result), written atomically
  when the cell ends: **a re-run skips finished cells**.  A cell that trains a network keeps its
  run in ``runs/<cell>/``; an interrupted cell resumes its training from the last checkpoint
  (``ditgp train --resume`` semantics, identical results).
* ``results.json``, ``summary.md`` and the PNGs — rewritten from all cells at the end.

Cells are independent: ``jobs > 1`` runs them in that many worker processes (one torch thread
each, so results do not depend on ``jobs``); ``executor="ray"`` runs each cell as a Ray task,
on an embedded local runtime or a cluster (:mod:`ditgp.verify.reproduce.executor`), into the
same results folder.  Before any work :func:`run_experiment` states the
number of cells and an estimate of the time (the experiment's own cost model, calibrated on
this project's 2-core CPU machine).

Presets: ``toy`` (seconds; what the tests run), ``cpu`` (2 cores; ``all`` ≤ 20 minutes),
``gpu`` (paper-sized; one experiment ≤ 9 minutes on one H100).  Every number of a preset can be
overridden with ``overrides`` (CLI ``--set KEY=VALUE``).
"""

from __future__ import annotations

import importlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ditgp.theory.choices import EXPERIMENTS as EXPERIMENT_NAMES
from ditgp.theory.choices import REPRODUCE_PRESETS
from ditgp.theory.errors import ResourceError, SpecError, require

from ..report import atomic_write_bytes, atomic_write_text
from .folder import (
    cell_hash,
    check_params,
    locked_experiment_folder,
    read_cell,
    read_experiment_record,
    resumable_run,
    worker_init,
    workers_die_with_parent,
)

__all__ = ["PRESETS", "MAX_UNFORCED_SECONDS", "Cell", "Context", "Experiment", "EXPERIMENTS",
           "ORDER", "register", "load_all", "experiment",
           "parse_seeds", "parse_overrides", "apply_overrides", "run_experiment", "train_cell",
           "md_table", "to_jsonable", "write_json", "copy_figures",
           "fmt"]

#: the size presets every experiment defines
PRESETS = REPRODUCE_PRESETS
#: a run whose estimated wall time exceeds this is refused before any work unless ``force``
#: (the gpu preset on a CPU was estimated at ~6 days: one flag away from a silent week)
MAX_UNFORCED_SECONDS = 6 * 3600.0
#: most seeds one run may ask for (``--seeds 100000000 --dry-run`` planned for minutes)
MAX_SEEDS = 10_000


@dataclass(frozen=True)
class Cell:
    """One configuration of an experiment: ``id`` (a file-name-safe string, unique within the
    experiment) and its JSON-able ``params``."""

    id: str
    params: dict[str, Any]


@dataclass
class Context:
    """Where and how cells run: ``root`` is the experiment folder; ``device`` ``cpu`` or
    ``cuda[:N]``; ``dtype`` of training (``float32``/``bf16``); ``threads`` torch threads of
    this process; ``notify`` receives one-line notices."""

    root: Path
    preset: str
    params: dict[str, Any]
    device: str = "cpu"
    dtype: str = "float32"
    threads: int | None = 1
    quiet: bool = True
    notify: Callable[[str], None] = field(default=lambda _m: None, repr=False)

    def run_dir(self, cell: Cell) -> Path:
        return self.root / "runs" / cell.id


class Experiment:
    """Base class of an experiment (subclass, set the class attributes, register).

    ``name`` (CLI word), ``title`` (one line), ``claim`` (what the paper claims, one
    paragraph), ``default_seeds`` per preset.  Subclasses implement :meth:`params`,
    :meth:`cells`, :meth:`run_cell`, :meth:`summarise` and :meth:`estimate_seconds`."""

    name: str = ""
    title: str = ""
    claim: str = ""
    default_seeds: dict[str, int] = {"toy": 1, "cpu": 1, "gpu": 1}

    def params(self, preset: str) -> dict[str, Any]:
        """All numbers of ``preset`` (JSON-able; keys are what ``--set`` overrides)."""
        raise NotImplementedError

    def cells(self, params: dict[str, Any], seeds: Sequence[int]) -> list[Cell]:
        raise NotImplementedError

    def run_cell(self, cell: Cell, ctx: Context) -> dict[str, Any]:
        """Run one cell; return its JSON-able result (numbers, arrays as lists)."""
        raise NotImplementedError

    def summarise(self, results: dict[str, dict[str, Any]], cells: list[Cell],
                  ctx: Context) -> dict[str, Any]:
        """From every finished cell: write PNGs into ``ctx.root`` and return
        ``{"verdict": {...}, "numbers": {...}, "markdown": "...", "figures": [file names]}``;
        the verdict object is :func:`ditgp.verify.reproduce.verdict.make_verdict`'s."""
        raise NotImplementedError

    def estimate_seconds(self, params: dict[str, Any], cells: list[Cell], device: str) -> float:
        """Rough wall-clock seconds of all ``cells`` run one after another on ``device``."""
        raise NotImplementedError


#: registered experiments, in the order ``all`` runs them
EXPERIMENTS: dict[str, Experiment] = {}
#: the experiments ``all`` runs, in this order (a module that is not built yet is skipped)
ORDER = EXPERIMENT_NAMES


def register(exp: Experiment) -> Experiment:
    require(exp.name and exp.name not in ("all",), "experiment.name", exp.name, "a new name")
    EXPERIMENTS[exp.name] = exp
    return exp


def load_all() -> None:
    """Import the module ``ditgp.verify.reproduce.<name>`` of every experiment of
    :data:`ORDER` not registered yet (each registers itself when imported)."""
    for name in ORDER:
        if name in EXPERIMENTS:
            continue
        try:
            importlib.import_module(f"ditgp.verify.reproduce.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"ditgp.verify.reproduce.{name}":
                raise


def experiment(name: str) -> Experiment:
    load_all()
    if name not in EXPERIMENTS:
        raise SpecError("experiment", name, "one of " + ", ".join([*EXPERIMENTS, "all"]))
    return EXPERIMENTS[name]


# -- arguments ------------------------------------------------------------------------------
def parse_seeds(text: str | int | Sequence[int] | None, default: int) -> tuple[int, ...]:
    """``None`` → ``0..default-1``; an integer ``N`` (or ``"N"``) → ``0..N-1``; ``"3,7,9"`` →
    those seeds (distinct, ≥ 0)."""
    if text is None:
        return tuple(range(default))
    if isinstance(text, int) and not isinstance(text, bool):
        require(text >= 1, "--seeds", text, "a count ≥ 1 or a comma-separated list of seeds ≥ 0")
        require(text <= MAX_SEEDS, "--seeds", text, f"at most {MAX_SEEDS} seeds (checked before "
                "any planning: each seed adds cells)")
        return tuple(range(text))
    if isinstance(text, str):
        parts = [p.strip() for p in text.split(",") if p.strip()]
        try:
            vals = [int(p) for p in parts]
        except ValueError:
            raise SpecError("--seeds", text, "a count ≥ 1 (e.g. 3) or a comma-separated list of "
                                             "seeds ≥ 0 (e.g. 0,4,7)") from None
        if len(vals) == 1 and "," not in text:
            return parse_seeds(vals[0], default)
    else:
        vals = [int(v) for v in text]
    require(bool(vals) and all(v >= 0 for v in vals) and len(set(vals)) == len(vals), "--seeds",
            text, "distinct seeds ≥ 0")
    require(len(vals) <= MAX_SEEDS, "--seeds", text, f"at most {MAX_SEEDS} seeds")
    return tuple(vals)


def parse_overrides(items: Sequence[str] | None) -> dict[str, Any]:
    """``["steps=2000", "ns=[100,1000]"]`` → values parsed as JSON (bare words stay strings)."""
    out: dict[str, Any] = {}
    for item in items or ():
        key, sep, raw = item.partition("=")
        require(bool(sep) and bool(key.strip()), "--set", item, "KEY=VALUE (VALUE as JSON, e.g. "
                                                               "steps=2000 or ns=[100,1000])")
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


def apply_overrides(params: dict[str, Any], overrides: dict[str, Any], where: str) -> dict[str, Any]:
    """``params`` with ``overrides``; an unknown key or a value of another type is refused."""
    out = dict(params)
    for key, val in overrides.items():
        require(key in params, "--set", key, f"one of the {where} parameters: "
                + ", ".join(sorted(params)))
        old = params[key]
        same = (isinstance(old, bool) == isinstance(val, bool)
                and (isinstance(val, type(old)) or (isinstance(old, float) and isinstance(val, int))
                     or old is None or val is None))
        require(same, f"--set {key}", val, f"a value like the preset's {json.dumps(old)}")
        out[key] = float(val) if isinstance(old, float) and isinstance(val, int) else val
    return out


# -- small shared utilities ---------------------------------------------------------------------
def to_jsonable(obj: Any) -> Any:
    """Plain JSON values (numpy converted, non-finite floats as ``null``/``"inf"``)."""
    from ditgp.numerics.jsonable import jsonable

    return jsonable(obj, nonfinite="string")


def write_json(path: Path, obj: Any) -> None:
    atomic_write_text(Path(path), json.dumps(to_jsonable(obj), indent=2) + "\n")


def fmt(x: Any, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    return str(x)


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: str | None = None) -> str:
    """A markdown table (floats to 3 significant digits)."""
    align = align or ("l" + "r" * (len(header) - 1))
    sep = ["---:" if a == "r" else (":---:" if a == "c" else "---") for a in align]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(sep) + "|"]
    lines += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def train_cell(ctx: Context, cell: Cell, spec, model_cfg, *, steps: int, batch: int, lr: float,
               seed: int, warmup: int = 100, ema: float = 0.999, n_train: int | None = None,
               t_sampling: str = "uniform", eval_points: int = 9, n_eval: int = 128,
               data=None, subdir: str | None = None):
    """Train (or resume, or just reload) the network of ``cell`` in ``runs/<cell>[/<subdir>]``.

    A folder with ``config.json`` is resumed from its newest checkpoint (a finished run only
    re-exports its bundle); otherwise the run starts fresh.  Returns the
    :class:`~ditgp.models.train.TrainResult` (``.bundle`` is the exported final network).
    ``data`` (optional) replaces the GP stream by a fixed training tensor ``(n, d, H)``."""
    from ditgp.models.train import TrainConfig, train

    out = ctx.run_dir(cell) if subdir is None else ctx.run_dir(cell) / subdir
    tc = TrainConfig(steps=steps, batch=batch, lr=lr, warmup=min(warmup, max(steps - 1, 0)),
                     ema=ema, seed=seed, n_train=n_train, t_sampling=t_sampling,
                     dtype=ctx.dtype, device=ctx.device, threads=ctx.threads,
                     eval_every=steps, ckpt_every=max(steps // 4, 1), log_every=max(steps // 50, 1),
                     eval_points=eval_points, n_eval=n_eval, keep=2)
    resume = resumable_run(out)
    if resume:
        ctx.notify(f"{cell.id}: resuming training in {out}")
    kwargs = {} if data is None else {"data": data}
    return train(spec, model_cfg, tc, out, resume=resume, quiet=True, report=False, **kwargs)


def copy_figures(src: Path, dest: Path, names: Sequence[str]) -> list[Path]:
    """Copy PNGs (and ``summary.md``) of an experiment into ``dest`` (``--figures``)."""
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for name in names:
        p = src / name
        if p.is_file():
            atomic_write_bytes(dest / name, p.read_bytes())
            out.append(dest / name)
    return out


# -- running -------------------------------------------------------------------------------------
def run_one(module: str, name: str, cell: Cell, ctx_fields: dict[str, Any]) -> dict[str, Any]:
    """Worker entry point (also used in-process): run one cell, write its JSON, return it.
    ``module`` defines (and registers) the experiment; a fresh worker imports it."""
    import torch

    if name not in EXPERIMENTS:
        importlib.import_module(module)
    exp = experiment(name)
    ctx = Context(**ctx_fields)
    if ctx.threads is not None:
        torch.set_num_threads(ctx.threads)
    t = time.perf_counter()
    result = exp.run_cell(cell, ctx)
    rec = {"cell": cell.id, "params": cell.params, "result": result,
           "seconds": time.perf_counter() - t, "device": ctx.device,
           "device_name": _device_name(ctx.device), "dtype": ctx.dtype}
    rec["sha256"] = cell_hash(rec)  # an edited or damaged record is refused on a re-run
    write_json(ctx.root / "cells" / f"{cell.id}.json", rec)
    return to_jsonable(rec)


def _finished(root: Path, cell: Cell) -> dict[str, Any] | None:
    p = root / "cells" / f"{cell.id}.json"
    if not p.is_file() and not p.is_symlink():
        return None
    return read_cell(p, cell)


@locked_experiment_folder
def run_experiment(name: str, out: str | Path, *, preset: str = "cpu",
                   seeds: str | int | Sequence[int] | None = None,
                   overrides: dict[str, Any] | None = None, device: str | None = None,
                   dtype: str = "float32", jobs: int = 1, quiet: bool = False,
                   notify: Callable[[str], None] | None = None, figures: str | Path | None = None,
                   dry_run: bool = False, force: bool = False, executor: str = "local",
                   ray_address: str | None = None) -> dict[str, Any]:
    """Run (or finish) experiment ``name`` in ``out/<name>`` and summarise it (module
    docstring).  Returns the summary document (also in ``results.json``).  ``dry_run`` plans
    only (cells, estimate): it needs neither the device nor Ray."""
    from tqdm.auto import tqdm

    say = notify or (lambda _m: None)
    exp = experiment(name)
    require(preset in PRESETS, "--preset", preset, "one of " + ", ".join(PRESETS))
    require(isinstance(jobs, int) and jobs >= 1, "--jobs", jobs, "an integer ≥ 1")
    device = device or ("cuda" if preset == "gpu" else "cpu")
    require(device.split(":")[0] in ("cpu", "cuda"), "--device", device, "cpu or cuda[:N]")
    _check_executor(executor, ray_address, device, jobs, dry_run)
    params = apply_overrides(exp.params(preset), overrides or {}, f"{name} --preset {preset}")
    check_params(params)  # before anything is planned or written
    seed_list = parse_seeds(seeds, exp.default_seeds.get(preset, 1))
    cells = exp.cells(params, seed_list)
    ids = [c.id for c in cells]
    require(len(set(ids)) == len(ids), "experiment.cells", ids, "unique cell ids")

    root = Path(out) / name
    manifest = {"experiment": name, "preset": preset, "params": to_jsonable(params)}
    mpath = root / "experiment.json"
    if mpath.is_file():
        old = read_experiment_record(mpath)
        if old != manifest:
            raise SpecError("--out", str(out), f"a folder for this set-up: {mpath} holds "
                            f"{name} --preset {old.get('preset') if old else '?'} with other "
                            "parameters (use a new --out, or the same --preset/--set)")
    done = {c.id: r for c in cells if (r := _finished(root, c)) is not None}
    todo = [c for c in cells if c.id not in done]
    est = exp.estimate_seconds(params, todo, device)
    wall = est / max(min(jobs, len(todo)), 1)
    if wall > MAX_UNFORCED_SECONDS and not force and not dry_run:
        raise ResourceError("--preset", preset, f"a run within {_human(MAX_UNFORCED_SECONDS)}: "
                            f"{name} --preset {preset} on {device} is estimated at {_human(wall)} "
                            "(the gpu preset is sized for one GPU; use --preset cpu, fewer --seeds "
                            "or --set, or --force to run it anyway)")
    say(f"{name} --preset {preset}: {len(cells)} cells ({len(done)} done, {len(todo)} to run), "
        f"seeds {','.join(map(str, seed_list))}, device {device}; estimated "
        f"{_human(wall)} (cost model; {jobs} job(s))")
    if dry_run:
        from .cost import describe

        say(describe(device))
        return {"experiment": name, "cells": len(cells), "todo": len(todo), "estimate_s": est}
    if not mpath.is_file():
        write_json(mpath, manifest)

    # one torch thread per CPU cell: the numbers do not depend on --jobs or the core count
    ctx_fields = dict(root=root, preset=preset, params=params, device=device, dtype=dtype,
                      threads=1 if device == "cpu" else None, quiet=True)
    bar = tqdm(total=len(cells), initial=len(done), disable=quiet, unit="cell", desc=name,
               dynamic_ncols=True)
    if executor == "ray" and todo:
        from .executor import run_on_ray

        def finished(cell: Cell, rec: dict[str, Any]) -> None:
            done[cell.id] = rec
            bar.update(1)

        # workers may start elsewhere (another folder, another node): an absolute root
        run_on_ray(run_one, todo, type(exp).__module__, name,
                   {**ctx_fields, "root": root.resolve()},
                   device=device, jobs=jobs, address=ray_address, on_done=finished)
    elif jobs == 1 or len(todo) <= 1:
        ctx_fields["notify"] = say
        for c in todo:
            bar.set_postfix_str(c.id, refresh=True)
            done[c.id] = run_one(type(exp).__module__, name, c, ctx_fields)
            bar.update(1)
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"),
                                 initializer=worker_init, initargs=(os.getpid(),)) as pool, \
                workers_die_with_parent(pool, say):
            futs = {pool.submit(run_one, type(exp).__module__, name, c, ctx_fields): c for c in todo}
            for f in as_completed(futs):
                done[futs[f].id] = f.result()
                bar.update(1)
    bar.close()

    ctx = Context(root=root, preset=preset, params=params, device=device, dtype=dtype,
                  threads=None, quiet=quiet, notify=say)
    results = {c.id: done[c.id]["result"] for c in cells}
    summary = exp.summarise(results, cells, ctx)
    # where the cells ran (a summary may be rebuilt elsewhere from finished cells)
    ran_on = sorted({str(done[c.id].get("device_name") or done[c.id].get("device")) for c in cells})
    from .verdict import validate_verdict, verdict_markdown

    verdict = summary.get("verdict")
    validate_verdict(verdict)  # every experiment ends in a verdict (verdict.py)
    doc = {"experiment": name, "title": exp.title, "verdict": verdict, "preset": preset,
           "device": ", ".join(ran_on), "params": params, "seeds": list(seed_list),
           "cell_seconds": {c.id: done[c.id].get("seconds") for c in cells},
           "numbers": summary.get("numbers", {}), "figures": summary.get("figures", [])}
    write_json(root / "results.json", doc)
    head = (f"# {exp.title}\n\n*`ditgp reproduce {name} --preset {preset}` — seeds "
            f"{', '.join(map(str, seed_list))}, device {doc['device']}; cells in `cells/`, full "
            "numbers in `results.json`.*\n\n")
    atomic_write_text(root / "summary.md", head + verdict_markdown(verdict) + "\n"
                      + (f"**Claim.** {exp.claim}\n\n" if exp.claim else "")
                      + summary.get("markdown", "") + "\n")
    if figures is not None:
        copy_figures(root, Path(figures) / name, [*doc["figures"], "summary.md"])
    return doc


def _check_executor(executor: str, address: str | None, device: str, jobs: int,
                    dry_run: bool) -> None:
    """Refuse an unknown executor, an address without Ray, Ray not installed, or a CUDA run
    this machine cannot serve — before any work; a dry run needs neither device nor Ray."""
    from .executor import EXECUTORS, require_ray

    require(executor in EXECUTORS, "--executor", executor, "one of " + ", ".join(EXECUTORS))
    require(address is None or executor == "ray", "--ray-address", address,
            "no address without --executor ray")
    if dry_run:
        return
    if executor == "ray":
        require_ray()
    if device.startswith("cuda") and not (executor == "ray" and address):
        import torch  # on a Ray cluster the workers' GPUs count, not the driver's

        require(torch.cuda.is_available(), "--device", device,
                "a CUDA device visible to torch (none is; use --device cpu, or --preset cpu)")
        if executor == "local":
            require(jobs == 1, "--jobs", jobs, "1 on a GPU (cells share the device)")


def _device_name(device: str) -> str:
    if device.startswith("cuda"):
        import torch

        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    return f"cpu ({os.cpu_count()} cores)"


def _human(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min"
