"""Training: exact resume (bitwise on CPU), kill -9 during a checkpoint write, the excess-loss
metric against the Bayes-optimal denoiser, evaluation vs the baseline, the run folder."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from ditgp.models.checkpoint import latest_checkpoint, list_checkpoints, read_checkpoint
from ditgp.models.config import ModelConfig
from ditgp.models.train import TrainConfig, train
from ditgp.numerics.oracle import Oracle
from ditgp.theory.errors import SpecError
from ditgp.theory.kernels import kernel
from ditgp.theory.spec import GPSpec

SPEC = GPSpec(kernel("laplace", ell=3.0), H=8, d=2)
CFG = ModelConfig("dit", width=16, depth=1, heads=2)


def _tc(**kw) -> TrainConfig:
    base = dict(steps=6, batch=8, lr=3e-3, warmup=2, ema=0.9, eval_every=3, ckpt_every=3,
                log_every=1, n_eval=8, eval_points=4, threads=1)
    base.update(kw)
    return TrainConfig(**base)


def _final_state(run: Path):
    ck, skipped = latest_checkpoint(run / "checkpoints")
    assert skipped == []
    return ck


def _assert_bitwise_equal(a, b) -> None:
    assert a.step == b.step
    for group in ("model", "ema", "optimizer"):
        ta, tb = a.tensors[group], b.tensors[group]
        assert set(ta) == set(tb), group
        for name in ta:
            assert torch.equal(ta[name], tb[name]), f"{group}.{name} differs"
    assert a.state["optimizer"] == b.state["optimizer"]


def _train_lines(run: Path) -> list[dict]:
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in ("seq_per_s", "time_s")}
            for r in lines if r["kind"] == "train"]


def test_resume_is_bitwise_identical(tmp_path):
    """(a) 2N steps in one go == N steps, stop, resume to 2N (parameters, EMA, optimizer)."""
    one = train(SPEC, CFG, _tc(steps=6), tmp_path / "one", quiet=True, report=False)
    assert one.steps == 6
    part = train(SPEC, CFG, _tc(steps=3, decay_steps=6), tmp_path / "two", quiet=True, report=False)
    assert part.steps == 3
    notes = []
    res = train(SPEC, CFG, _tc(steps=6), tmp_path / "two", resume=True, quiet=True, report=False,
                notify=notes.append)
    assert res.start_step == 3 and res.steps == 6
    assert any("step-00000003" in n for n in notes)
    _assert_bitwise_equal(_final_state(tmp_path / "one"), _final_state(tmp_path / "two"))
    assert _train_lines(tmp_path / "one") == _train_lines(tmp_path / "two")


def test_resume_without_optimizer_state_is_caught(tmp_path, monkeypatch):
    """Planted bug for the test above: a resume that forgets the optimizer state differs."""
    import ditgp.models.train as T

    train(SPEC, CFG, _tc(steps=6), tmp_path / "one", quiet=True, report=False)
    train(SPEC, CFG, _tc(steps=3, decay_steps=6), tmp_path / "two", quiet=True, report=False)
    monkeypatch.setattr(T, "load_optimizer_tensors", lambda *a, **k: None)
    train(SPEC, CFG, _tc(steps=6), tmp_path / "two", resume=True, quiet=True, report=False)
    with pytest.raises(AssertionError, match="differs"):
        _assert_bitwise_equal(_final_state(tmp_path / "one"), _final_state(tmp_path / "two"))


def test_run_folder_metrics_report_and_bundle(tmp_path):
    from ditgp.cli import main

    run = tmp_path / "run"
    res = train(SPEC, CFG, _tc(steps=4, eval_every=2, ckpt_every=2, keep=1), run, quiet=True)
    names = {p.name for p in run.iterdir()}
    assert {"config.json", "metrics.jsonl", "checkpoints", "final", "summary.md", "curves.png"} <= names
    assert [p.name for p in list_checkpoints(run / "checkpoints")] == ["step-00000004"]
    cfg = json.loads((run / "config.json").read_text())
    assert GPSpec.from_dict(cfg["spec"]) == SPEC and cfg["params"] == res.params > 0
    assert cfg["train"]["decay_steps"] == 4
    recs = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    train_recs = [r for r in recs if r["kind"] == "train"]
    assert [r["step"] for r in train_recs] == [1, 2, 3, 4]
    for r in train_recs:
        assert {"loss", "floor", "excess", "grad_norm", "lr", "seq_per_s"} <= set(r)
        assert r["excess"] == pytest.approx(r["loss"] - r["floor"], rel=1e-12, abs=1e-15)
        assert 0 < r["floor"] < 1
    evals = [r for r in recs if r["kind"] == "eval"]
    assert [e["step"] for e in evals] == [2, 4]
    assert len(evals[0]["t"]) == 4 and len(evals[0]["model"]) == 4
    assert evals[0]["baseline"] == evals[1]["baseline"]  # a fixed evaluation set
    summary = (run / "summary.md").read_text()
    assert "independent frames" in summary and "curves.png" in summary
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the final bundle is the EMA network and loads in `ditgp inspect`
    assert main(["inspect", str(run / "final")]) == 0


class _OracleDenoiser(torch.nn.Module):
    """ε* = −σ_t s(x, t), the Bayes-optimal ε-prediction (docs/theory.md §2), plus a dead weight."""

    def __init__(self, spec: GPSpec):
        super().__init__()
        self.spec = spec
        self.w = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x, t):
        sig = torch.sqrt(-torch.expm1(-t.double())).to(x.dtype).reshape(-1, 1, 1)
        s = Oracle.for_spec(self.spec).score(x.detach().double(), t.detach().cpu().numpy())
        return -sig * s.to(x.dtype) + 0.0 * self.w


def _oracle_excess(tmp_path, monkeypatch) -> tuple[float, float, dict]:
    import ditgp.models as M
    import ditgp.models.export as E

    monkeypatch.setattr(M, "build_model", lambda cfg, spec, init_from=None: _OracleDenoiser(spec))
    monkeypatch.setattr(E, "export_bundle", lambda *a, **k: None)  # not a real network
    steps, batch = 8, 64
    train(SPEC, CFG, _tc(steps=steps, batch=batch, dtype="float64", lr=1e-9, log_every=1,
                         eval_every=steps, ckpt_every=steps), tmp_path / "r", quiet=True,
          report=False)
    recs = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    ex = np.array([r["excess"] for r in recs if r["kind"] == "train"])
    floor = float(np.mean([r["floor"] for r in recs if r["kind"] == "train"]))
    # a batch loss of ε* averages d·H·batch squared residuals whose mean is the floor and whose
    # variance is at most 2·floor·(1 + floor) per element (Gaussian residuals, conservative)
    se = math.sqrt(2.0 * floor * (1 + floor) / (SPEC.d * SPEC.H * batch * steps))
    return float(ex.mean()), 4 * se, [r for r in recs if r["kind"] == "eval"][-1]


def test_excess_loss_of_the_bayes_optimal_denoiser_is_zero(tmp_path, monkeypatch):
    """The logged excess of ε* is zero to Monte-Carlo error: loss and floor are on the same
    scale (per element) and at the same (sampled) times."""
    mean, tol, ev = _oracle_excess(tmp_path, monkeypatch)
    assert abs(mean) < tol, (mean, tol)
    assert max(ev["model"]) < 1e-10  # the exact denoiser has zero score error


def test_excess_loss_catches_a_floor_at_the_wrong_time(tmp_path, monkeypatch):
    """Planted bug: the floor evaluated at one time (the middle of ``[t0, T]``) for every row
    instead of at each row's sampled ``t``."""
    import ditgp.models.data as D

    real = D.bayes_floor
    s = SPEC.schedule
    monkeypatch.setattr(D, "bayes_floor", lambda spec, t: real(spec, np.full(np.shape(t), (s.t0 + s.T) / 2)))
    mean, tol, _ = _oracle_excess(tmp_path, monkeypatch)
    assert abs(mean) > tol


