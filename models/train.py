"""Training a diffusion transformer on exact GP data (denoising score matching, ε-prediction).

:func:`train` reads as the training section of a paper, in named steps (:func:`_set_up`,
:meth:`_Run.restore`, :meth:`_Run.optimisation_step`, :meth:`_Run.evaluate`,
:meth:`_Run.checkpoint`): build the run (fresh or resumed from its newest complete
checkpoint), then for each global batch ``k``

    x₀, t, z = stream.batch(k, rank, world)         # pure function of (seed, k)
    x_t = α_t x₀ + σ_t z;  loss = mean ‖ε̂(x_t, t) − z‖²
    AdamW step (warm-up + cosine learning rate, gradient clipping), EMA update

with logging, evaluation and checkpoints at its edges.  The headline metric is the **excess
loss** ``loss − floor``: the exact Bayes floor of the ε-loss at the sampled times (docs/theory.md
§2) is subtracted batch by batch, so what is printed is what is still to learn.  Periodic
evaluation (on the EMA weights) measures the relative score error ``‖ŝ − s‖/‖s‖`` against the
exact oracle on a fixed evaluation set at a geometric ``t``-grid in ``[t₀, T]``, beside the
same error of the independent-frames baseline (the exact score of a model that ignores the
temporal correlation).

The batches come from :class:`~ditgp.models.data.GPStream` on the training device, batch
``k + 1`` prepared in a background thread while step ``k`` runs.  SIGTERM and SIGUSR1 finish
the step, write its checkpoint and raise :class:`Preempted` (``ditgp train`` exits with
:data:`EXIT_PREEMPTED`); ``resume=True`` then continues bitwise.

Precision: float32 on CPU, bf16 autocast with float32 master weights on CUDA (``dtype="bf16"``),
float64 for verification-grade runs (tests).  Under ``torchrun`` the function runs data
parallel (gloo on CPU, nccl on CUDA): rank ``r`` takes its slice of global batch ``k``, DDP
averages the gradients, rank 0 writes every file.

Run folder: ``config.json`` (spec, model, training numbers), ``metrics.jsonl``,
``checkpoints/step-…/`` (:mod:`ditgp.models.checkpoint`), ``train_set.safetensors`` (with
``n_train``), ``final/`` (a weight bundle of the EMA network), ``summary.md`` + ``curves.png``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ditgp.models.checkpoint import (
    CheckpointError,
    atomic_write_text,
    latest_checkpoint,
    load_optimizer_tensors,
    optimizer_tensors,
    remove_temporaries,
    rng_tensors,
    set_rng_tensors,
    step_name,
    write_checkpoint,
)
from ditgp.models.config import ModelConfig, TrainConfig
from ditgp.models.ema import ema_decay, learning_rate, make_ema, update_ema
from ditgp.models.run_folder import LOCK_NAME, RunFolder, read_metrics, train_set_record
from ditgp.numerics.oracle import Oracle
from ditgp.theory.choices import DTYPES, LOSSES, T_SAMPLINGS
from ditgp.theory.errors import SpecError, require
from ditgp.theory.spec import GPSpec

__all__ = ["TrainConfig", "TrainResult", "train", "Evaluator", "eval_grid", "RUN_FORMAT",
           "DTYPES", "T_SAMPLINGS", "LOSSES", "EVAL_SEED", "loss_weights", "Preempted",
           "EXIT_PREEMPTED", "PREEMPT_SIGNALS"]

RUN_FORMAT = "ditgp.train-run/1"
#: Seed of the fixed evaluation set (independent of the training seed, so runs compare).
EVAL_SEED = 20250207
#: Seed offset of the finite training set relative to the run's seed.
TRAIN_SET_SEED_OFFSET = 1_000_003
#: With ``minutes``: steps timed before the step target is fixed.
MINUTES_PROBE_STEPS = 20
#: With ``minutes``: share of the remaining budget planned for training steps (the rest is
#: evaluation, checkpoints and export).
MINUTES_STEP_SHARE = 0.9
#: The upper end of the interval ``[t0, hi]`` of ``t`` where the headline comparison with the
#: baseline is made; it starts at the spec's ``t0``, where the theorem's range starts.
HEADLINE_T_HI = 1.0

#: Signals that stop a run after the current step with a checkpoint (what Slurm and Kubernetes
#: send before killing a job); SIGINT keeps Python's KeyboardInterrupt (no extra checkpoint).
PREEMPT_SIGNALS = ("SIGTERM", "SIGUSR1")
#: Exit status of ``ditgp train`` stopped by one of them after writing its checkpoint
#: (``EX_TEMPFAIL`` of sysexits.h: a temporary failure, run again — with ``--resume``).
EXIT_PREEMPTED = 75
#: Test hook: ``STEP:FLAGFILE`` makes the loop write its process id to ``FLAGFILE`` after step
#: ``STEP`` and wait (up to two minutes) for a preemption signal, so a test can signal (or kill)
#: at a known step; once ``FLAGFILE`` exists no run pauses again (a retried run goes through).
PAUSE_ENV = "DITGP_TRAIN_PAUSE"

#: Training numbers that must match when a run is resumed (the others may change).
_RESUME_FIXED = ("batch", "lr", "warmup", "ema", "weight_decay", "clip", "seed", "n_train",
                 "t_sampling", "loss", "dtype", "decay_steps", "log_every", "n_eval", "eval_points")


@dataclass
class TrainResult:
    """What :func:`train` returns (rank 0 has the metrics; other ranks get the same steps)."""

    out: Path
    steps: int
    start_step: int
    params: int
    final: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] | None = None
    skipped_checkpoints: list[tuple[str, str]] = field(default_factory=list)
    bundle: Path | None = None


# -- evaluation ----------------------------------------------------------------------------
def eval_grid(spec: GPSpec, points: int) -> np.ndarray:
    """The evaluation times: ``points`` geometric steps from ``t₀`` to ``T`` (13 points on the
    default ``[1e-3, 10]`` gives three per decade, including 0.1 and 1)."""
    s = spec.schedule
    return np.geomspace(s.t0, s.T, points)


class Evaluator:
    """A fixed evaluation set: for each ``t`` of the grid, ``n`` exact draws of ``X_t`` (float64),
    their exact scores, and the independent-frames baseline's relative error (computed once)."""

    def __init__(self, spec: GPSpec, *, n: int = 256, points: int = 13, seed: int = EVAL_SEED):
        from ditgp.models.data import independent_frames_score

        self.spec = spec
        self.t = eval_grid(spec, points)
        oracle = Oracle.for_spec(spec)
        rng = np.random.default_rng(seed)
        self.X = [oracle.sample(n, seed=rng, t=float(t)) for t in self.t]  # each (n, d, H)
        self.S = [oracle.score(X, float(t)) for X, t in zip(self.X, self.t, strict=True)]
        self.baseline = np.array([
            _rel(np.asarray(independent_frames_score(spec, X, float(t)), dtype=np.float64), S)
            for X, S, t in zip(self.X, self.S, self.t, strict=True)])

    @torch.no_grad()
    def __call__(self, model: torch.nn.Module, chunk: int = 512) -> dict[str, Any]:
        p = next(model.parameters())
        sched = self.spec.schedule
        errors = []
        was_training = model.training
        model.eval()
        for X, S, t in zip(self.X, self.S, self.t, strict=True):
            sigma = math.sqrt(float(sched.sigma2(t)))
            out = []
            for i in range(0, X.shape[0], chunk):
                x = torch.as_tensor(X[i:i + chunk], dtype=p.dtype, device=p.device)
                tt = torch.full((x.shape[0],), float(t), dtype=p.dtype, device=p.device)
                out.append(model(x, tt).double().cpu().numpy())
            score = -np.concatenate(out) / sigma
            errors.append(_rel(score, S))
        model.train(was_training)
        return self.summarise(np.array(errors))

    def summarise(self, model_err: np.ndarray) -> dict[str, Any]:
        lo, hi = self.spec.schedule.t0, HEADLINE_T_HI
        band = (self.t >= lo * (1 - 1e-9)) & (self.t <= hi * (1 + 1e-9))
        out: dict[str, Any] = {
            "t": self.t.tolist(), "model": model_err.tolist(), "baseline": self.baseline.tolist(),
            "band": [lo, hi],
        }
        if band.any():
            out["model_mean_band"] = float(model_err[band].mean())
            out["baseline_mean_band"] = float(self.baseline[band].mean())
            out["beats_baseline_band"] = bool(np.all(model_err[band] < self.baseline[band]))
        return out


