"""The runner: a claim under hypothesis with a budget, a fixed seed, and a search for the
worst margin."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from ditgp.numerics.jsonable import jsonable
from ditgp.verify.claims.base import Claim, ClaimResult, ClaimViolation, Inconclusive, Outcome
from hypothesis import Phase, Verbosity, given, settings, target
from hypothesis import seed as hypothesis_seed


def _describe(inp: Any) -> dict[str, Any]:
    if hasattr(inp, "to_dict"):
        return inp.to_dict()
    return {"repr": repr(inp)}


def run_claim(c: Claim, *, examples: int = 100, seed: int = 0,
              overrides: dict[str, Any] | None = None,
              on_example: Callable[[], None] | None = None) -> ClaimResult:
    """Run claim ``c`` on ``examples`` drawn inputs (hypothesis, seeded, no database, no
    deadline), maximising ``-margin`` with ``hypothesis.target``; on failure hypothesis
    shrinks the input and the result carries the shrunk counterexample."""
    result = ClaimResult(c.id, c.number, c.source, c.statement, status="pass")
    reason = c.unavailable()
    if reason is not None:
        result.status, result.message = "unavailable", reason
        return result
    overrides = dict(overrides or {})
    state: dict[str, Any] = {"n": 0, "worst": math.inf, "worst_input": None, "fail": None}

    @settings(max_examples=examples, database=None, deadline=None, derandomize=False,
              suppress_health_check=c.health_checks, verbosity=Verbosity.quiet,
              report_multiple_bugs=False, print_blob=False,
              phases=(Phase.explicit, Phase.generate, Phase.target, Phase.shrink))
    @hypothesis_seed(seed)
    @given(c.strategy())
    def prop(inp: Any) -> None:
        state["last_input"] = inp
        out = c.check(inp, **overrides)
        state["n"] += 1
        if on_example is not None:
            on_example()
        margin = out.margin if not math.isnan(out.margin) else -math.inf
        if not (math.isfinite(out.lhs) and math.isfinite(out.rhs)):
            # a check passes only on a finite measured value within a finite bound
            out = Outcome(-math.inf, out.lhs, out.rhs, {**out.detail, "non-finite": True})
            margin = -math.inf
        if margin < state["worst"]:
            state["worst"], state["worst_input"], state["worst_out"] = margin, inp, out
        target(float(np.clip(-margin, -1e6, 1e6)), label="negative margin")
        if margin < 0:
            raise ClaimViolation(c.id, inp, out)

    start = time.perf_counter()
    try:
        with _one_thread(), source_independent():
            prop()
    except ClaimViolation as exc:  # the shrunk example is the last one replayed
        result.status = "fail"
        result.counterexample = _describe(exc.input)
        result.message = str(exc)
    except Inconclusive as exc:
        result.status = "inconclusive"
        result.message = str(exc)
    except Exception as exc:  # noqa: BLE001 - a check that raises is reported, not hidden
        result.status = "error"
        result.message = f"{type(exc).__name__}: {exc}"
        if state.get("last_input") is not None:
            result.counterexample = _describe(state["last_input"])
    result.seconds = time.perf_counter() - start
    result.examples = state["n"]
    result.worst_margin = float(state["worst"])
    if state["worst_input"] is not None:
        out = state["worst_out"]
        result.worst = {"input": _describe(state["worst_input"]), "lhs": out.lhs,
                        "rhs": out.rhs, "detail": jsonable(out.detail, nonfinite="null")}
    return result


@contextlib.contextmanager
def source_independent():
    """Hypothesis draws only from its seed and its own constants while this is active.

    Recent hypothesis versions (6.170.17 measured) also mix into their draws the literal
    constants they find in the source of every *local* module loaded so far (not
    site-packages, not the standard library).  A claim's examples then depend on which ditgp
    modules the process happened to import before it (``ditgp verify`` drew other examples for
    claim 1 once the report module imported ``ditgp.models``), on any edit of a number anywhere
    in those modules, and (by that site-packages rule) on whether ditgp is installed editable.
    Here that pool is empty (and hypothesis's cache of it cleared on entry and exit), so a seed
    gives the same examples everywhere.
    On a hypothesis without the pool nothing is changed.
    """
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - hypothesis reorganised its internals
        yield
        return
    get, constants, cache = (getattr(providers, n, None) for n in
                             ("_get_local_constants", "Constants", "CONSTANTS_CACHE"))
    if get is None or constants is None or cache is None:  # pragma: no cover - other version
        yield
        return
    empty = constants()
    cache.cache.clear()
    providers._get_local_constants = lambda: empty
    try:
        yield
    finally:
        providers._get_local_constants = get
        cache.cache.clear()


@contextlib.contextmanager
def _one_thread():
    """BLAS and torch on one thread while a claim runs: the matrices are small (``H ≤ 1024``),
    and on a shared machine a multi-threaded ``eigvalsh(512)`` was measured 15× slower
    (0.78 s vs 0.06 s at load 6.5 on 2 cores)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # optional (a dev extra): without it BLAS keeps its threads
            yield
            return
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(threads)