def _cli(*args: str, env_extra: dict | None = None, stderr=subprocess.DEVNULL) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1", **(env_extra or {}))
    return subprocess.Popen([sys.executable, "-m", "ditgp", "train", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=stderr)


def _spec_args(tmp_path: Path) -> list[str]:
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(SPEC.to_json())
    return ["--spec", str(spec_file), "--batch", "8", "--lr", "3e-3", "--warmup", "2",
            "--ema", "0.9", "--eval-every", "2", "--ckpt-every", "2", "--n-eval", "8",
            "--log-every", "1", "--threads", "1", "--quiet"]


@pytest.mark.slow
def test_kill9_during_checkpoint_write_resumes_identically(tmp_path):
    """(b) SIGKILL while checkpoint 4 is half written: --resume continues from checkpoint 2
    and ends bit-identical to an uninterrupted run."""
    from ditgp.cli import build_parser
    from ditgp.cli.train import resolve

    base = _spec_args(tmp_path)
    flag = tmp_path / "paused"
    victim = _cli(*base, "--steps", "6", "--out", str(tmp_path / "run"),
                  env_extra={"DITGP_CHECKPOINT_PAUSE": f"4:{flag}"})
    # meanwhile, the uninterrupted reference run in-process, resolved from the same flags
    args = build_parser().parse_args(["train", *base, "--steps", "6", "--out", str(tmp_path / "ref")])
    spec, cfg, tc, _ = resolve(args)
    train(spec, cfg, tc, tmp_path / "ref", quiet=True, report=False)
    deadline = time.monotonic() + 240
    while not flag.exists():
        assert victim.poll() is None, "the training subprocess ended before the hook paused it"
        assert time.monotonic() < deadline, "the test hook never paused"
        time.sleep(0.05)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL
    ckdir = tmp_path / "run" / "checkpoints"
    assert [p.name for p in list_checkpoints(ckdir)] == ["step-00000002"]
    assert any(p.name.startswith(".tmp-step-00000004") for p in ckdir.iterdir())
    resumed = _cli(*base, "--steps", "6", "--out", str(tmp_path / "run"), "--resume",
                   stderr=subprocess.PIPE)
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert b"step-00000002" in err
    assert not any(p.name.startswith(".tmp") for p in ckdir.iterdir())
    _assert_bitwise_equal(read_checkpoint(ckdir / "step-00000006"),
                          read_checkpoint(tmp_path / "ref" / "checkpoints" / "step-00000006"))
    assert _train_lines(tmp_path / "ref") == _train_lines(tmp_path / "run")


def test_resume_skips_a_corrupt_newest_checkpoint(tmp_path):
    run = tmp_path / "run"
    train(SPEC, CFG, _tc(steps=4, decay_steps=6, ckpt_every=2), run, quiet=True, report=False)
    newest = run / "checkpoints" / "step-00000004"
    data = bytearray((newest / "ema.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (newest / "ema.safetensors").write_bytes(bytes(data))
    notes = []
    res = train(SPEC, CFG, _tc(steps=6, ckpt_every=2), run, resume=True, quiet=True, report=False,
                notify=notes.append)
    assert res.start_step == 2
    assert any("skipped checkpoint" in n and "sha256" in n for n in notes)
    ref = train(SPEC, CFG, _tc(steps=6, ckpt_every=2), tmp_path / "ref", quiet=True, report=False)
    assert ref.steps == 6
    _assert_bitwise_equal(_final_state(run), _final_state(tmp_path / "ref"))


def test_finite_training_set_is_stored_and_reused(tmp_path):
    from ditgp.models.data import load_train_set

    run = tmp_path / "run"
    train(SPEC, CFG, _tc(steps=2, n_train=5, decay_steps=4), run, quiet=True, report=False)
    x, spec = load_train_set(run / "train_set.safetensors")
    assert x.shape == (5, SPEC.d, SPEC.H) and spec == SPEC
    res = train(SPEC, CFG, _tc(steps=4, n_train=5), run, resume=True, quiet=True, report=False)
    assert res.steps == 4


def test_minutes_fixes_and_records_the_step_target(tmp_path):
    notes = []
    res = train(SPEC, CFG, _tc(minutes=0.02, eval_every=10_000, ckpt_every=10_000, log_every=50),
                tmp_path / "run", quiet=True, report=False, notify=notes.append)
    cfg = json.loads((tmp_path / "run" / "config.json").read_text())
    assert cfg["train"]["steps"] == cfg["train"]["decay_steps"] == res.steps > 20
    assert any("step target fixed" in n for n in notes)
    assert [p.name for p in list_checkpoints(tmp_path / "run" / "checkpoints")] == \
        [f"step-{res.steps:08d}"]


def test_theory_family_trains(tmp_path):
    from ditgp.models.config import preset, theory_config

    cfg = theory_config(preset("tiny"), SPEC.d)
    res = train(SPEC, cfg, _tc(steps=2, eval_every=2, ckpt_every=2), tmp_path / "run", quiet=True,
                report=False)
    assert res.steps == 2 and np.isfinite(res.final["loss"])
    assert json.loads((tmp_path / "run" / "final" / "manifest.json").read_text())["origin"] == "trained"


def test_diverging_training_stops_with_an_error_naming_lr(tmp_path):
    """A learning rate that blows the weights up stops the run with one clear error (naming
    ``--lr``) before a non-finite update, instead of writing NaN into metrics or checkpoints."""
    with pytest.raises(SpecError, match="--lr"):
        train(SPEC, CFG, _tc(steps=40, lr=1e12, clip=0.0, warmup=0, ckpt_every=1000), tmp_path / "run",
              quiet=True, report=False)