def loss_weights(spec: GPSpec, t, loss: str, t_sampling: str) -> np.ndarray:
    """Per-row weights of the training loss relative to ε-MSE: 1 for ``eps``; for ``score``
    ``(1/σ_t²)/E[1/σ_t²]`` — the score-space DSM ``‖ŝ + Z/σ_t‖² = ‖ε̂ − Z‖²/σ_t²`` — divided by
    its mean under the t-law (quadrature on the sampling's quantile function), so the loss
    keeps the ε-scale on average while its weighting over t is the theory's (the small-t
    regime, where κ_t and the bound live, gets weight ∝ 1/σ_t²)."""
    t = np.asarray(t, dtype=np.float64)
    if loss == "eps":
        return np.ones_like(t)
    return (1.0 / -np.expm1(-t)) / _mean_inv_sigma2(spec.schedule.t0, spec.schedule.T, t_sampling)


_MEAN_INV_SIGMA2: dict[tuple[float, float, str], float] = {}


def _mean_inv_sigma2(t0: float, T: float, t_sampling: str) -> float:
    """``E[1/σ_t²]`` for ``t = q(u)``, ``u ~ U(0, 1)`` (``q`` the sampling's quantile)."""
    key = (t0, T, t_sampling)
    if key not in _MEAN_INV_SIGMA2:
        from scipy.integrate import quad

        if t_sampling == "uniform":  # closed form: ∫ dt/(1 − e^{−t}) = ln(e^t − 1)
            val = (math.log(math.expm1(T)) - math.log(math.expm1(t0))) / (T - t0)
        else:
            val = quad(lambda u: 1.0 / -math.expm1(-t0 * (T / t0) ** u), 0.0, 1.0,
                       limit=200)[0]
        _MEAN_INV_SIGMA2[key] = val
    return _MEAN_INV_SIGMA2[key]


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


