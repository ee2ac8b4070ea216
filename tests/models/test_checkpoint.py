"""Checkpoints (safetensors + JSON, atomic, verified), optimizer state without pickle, the
learning-rate schedule and the EMA update."""

from __future__ import annotations

import json
import math

import pytest
import torch
from ditgp.models.checkpoint import (
    CheckpointError,
    latest_checkpoint,
    list_checkpoints,
    load_optimizer_tensors,
    optimizer_tensors,
    read_checkpoint,
    remove_temporaries,
    rng_tensors,
    set_rng_tensors,
    write_checkpoint,
)
from ditgp.models.ema import MIN_LR_RATIO, ema_decay, learning_rate, make_ema, update_ema


def _net(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))


def _steps(net, opt, n: int, start: int = 0) -> None:
    for k in range(start, start + n):
        g = torch.Generator().manual_seed(k)
        x = torch.randn(4, 3, generator=g)
        loss = net(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def _save(root, step, net, opt, keep=3, extra=None):
    t, meta = optimizer_tensors(opt)
    state = {"optimizer": meta, "cursor": {"next_batch": step}, **(extra or {})}
    return write_checkpoint(root, step, {"model": dict(net.state_dict()), "ema": dict(net.state_dict()),
                                         "optimizer": t, "rng": rng_tensors()}, state, keep=keep)


def test_round_trip_is_exact_and_continues_identically(tmp_path):
    net, = (_net(),)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-2, weight_decay=0.1)
    _steps(net, opt, 3)
    path = _save(tmp_path, 3, net, opt, extra={"x": 0.1 + 0.2})
    ck = read_checkpoint(path)
    assert ck.step == 3 and ck.state["x"] == 0.1 + 0.2  # floats round-trip exactly in JSON
    for k, v in net.state_dict().items():
        assert torch.equal(ck.tensors["model"][k], v)
    # a fresh network + optimizer loaded from the checkpoint continues bit for bit
    net2 = _net(seed=1)
    opt2 = torch.optim.AdamW(net2.parameters(), lr=1e-2, weight_decay=0.1)
    net2.load_state_dict(ck.tensors["model"])
    load_optimizer_tensors(opt2, ck.tensors["optimizer"], ck.state["optimizer"])
    _steps(net, opt, 2, start=3)
    _steps(net2, opt2, 2, start=3)
    for (k, a), b in zip(net.state_dict().items(), net2.state_dict().values(), strict=True):
        assert torch.equal(a, b), k


def test_fresh_optimizer_does_not_continue_identically(tmp_path):
    """The planted bug for the test above: dropping the optimizer state changes the run."""
    net = _net()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-2)
    _steps(net, opt, 3)
    ck = read_checkpoint(_save(tmp_path, 3, net, opt))
    net2 = _net(seed=1)
    net2.load_state_dict(ck.tensors["model"])
    opt2 = torch.optim.AdamW(net2.parameters(), lr=1e-2)  # moments not restored
    _steps(net, opt, 1, start=3)
    _steps(net2, opt2, 1, start=3)
    assert not all(torch.equal(a, b) for a, b in zip(net.parameters(), net2.parameters(), strict=True))


def test_no_pickle_files_only_safetensors_and_json(tmp_path):
    net = _net()
    opt = torch.optim.AdamW(net.parameters())
    _steps(net, opt, 1)
    path = _save(tmp_path, 1, net, opt)
    names = sorted(p.name for p in path.iterdir())
    assert names == ["ema.safetensors", "model.safetensors", "optimizer.safetensors",
                     "rng.safetensors", "state.json"]
    state = json.loads((path / "state.json").read_text())
    assert state["optimizer"]["param_groups"][0]["betas"] == [0.9, 0.999]


