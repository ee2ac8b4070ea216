"""Executors of ``ditgp reproduce`` cells: ``local`` (this process or a process pool, in
:mod:`ditgp.verify.reproduce.base`) and ``ray`` (this module).

With ``ray`` each cell is one Ray task running the same worker entry point as the local pool
(:func:`ditgp.verify.reproduce.base.run_one`): it writes ``cells/<cell>.json`` itself, so the
results folder is the one a local run writes, and a finished cell is skipped by any later run,
local or Ray.  A task asks for one GPU when its cell trains on CUDA, one CPU otherwise.  Without
an address an embedded Ray runtime is started on this machine with ``jobs`` CPUs (and its
GPUs) and stopped at the end; with an address (``auto``, ``HOST:6379`` or
``ray://HOST:10001``) the tasks go to that cluster, whose workers must see the results folder
at the same path (a shared file system) and have ditgp installed.

**Failures.**  A task whose worker process dies (killed, out of memory, node lost) is retried
by Ray up to :data:`MAX_RETRIES` times; the retry finds the cell's training run with its
checkpoints and resumes it (``ditgp train --resume`` semantics: the same final numbers).  A
cell stopped by SIGTERM/SIGUSR1 (:class:`~ditgp.models.train.Preempted`: its checkpoint is
written) is retried likewise.  Any other error in a cell stops the run with that error.
Interrupting the driver (Ctrl-C) cancels the outstanding tasks; the next run skips the finished
cells and resumes the interrupted ones from their checkpoints.

Ray is an optional dependency (``pip install -e ".[cluster]"``), imported only here and only
when ``--executor ray`` is used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ditgp.theory.choices import EXECUTORS as EXECUTOR_NAMES
from ditgp.theory.errors import SpecError

__all__ = ["EXECUTORS", "MAX_RETRIES", "INSTALL_HINT", "require_ray", "run_on_ray"]

EXECUTORS = EXECUTOR_NAMES
#: retries of a cell whose worker died (Ray's default for tasks)
MAX_RETRIES = 3
INSTALL_HINT = 'Ray installed (pip install -e ".[cluster]", or pip install "ray==2.60.0")'


def require_ray():
    """The ``ray`` module, or a one-line :class:`SpecError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise SpecError("--executor", "ray", INSTALL_HINT) from None
    return ray


def run_on_ray(run_one: Callable[[str, str, Any, dict[str, Any]], dict[str, Any]],
               todo: Sequence, module: str, name: str, ctx_fields: dict[str, Any], *,
               device: str, jobs: int, address: str | None,
               on_done: Callable[[Any, dict[str, Any]], None]) -> None:
    """Run the cells ``todo`` as Ray tasks, each ``run_one(module, name, cell, ctx_fields)``;
    ``on_done(cell, record)`` as each finishes.  ``run_one`` is the worker entry point
    (:func:`ditgp.verify.reproduce.base.run_one`); Ray pickles a module-level function by
    reference, so a worker imports it from its module."""
    ray = require_ray()
    from ditgp.models.train import Preempted

    started = False
    if not ray.is_initialized():
        common = {"include_dashboard": False, "log_to_driver": False,
                  "configure_logging": False}
        if address:
            ray.init(address=address, **common)
        else:
            ray.init(num_cpus=jobs, **common)
        started = True
    try:
        gpu = device.startswith("cuda")
        task = ray.remote(run_one).options(num_gpus=1 if gpu else 0, num_cpus=1,
                                            max_retries=MAX_RETRIES,
                                            retry_exceptions=[Preempted])
        refs = {task.remote(module, name, c, ctx_fields): c for c in todo}
        pending = list(refs)
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1, timeout=1.0)
                for ref in ready:
                    try:
                        rec = ray.get(ref)
                    except ray.exceptions.RayTaskError as exc:  # the cell's own error
                        cause = getattr(exc, "cause", None)
                        raise (cause if isinstance(cause, Exception) else exc) from None
                    except ray.exceptions.RayError as exc:  # workers lost beyond the retries
                        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                        raise SpecError("--executor", "ray", f"workers that finish cell "
                                        f"{refs[ref].id} (its task failed {MAX_RETRIES + 1} "
                                        f"times: {first[:200]}); finished cells are kept, a "
                                        "re-run resumes the rest") from None
                    on_done(refs[ref], rec)
        finally:
            for ref in pending:  # interrupted or failed: stop the outstanding cells
                ray.cancel(ref, force=True)
    finally:
        if started:
            ray.shutdown()