# -- distributed set-up ----------------------------------------------------------------------
@dataclass
class _Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    created: bool = False

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            torch.distributed.barrier()

    def sum(self, values: list[float], device) -> list[float]:
        if self.world == 1:
            return values
        buf = torch.tensor(values, dtype=torch.float64, device=device)
        torch.distributed.all_reduce(buf)
        return buf.tolist()

    def broadcast_int(self, value: int, device) -> int:
        """Rank 0's ``value`` on every rank."""
        if self.world == 1:
            return value
        buf = torch.tensor([value], dtype=torch.int64, device=device)
        torch.distributed.broadcast(buf, src=0)
        return int(buf.item())

    def any(self, flag: bool, device) -> bool:
        """Whether ``flag`` is set on any rank (every rank gets the same answer)."""
        if self.world == 1:
            return flag
        buf = torch.tensor([1 if flag else 0], dtype=torch.int64, device=device)
        torch.distributed.all_reduce(buf, op=torch.distributed.ReduceOp.MAX)
        return bool(buf.item())

    def close(self) -> None:
        if self.created and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def _dist_setup(device: str) -> _Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist()
    dist = torch.distributed
    created = False
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend)
        created = True
    return _Dist(dist.get_rank(), dist.get_world_size(), local_rank, created)


def _resolve_device(device: str, d: _Dist) -> torch.device:
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise SpecError("--device", device,
                            "cpu (CUDA is not available here: torch.cuda.is_available() is False)")
        if d.world > 1:
            return torch.device("cuda", d.local_rank)
    return torch.device(device)


# -- run folder --------------------------------------------------------------------------------
def _run_config(spec: GPSpec, cfg: ModelConfig, tc: TrainConfig, *, params: int | None,
                preset: str | None, init_from: str | None, world: int) -> dict[str, Any]:
    import ditgp

    return {"format": RUN_FORMAT, "library": {"name": "ditgp", "version": ditgp.__version__},
            "spec": spec.to_dict(), "model": cfg.to_dict(), "train": tc.to_dict(),
            "preset": preset, "init_from": init_from, "params": params, "world_size": world}


def _check_resume(out: Path, stored: dict[str, Any], spec: GPSpec, cfg: ModelConfig,
                  tc: TrainConfig, init_from: str | None) -> TrainConfig:
    """Refuse a resume whose spec, model or fixed training numbers differ from the run's;
    return ``tc`` with the run's recorded cosine horizon (and step target, with ``minutes``)."""
    where = f"the run being resumed ({out / 'config.json'})"
    if stored.get("format") != RUN_FORMAT:
        raise CheckpointError("--resume", str(out), f"a ditgp training run ({RUN_FORMAT} config)")
    try:
        old_spec = GPSpec.from_dict(stored["spec"])
    except (KeyError, SpecError) as exc:
        raise CheckpointError("--resume", str(out), f"a readable run config ({exc})") from None
    if old_spec != spec:
        raise SpecError("--resume", str(out),
                        f"the same GP spec as {where}: it has [{old_spec.describe()}, t0="
                        f"{old_spec.schedule.t0:g}, T={old_spec.schedule.T:g}], this command gives "
                        f"[{spec.describe()}, t0={spec.schedule.t0:g}, T={spec.schedule.T:g}]")
    if stored.get("model") != cfg.to_dict():
        raise SpecError("--resume", str(out), f"the same model as {where}: it has "
                        f"{stored.get('model')}, this command gives {cfg.to_dict()}")
    if stored.get("init_from") != init_from:
        raise SpecError("--init-from", init_from, f"{stored.get('init_from')!r} as in {where}")
    old = stored.get("train", {})
    new = tc.to_dict()
    if tc.decay_steps is None:
        new["decay_steps"] = old.get("decay_steps")
    for key in _RESUME_FIXED:
        if key in old and new[key] != old[key]:
            raise SpecError(TrainConfig.flag(key), new[key], f"{old[key]!r} as in {where} (resume keeps it)")
    steps = tc.steps
    if tc.minutes is not None and old.get("minutes") is not None:
        steps = old["steps"]  # the target fixed when the budget was first timed
    return replace(tc, decay_steps=new["decay_steps"], steps=steps)