def test_keep_last_k_and_newest_complete_wins(tmp_path):
    net = _net()
    opt = torch.optim.AdamW(net.parameters())
    for step in (10, 20, 30, 40):
        _save(tmp_path, step, net, opt, keep=2)
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-00000030", "step-00000040"]
    ck, skipped = latest_checkpoint(tmp_path)
    assert ck.step == 40 and skipped == []


@pytest.mark.parametrize("damage", ["flip-byte", "truncate", "no-state", "bad-json"])
def test_corrupt_newest_checkpoint_is_skipped(tmp_path, damage):
    net = _net()
    opt = torch.optim.AdamW(net.parameters())
    _save(tmp_path, 1, net, opt)
    newest = _save(tmp_path, 2, net, opt)
    target = newest / "model.safetensors"
    if damage == "flip-byte":
        data = bytearray(target.read_bytes())
        data[-3] ^= 0x01
        target.write_bytes(bytes(data))
    elif damage == "truncate":
        target.write_bytes(target.read_bytes()[:-10])
    elif damage == "no-state":
        (newest / "state.json").unlink()
    else:
        (newest / "state.json").write_text("{")
    with pytest.raises(CheckpointError):
        read_checkpoint(newest)
    ck, skipped = latest_checkpoint(tmp_path)
    assert ck.step == 1
    assert [p.name for p, _ in skipped] == ["step-00000002"]


def test_all_corrupt_gives_none_and_reasons(tmp_path):
    net = _net()
    opt = torch.optim.AdamW(net.parameters())
    only = _save(tmp_path, 5, net, opt)
    (only / "optimizer.safetensors").write_bytes(b"garbage")
    ck, skipped = latest_checkpoint(tmp_path)
    assert ck is None and "sha256" in skipped[0][1]


def test_temporaries_are_ignored_and_removed(tmp_path):
    net = _net()
    opt = torch.optim.AdamW(net.parameters())
    _save(tmp_path, 1, net, opt)
    tmp = tmp_path / ".tmp-step-00000002-999"
    tmp.mkdir()
    (tmp / "model.safetensors").write_bytes(b"half")
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-00000001"]
    assert remove_temporaries(tmp_path) == [tmp] and not tmp.exists()


def test_rng_state_round_trip():
    torch.manual_seed(3)
    saved = rng_tensors()
    a = torch.rand(4)
    torch.manual_seed(99)
    set_rng_tensors(saved)
    assert torch.equal(torch.rand(4), a)


def test_learning_rate_schedule():
    lr, W, N = 1e-3, 10, 111
    sched = [learning_rate(k, lr=lr, warmup=W, decay_steps=N) for k in range(N + 20)]
    assert sched[0] == pytest.approx(lr / W) and sched[W - 1] == pytest.approx(lr)
    assert sched[W] == pytest.approx(lr)  # cosine starts at the peak
    assert sched[N - 1] == pytest.approx(MIN_LR_RATIO * lr)  # and ends at the floor
    mid = W + (N - 1 - W) // 2
    assert sched[mid] == pytest.approx(lr * (MIN_LR_RATIO + (1 - MIN_LR_RATIO) / 2), rel=1e-12)
    assert all(a >= b for a, b in zip(sched[W:], sched[W + 1:], strict=False))
    assert sched[-1] == pytest.approx(MIN_LR_RATIO * lr)
    assert learning_rate(0, lr=lr, warmup=0, decay_steps=5) == pytest.approx(lr)


def test_ema_update_formula():
    net = _net()
    ema = make_ema(net)
    assert all(not p.requires_grad for p in ema.parameters())
    before = [p.detach().clone() for p in ema.parameters()]
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    beta = ema_decay(1000, 0.99)
    assert beta == 0.99 and ema_decay(0, 0.99) == pytest.approx(0.1)
    update_ema(ema, net, beta)
    for e, b, p in zip(ema.parameters(), before, net.parameters(), strict=True):
        assert torch.allclose(e, beta * b + (1 - beta) * p, rtol=0, atol=1e-6)
    assert math.isclose(ema_decay(90, 0.999), 91 / 100)
