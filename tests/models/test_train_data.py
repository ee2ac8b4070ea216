"""``train(..., data=...)``: training on a given tensor (data that is not a GP of the spec):
bitwise resume, the recorded data and its check on resume, no floor/oracle evaluation, the
exported bundle without a ``measured`` error, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from ditgp.models.checkpoint import latest_checkpoint
from ditgp.models.config import ModelConfig
from ditgp.models.export import load_trained
from ditgp.models.train import TrainConfig, train
from ditgp.models.video import MovingBall, make_video
from ditgp.theory.errors import SpecError

BALL = MovingBall(frames=6, size=6, radius=1.2, ell=2.0)
SPEC = BALL.pseudo_spec()
DATA = torch.from_numpy(make_video(BALL, 24, seed=0).x)
CFG = ModelConfig("dit", width=16, depth=1, heads=2)


def _tc(**kw) -> TrainConfig:
    base = dict(steps=6, batch=8, lr=3e-3, warmup=2, ema=0.9, eval_every=3, ckpt_every=3,
                log_every=1, threads=1)
    base.update(kw)
    return TrainConfig(**base)


def _state(run):
    ck, skipped = latest_checkpoint(run / "checkpoints")
    assert skipped == []
    return ck


def _equal(a, b) -> bool:
    return a.step == b.step and all(
        torch.equal(a.tensors[g][k], b.tensors[g][k]) for g in ("model", "ema", "optimizer")
        for k in a.tensors[g])


def _lines(run):
    recs = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in ("seq_per_s", "time_s")} for r in recs]


def test_data_run_resumes_bitwise_and_records_the_data(tmp_path):
    one = train(SPEC, CFG, _tc(), tmp_path / "one", quiet=True, report=False, data=DATA)
    train(SPEC, CFG, _tc(steps=3, decay_steps=6), tmp_path / "two", quiet=True, report=False,
          data=DATA)
    res = train(SPEC, CFG, _tc(), tmp_path / "two", resume=True, quiet=True, report=False,
                data=DATA)
    assert res.start_step == 3 and res.steps == 6
    assert _equal(_state(tmp_path / "one"), _state(tmp_path / "two"))
    assert _lines(tmp_path / "one") == _lines(tmp_path / "two")
    lines = _lines(tmp_path / "one")
    assert all(r["kind"] == "train" for r in lines)  # no oracle evaluation
    assert all(r["floor"] == 0.0 and r["excess"] == r["loss"] for r in lines)
    cfg = json.loads((tmp_path / "one" / "config.json").read_text())
    assert cfg["data"]["n"] == 24 and len(cfg["data"]["sha256"]) == 64
    assert not (tmp_path / "one" / "train_set.safetensors").exists()
    net = load_trained(one.bundle)
    assert net.manifest["measured"] is None and net.manifest["metrics"]["data"] == cfg["data"]
    x = DATA[:2].double().numpy()
    assert net.score(x, 0.5).shape == x.shape and np.all(np.isfinite(net.score(x, 0.5)))
    # the data changes what is learned: other data, other weights (the tensor is used)
    train(SPEC, CFG, _tc(), tmp_path / "other", quiet=True, report=False, data=-DATA)
    assert not _equal(_state(tmp_path / "one"), _state(tmp_path / "other"))


def test_resume_with_other_data_or_without_data_is_refused(tmp_path):
    train(SPEC, CFG, _tc(steps=3, decay_steps=6), tmp_path / "run", quiet=True, report=False,
          data=DATA)
    other = DATA.clone()
    other[0, 0, 0] += 1e-3
    with pytest.raises(SpecError, match="data"):
        train(SPEC, CFG, _tc(), tmp_path / "run", resume=True, quiet=True, report=False, data=other)
    with pytest.raises(SpecError, match="GP draws|sha256"):
        train(SPEC, CFG, _tc(), tmp_path / "run", resume=True, quiet=True, report=False)


@pytest.mark.parametrize("bad,match", [
    (torch.zeros(4, SPEC.d, SPEC.H + 1), "data"),
    (torch.zeros(SPEC.d, SPEC.H), "data"),
    (torch.full((2, SPEC.d, SPEC.H), float("nan")), "non-finite"),
])
def test_bad_data_is_named(tmp_path, bad, match):
    with pytest.raises(SpecError, match=match):
        train(SPEC, CFG, _tc(), tmp_path / "run", quiet=True, report=False, data=bad)
    with pytest.raises(SpecError, match="--n-train"):
        train(SPEC, CFG, _tc(n_train=4), tmp_path / "run2", quiet=True, report=False, data=DATA)


def test_data_run_skips_the_floor_and_oracle_report(tmp_path):
    res = train(SPEC, CFG, _tc(steps=2, ckpt_every=2), tmp_path / "run", quiet=True, data=DATA)
    assert res.steps == 2 and res.evaluation is None and not (tmp_path / "run" / "curves.png").exists()