def _trim_metrics(path: Path, step: int) -> None:
    """Keep the metrics lines up to ``step`` (a resumed run rewrites what follows; a line cut
    by a kill is dropped)."""
    if not path.exists():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and isinstance(rec.get("step"), int) and rec["step"] <= step:
            keep.append(line)
    atomic_write_text(path, "".join(x + "\n" for x in keep))


# -- the training function ---------------------------------------------------------------------
def train(spec: GPSpec, cfg: ModelConfig, tc: TrainConfig, out: str | Path, *, resume: bool = False,
          init_from: str | None = None, preset: str | None = None, quiet: bool = False,
          notify: Callable[[str], None] | None = None, report: bool = True,
          data: torch.Tensor | np.ndarray | None = None) -> TrainResult:
    """Train (or resume) the run in ``out``; see the module docstring.

    ``resume=False`` needs ``out`` to be missing or empty; ``resume=True`` needs a run made with
    the same spec, model and fixed training numbers, and continues from its newest complete
    checkpoint to ``tc.steps``.  ``notify`` receives one-line notices (resumed from, skipped
    corrupt checkpoints, the step target fixed by ``minutes``); the progress bar goes to stderr
    unless ``quiet``.

    ``data`` (optional, ``(n, d, H)``): train on this fixed set (epochs of permutations, as
    ``n_train``) instead of GP draws — for data that is not a GP of ``spec`` (the moving-ball
    video, :mod:`ditgp.models.video`).  ``spec`` then only gives the shape ``(d, H)`` and the
    noise schedule (a pseudo-spec): the Bayes floor is unknown and logged as 0 (``excess`` is
    the loss), the oracle evaluation is skipped, and the bundle records no ``measured`` score
    error, and no report is written (its panels are the floor and the oracle errors);
    ``config.json`` and the bundle's ``metrics`` carry ``data`` (``n``, sha256, the note).
    A resume must pass the same tensor (its sha256 is checked).

    The steps, in order: :func:`_set_up` (the folder, fresh or resumed), :class:`_Run` (the
    network, its EMA and optimizer; :meth:`_Run.restore` from the checkpoint;
    :meth:`_Run.prepare_data`; :meth:`_Run.write_run_files`), then :meth:`_Run.loop`
    (:meth:`_Run.optimisation_step`, :meth:`_Run.log`, :meth:`_Run.evaluate`,
    :meth:`_Run.checkpoint`) and :meth:`_Run.finish` (export and report).
    """
    say = notify or (lambda _msg: None)
    out = Path(out)
    if tc.threads is not None:
        torch.set_num_threads(tc.threads)
    dist = _dist_setup(tc.device)
    folder = RunFolder(out, resume=resume, main=dist.main, notify=say)  # lock, checks, clean-up
    stack = contextlib.ExitStack()  # the prefetch thread and the signal handlers
    try:
        folder.open()
        setup = _set_up(spec, cfg, tc, out, dist, resume=resume, init_from=init_from, data=data,
                        say=say)
        run = _Run(spec, cfg, setup, out, dist, init_from=init_from, preset=preset, say=say)
        if setup.ckpt is not None:
            run.restore(setup.ckpt)
        run.prepare_data()
        run.write_run_files()
        run.loop(stack, quiet=quiet)
        stack.close()
        return run.finish(report=report)
    finally:
        stack.close()
        folder.close()
        dist.close()


@dataclass
class _SetUp:
    """What :func:`_set_up` found: the training numbers (a resume takes the stored ones), the
    device, the checkpoint to resume from and those skipped, the stored run config, and the
    given data with its record."""

    tc: TrainConfig
    device: torch.device
    resume: bool
    ckpt: Any = None
    skipped: list[tuple[str, str]] = field(default_factory=list)
    stored: dict[str, Any] | None = None
    data: Any = None
    data_info: dict[str, Any] | None = None


