"""Cost models: the data stream's cost enters every experiment's estimate (CPU measured, GPU
assumed), and ``--dry-run`` plans the gpu presets on a machine without a GPU."""

from __future__ import annotations

import pytest
import torch
from ditgp.verify.reproduce import cost
from ditgp.verify.reproduce.base import experiment, parse_seeds

from ditgp.cli import main

EXPERIMENTS = ("attention", "decay", "video", "length")


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_gpu_preset_dry_run_plans_without_the_device(name, tmp_path, capsys):
    argv = ["reproduce", name, "--preset", "gpu", "--dry-run", "--out", str(tmp_path)]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "device cuda; estimated" in err and "data stream" in err
    assert "assumed, not measured on a GPU" in err
    assert not any(tmp_path.iterdir())  # a plan writes nothing
    if not torch.cuda.is_available():  # the real run still needs the device
        assert main(argv[:-3] + ["--out", str(tmp_path)]) == 2


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_the_stream_cost_is_part_of_each_estimate(name, monkeypatch):
    """Planted: a stream that costs nothing lowers every gpu-preset estimate, on both devices
    (the term is in the model, not just documented)."""
    exp = experiment(name)
    params = exp.params("gpu")
    cells = exp.cells(params, parse_seeds(None, 1))
    with_stream = {dev: exp.estimate_seconds(params, cells, dev) for dev in ("cuda", "cpu")}
    monkeypatch.setattr(cost, "stream_seconds", lambda *a, **k: 0.0)
    for dev, est in with_stream.items():
        assert exp.estimate_seconds(params, cells, dev) < est


def test_stream_cost_numbers():
    paper_cpu = cost.stream_seconds(64, 8, 96, "cpu")
    assert 1e-3 < paper_cpu < 5e-3  # measured 2.6 ms on the 2-core machine
    assert cost.stream_seconds(64, 8, 96, "cuda") < 0.05 * cost.GPU_PAPER_STEP_S  # assumed ≤ 5 %
    assert cost.stream_seconds(64, 8, 96, "cpu", gp_draws=False) < paper_cpu
    assert cost.GPU_PAPER_STEP_S == pytest.approx(1 / 26.5)


def test_decay_cpu_step_splits_off_the_stream_at_its_calibration_size():
    from ditgp.verify.reproduce import decay

    ref = decay._CPU_REF
    assert decay._CPU_REF_STREAM_S == pytest.approx(
        cost.stream_seconds(ref["batch"], 2, ref["H"], "cpu", gp_draws=False), rel=1e-12)