def _set_up(spec: GPSpec, cfg: ModelConfig, tc: TrainConfig, out: Path, dist: _Dist, *,
            resume: bool, init_from: str | None, data, say: Callable[[str], None]) -> _SetUp:
    """Set-up: check the inputs and the run folder — fresh (missing or empty), or resumed from
    the newest complete checkpoint of a run with the same spec, model and fixed numbers."""
    device = _resolve_device(tc.device, dist)
    cfg.check_H(spec.H)
    data_info = None
    if data is not None:
        data, data_info = _given_data(data, spec)
        require(tc.n_train is None, "--n-train", tc.n_train,
                "None when a data tensor is given (its size is the training-set size)")
    if dist.world > 1:
        require(tc.batch % dist.world == 0, "--batch", tc.batch,
                f"a multiple of the number of processes ({dist.world})")
    ckpt = None
    stored = None
    skipped: list[tuple[str, str]] = []
    if resume:
        cpath = out / "config.json"
        if not cpath.is_file():
            raise CheckpointError("--resume", str(out), "a run folder with config.json "
                                  "(start the run without --resume first)")
        try:
            stored = json.loads(cpath.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise CheckpointError("--resume", str(out), f"a readable config.json ({exc})") from None
        tc = _check_resume(out, stored, spec, cfg, tc, init_from)
        if stored.get("data") != data_info:
            raise SpecError("data", None if data_info is None else data_info["sha256"][:12],
                            "the training data of the run being resumed ("
                            + ("GP draws of its spec" if stored.get("data") is None else
                               f"the tensor with sha256 {stored['data']['sha256'][:12]}…")
                            + ")")
        ckpt, skipped_paths = latest_checkpoint(out / "checkpoints")
        skipped = [(str(p), why) for p, why in skipped_paths]
        if ckpt is None and skipped:
            raise CheckpointError("--resume", str(out), "at least one complete checkpoint: "
                                  + "; ".join(f"{Path(p).name}: {why}" for p, why in skipped))
        for p, why in skipped:
            say(f"skipped checkpoint {p}: {why}")
    elif out.exists() and (not out.is_dir() or any(p.name != LOCK_NAME for p in out.iterdir())):
        raise SpecError("--out", str(out), "a new or empty folder (or --resume to continue "
                        "the run in it)")
    dist.barrier()  # every rank has checked the folder before rank 0 writes into it
    if tc.decay_steps is None and tc.minutes is None:
        tc = replace(tc, decay_steps=tc.steps)
    return _SetUp(tc, device, resume, ckpt, skipped, stored, data, data_info)


class _Run:
    """One training run in progress: the network, its EMA and optimizer, the data, the run
    folder's files, and the steps of the loop."""

    def __init__(self, spec: GPSpec, cfg: ModelConfig, setup: _SetUp, out: Path, dist: _Dist, *,
                 init_from: str | None, preset: str | None, say: Callable[[str], None]):
        from ditgp.models import build_model, count_parameters

        self.spec, self.cfg, self.tc, self.out, self.dist = spec, cfg, setup.tc, out, dist
        self.setup, self.device, self.say = setup, setup.device, say
        self.init_from, self.preset = init_from, preset
        self.data, self.data_info = setup.data, setup.data_info
        # the network, its EMA and the optimizer, from the run's seed
        torch.manual_seed(self.tc.seed)
        self.param_dtype = torch.float64 if self.tc.dtype == "float64" else torch.float32
        self.model = build_model(cfg, spec, init_from=init_from).to(device=self.device,
                                                                     dtype=self.param_dtype)
        self.ema = make_ema(self.model)
        self.params = count_parameters(self.model)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=self.tc.lr, betas=(0.9, 0.999),
                                     eps=1e-8, weight_decay=self.tc.weight_decay)
        self.start = 0
        self.window = _Window()
        self.elapsed_before = 0.0
        self.last_eval: dict[str, Any] | None = None
        self.metrics_path = out / "metrics.jsonl"
        self.t_start = self.t_window = 0.0

    def restore(self, ckpt) -> None:
        """Restore: weights, EMA, optimizer, generators, data cursor and metric window from
        the checkpoint (the run continues bitwise as if uninterrupted)."""
        self.model.load_state_dict(ckpt.tensors["model"])
        self.ema.load_state_dict(ckpt.tensors["ema"])
        load_optimizer_tensors(self.opt, ckpt.tensors["optimizer"], ckpt.state["optimizer"])
        set_rng_tensors(ckpt.tensors.get("rng", {}))
        self.start = int(ckpt.state["cursor"]["next_batch"])
        self.window = _Window(**ckpt.state["window"])
        self.elapsed_before = float(ckpt.state.get("elapsed_s", 0.0))
        self.last_eval = ckpt.state.get("last_eval")
        if self.start > self.tc.steps:
            raise SpecError("--steps", self.tc.steps,
                            f"≥ {self.start}, the step the run has already reached")
        self.say(f"resuming {self.out} from {ckpt.path.name} (step {self.start} of "
                 f"{self.tc.steps})")

    def prepare_data(self) -> None:
        """The data stream: GP draws, a fixed training set (``n_train``, stored with the run)
        or the given tensor; the fixed evaluation set (rank 0, GP data only)."""
        from ditgp.models.data import GPStream, load_train_set, make_train_set

        tc, spec = self.tc, self.spec
        self.train_set = self.data
        if tc.n_train is not None:
            tpath = self.out / "train_set.safetensors"
            if self.setup.resume and tpath.exists():
                self.train_set, tspec = load_train_set(tpath)
                require(tspec == spec and self.train_set.shape[0] == tc.n_train, "--n-train",
                        tc.n_train, f"the training set stored in {tpath}")
            else:
                self.train_set = make_train_set(spec, tc.n_train,
                                                seed=tc.seed + TRAIN_SET_SEED_OFFSET)
        self.stream = GPStream(spec, batch=tc.batch, seed=tc.seed, t_sampling=tc.t_sampling,
                               dtype=self.param_dtype, train_set=self.train_set,
                               device=self.device)
        self.evaluator = (Evaluator(spec, n=tc.n_eval, points=tc.eval_points)
                          if self.dist.main and self.data is None else None)

    def write_run_files(self) -> None:
        """The run folder's files (rank 0): ``checkpoints/``, the training set, metrics cut back
        to the resumed step, and ``config.json`` (written once; ``--minutes`` records the step
        target it fixes, :meth:`fix_step_target`)."""
        out, tc = self.out, self.tc
        if self.dist.main:
            out.mkdir(parents=True, exist_ok=True)
            (out / "checkpoints").mkdir(exist_ok=True)
            remove_temporaries(out / "checkpoints")
            if tc.n_train is not None and not (out / "train_set.safetensors").exists():
                from ditgp.models.data import save_train_set

                save_train_set(out / "train_set.safetensors", self.train_set, self.spec)
            _trim_metrics(self.metrics_path, self.start)
        self.run_cfg = _run_config(self.spec, self.cfg, tc, params=self.params,
                                   preset=self.preset, init_from=self.init_from,
                                   world=self.dist.world)
        if self.data_info is not None:
            self.run_cfg["data"] = self.data_info
        self.run_cfg.update(train_set_record(out / "train_set.safetensors",
                                             self.setup.stored if self.setup.resume else None))
        if self.dist.main:
            atomic_write_text(out / "config.json", json.dumps(self.run_cfg, indent=2) + "\n")

    def _wrap(self) -> torch.nn.Module:
        """The network the steps call: DDP across processes, ``torch.compile`` on request."""
        net: torch.nn.Module = self.model
        if self.dist.world > 1:
            net = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        if self.tc.compile:
            net = torch.compile(net)
        return net

    def checkpoint(self, step: int) -> None:
        """Checkpoint: weights, EMA, optimizer, generators and the loop's state (rank 0)."""
        if self.dist.main:
            opt_t, opt_meta = optimizer_tensors(self.opt)
            state = {"run": self.run_cfg, "cursor": {"next_batch": step},
                     "window": asdict(self.window), "optimizer": opt_meta,
                     "elapsed_s": self.elapsed_before + time.perf_counter() - self.t_start,
                     "last_eval": self.last_eval}
            write_checkpoint(self.out / "checkpoints", step,
                             {"model": _cpu(self.model), "ema": _cpu(self.ema),
                              "optimizer": opt_t, "rng": rng_tensors()}, state, keep=self.tc.keep)
        self.dist.barrier()

    def fix_step_target(self, k: int, per_step: float) -> None:
        """``--minutes``: the step target from the measured time per step, the same on every
        rank, recorded in ``config.json`` (a resume must know it: the cosine horizon is part of
        what the run is)."""
        tc = self.tc
        left = tc.minutes * 60.0 - (time.perf_counter() - self.t_start)
        target = max(k + 1, k + int(MINUTES_STEP_SHARE * left / per_step))
        target = self.dist.broadcast_int(target, self.device)  # every rank runs rank 0's plan
        self.tc = tc = replace(tc, steps=target, decay_steps=target)
        self.run_cfg["train"] = tc.to_dict()
        if self.dist.main:
            atomic_write_text(self.out / "config.json", json.dumps(self.run_cfg, indent=2) + "\n")
        self.bar.total = target
        self.say(f"--minutes {tc.minutes:g}: {per_step * 1e3:.1f} ms/step, step target "
                 f"fixed at {target} (recorded in config.json)")

    def optimisation_step(self, k: int, batches) -> None:
        """One step on global batch ``k``: noise the batch, the loss against the exact floor,
        AdamW with the scheduled learning rate and gradient clipping, the EMA update."""
        from ditgp.models.data import bayes_floor, noised

        tc, spec, device = self.tc, self.spec, self.device
        lr = learning_rate(k, lr=tc.lr, warmup=tc.warmup, decay_steps=tc.decay_steps or 1 << 62)
        for g in self.opt.param_groups:
            g["lr"] = lr
        # (b, d, H), (b,), (b, d, H) on the device, made while the previous step ran
        x0, t, z, t_host = batches.get(k)
        # the exact floor from the host copy of t (no device round trip); 0 on given data;
        # with --loss score both the loss and its floor carry the weights w(t)
        w_host = loss_weights(spec, t_host, tc.loss, tc.t_sampling)
        floor = (0.0 if self.data is not None else
                 float(np.mean(w_host * bayes_floor(spec, t_host))))
        x_t = noised(x0, t, z)
        with self.autocast:
            eps_hat = self.net(x_t, t)  # (b, d, H)
        if tc.loss == "eps":
            loss = (eps_hat.to(z.dtype) - z).pow(2).mean()
        else:
            per_row = (eps_hat.to(z.dtype) - z).pow(2).mean(dim=(1, 2))  # (b,)
            loss = (torch.as_tensor(w_host, dtype=z.dtype, device=device) * per_row).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(self.model.parameters(),
                                               tc.clip if tc.clip > 0 else math.inf)
        if not math.isfinite(float(gnorm)):  # same value on every rank (gradients all-reduced)
            raise SpecError("--lr", tc.lr, f"a learning rate at which training stays finite: the "
                            f"gradient norm became {float(gnorm)} at step {k} (the weights are "
                            "not updated) — lower --lr, e.g. 1e-6 with --init-from: before "
                            "the first checkpoint the folder is emptied, so rerun the command; "
                            "after it, start again in a new --out (resume keeps --lr)")
        self.opt.step()
        update_ema(self.ema, self.model, ema_decay(k, tc.ema))
        self.window.add(float(loss.detach()), floor, float(gnorm), lr)

    def log(self, k: int) -> None:
        """A metrics line: the window's mean loss, floor, excess, gradient norm, throughput."""
        now = time.perf_counter()
        rec = self.window.record(k, self.dist, self.device, self.tc.batch, now - self.t_window)
        rec["time_s"] = self.elapsed_before + now - self.t_start
        self.t_window = now
        if self.dist.main:
            _append(self.metrics_path, rec)
            self.bar.set_postfix(excess=f"{rec['excess']:.2e}", seq_s=f"{rec['seq_per_s']:.0f}",
                                 refresh=False)

    def evaluate(self, k: int) -> None:
        """Evaluate the EMA network against the exact oracle on the fixed set (rank 0)."""
        if self.dist.main:
            self.last_eval = {"step": k, **self.evaluator(self.ema)}
            _append(self.metrics_path, {"kind": "eval", **self.last_eval})
        self.dist.barrier()

    def loop(self, stack: contextlib.ExitStack, *, quiet: bool) -> None:
        """Steps ``start … steps - 1``, with logging, evaluation and checkpoints at their
        intervals; SIGTERM/SIGUSR1 checkpoint the step reached and raise :class:`Preempted`."""
        from ditgp.models.data import Prefetcher
        from tqdm.auto import tqdm

        dist, device, out, start = self.dist, self.device, self.out, self.start
        self.net = self._wrap()
        self.autocast = (torch.autocast("cuda", dtype=torch.bfloat16) if self.tc.dtype == "bf16"
                         else _NullContext())
        self.bar = tqdm(total=self.tc.steps, initial=start, disable=quiet or not dist.main,
                        unit="step", dynamic_ncols=True, desc="train")
        self.t_start = time.perf_counter()
        self.t_window = self.t_start
        probe_from = None
        self.model.train()
        k = start
        batches = stack.enter_context(Prefetcher(self.stream, dist.rank, dist.world))
        stop = stack.enter_context(_StopRequest())
        timing = self.tc.decay_steps is None and self.tc.minutes is not None  # target not fixed yet
        while timing or k < self.tc.steps:
            if timing:  # --minutes: time the first steps, then fix the step target
                if probe_from is None and k == start + 1:
                    probe_from = (k, time.perf_counter())
                if k >= start + 1 + MINUTES_PROBE_STEPS:
                    self.fix_step_target(k, (time.perf_counter() - probe_from[1]) / (k - probe_from[0]))
                    timing = False
                    continue
            self.optimisation_step(k, batches)
            k += 1
            self.bar.update(1)
            tc = self.tc
            last = not timing and k == tc.steps
            if k % tc.log_every == 0 or last:
                self.log(k)
            if (k % tc.eval_every == 0 or last) and self.data is None:
                self.evaluate(k)
            if k % tc.ckpt_every == 0 or last:
                self.checkpoint(k)
            _test_pause(k, stop, dist)
            if not last and stop.agreed(dist, device):  # SIGTERM/SIGUSR1: checkpoint and stop
                if k % tc.ckpt_every != 0:
                    self.checkpoint(k)
                self.bar.close()
                raise Preempted(k, stop.name, out / "checkpoints" / step_name(k))
        self.bar.close()
        self.k = k

    def finish(self, *, report: bool) -> TrainResult:
        """Export the EMA network as a bundle and write the report (rank 0)."""
        from ditgp.models.export import export_bundle

        out, k = self.out, self.k
        result = TrainResult(out=out, steps=k, start_step=self.start, params=self.params,
                             evaluation=self.last_eval, skipped_checkpoints=self.setup.skipped)
        if self.dist.main:
            final = _final_metrics(self.metrics_path, self.last_eval, k, self.params,
                                   self.elapsed_before + time.perf_counter() - self.t_start)
            if self.data_info is not None:
                final["data"] = self.data_info
            result.final = final
            result.bundle = export_bundle(self.ema, self.cfg, self.spec, out / "final",
                                          metrics=final, t0=self.spec.schedule.t0,
                                          measure=self.data is None)
            if report and self.data is None:  # its panels are the floor and the oracle errors
                from ditgp.models.report import write_report

                write_report(out)
        self.dist.barrier()
        return result


# -- preemption ----------------------------------------------------------------------------------
class Preempted(Exception):
    """Training stopped by a preemption signal after writing the checkpoint of ``step``
    (``ditgp train`` exits with :data:`EXIT_PREEMPTED`; ``--resume`` continues bitwise)."""

    def __init__(self, step: int, signame: str, checkpoint: Path):
        super().__init__(f"stopped by {signame} after step {step}: checkpoint {checkpoint} "
                         "written; continue with --resume")
        self.step, self.signame, self.checkpoint = step, signame, checkpoint


class _StopRequest:
    """Handlers of :data:`PREEMPT_SIGNALS` that only note the signal; the loop finishes the
    step, and :meth:`agreed` (an all-reduce under DDP: ranks may be signalled at different
    steps) tells every rank to stop at the same one.  Installed in the main thread only (Python
    delivers signals there); the previous handlers come back on exit."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _StopRequest:
        if threading.current_thread() is threading.main_thread():
            for name in PREEMPT_SIGNALS:
                sig = getattr(signal, name, None)
                if sig is not None:
                    self._old[sig] = signal.signal(sig, self._note)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
        self._old = {}

    def _note(self, signum, _frame) -> None:
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else "a signal"

    def agreed(self, dist: _Dist, device) -> bool:
        return dist.any(self.signum is not None, device)


def _test_pause(step: int, stop: _StopRequest, dist: _Dist) -> None:
    """The :data:`PAUSE_ENV` test hook (a no-op without the variable)."""
    value = os.environ.get(PAUSE_ENV)
    if not value:
        return
    want, _, flag = value.partition(":")
    if want.strip() != str(step) or Path(flag).exists():
        return
    if dist.main:
        Path(flag).write_text(f"{os.getpid()}\n")
    deadline = time.monotonic() + 120
    while stop.signum is None and time.monotonic() < deadline:
        time.sleep(0.01)


# -- helpers of the loop -------------------------------------------------------------------------
def _given_data(data, spec: GPSpec) -> tuple[np.ndarray, dict[str, Any]]:
    """Check a ``data`` tensor ``(n, d, H)`` (finite) and describe it for ``config.json``."""
    import hashlib

    x = data.detach().cpu().numpy() if isinstance(data, torch.Tensor) else np.asarray(data)
    require(x.ndim == 3 and x.shape[0] >= 1 and x.shape[1:] == (spec.d, spec.H)
            and np.issubdtype(x.dtype, np.floating), "data", tuple(x.shape),
            f"a real array of shape (n, d, H) = (n, {spec.d}, {spec.H})")
    x = np.ascontiguousarray(x, dtype=np.float64)
    require(bool(np.all(np.isfinite(x))), "data", "non-finite values", "finite values")
    info = {"n": int(x.shape[0]), "sha256": hashlib.sha256(x.tobytes()).hexdigest(),
            "floor": None, "note": "trained on a given data tensor; the spec is a pseudo-spec "
            "(shape and noise schedule only): no Bayes floor (logged as 0), no oracle evaluation"}
    return x, info


class _NullContext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


@dataclass
class _Window:
    """Running sums between two log lines (saved in checkpoints so resumed logs match)."""

    n: int = 0
    loss: float = 0.0
    floor: float = 0.0
    gnorm: float = 0.0
    lr: float = 0.0

    def add(self, loss: float, floor: float, gnorm: float, lr: float) -> None:
        self.n += 1
        self.loss += loss
        self.floor += floor
        self.gnorm += gnorm
        self.lr = lr

    def record(self, step: int, dist: _Dist, device, batch: int, seconds: float) -> dict[str, Any]:
        loss, floor, gnorm = dist.sum([self.loss, self.floor, self.gnorm], device)
        n = max(self.n, 1) * dist.world
        rec = {"kind": "train", "step": step, "loss": loss / n, "floor": floor / n,
               "excess": (loss - floor) / n, "grad_norm": gnorm / n, "lr": self.lr,
               "seq_per_s": self.n * batch / seconds if seconds > 0 else None}
        self.n, self.loss, self.floor, self.gnorm = 0, 0.0, 0.0, 0.0
        return rec


def _cpu(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous().clone() for k, v in module.state_dict().items()}


def _append(path: Path, rec: dict[str, Any]) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(rec) + "\n")
        f.flush()


def _final_metrics(metrics_path: Path, last_eval: dict | None, steps: int, params: int,
                   seconds: float) -> dict[str, Any]:
    """The run's final numbers: the last logged train line and the last evaluation."""
    train_lines, _ = read_metrics(metrics_path.parent)
    last = train_lines[-1] if train_lines else None
    out: dict[str, Any] = {"steps": steps, "params": params, "train_seconds": seconds}
    if last:
        out.update({k: last[k] for k in ("loss", "floor", "excess", "grad_norm") if k in last})
    if last_eval:
        out["eval"] = last_eval
    return out
