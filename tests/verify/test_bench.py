"""The benchmarks behind ``ditgp bench`` return numbers measured in the run (the command line
tests in ``tests/cli`` check what is printed)."""

from __future__ import annotations

import pytest
from ditgp.theory.kernels import kernel
from ditgp.theory.spec import GPSpec
from ditgp.verify.bench.progress import progress_bar

SPEC = GPSpec(kernel("laplace", ell=3.0), H=8, d=2)


def test_progress_bar_without_progress_is_the_list():
    assert progress_bar(iter((1, 2, 3)), "x", progress=False) == [1, 2, 3]


def test_bench_train_on_cpu_reports_throughput_and_counted_flops():
    from ditgp.verify.bench.training import bench_train, device_peak

    res = bench_train("tiny", "cpu", steps=1, warmup=0, spec=SPEC)
    r = res["dtypes"]["float32"]
    assert set(res["dtypes"]) == {"float32"} and r["mfu"] is None
    assert r["steps_per_s"] > 0 and r["tokens_per_s"] == pytest.approx(r["sequences_per_s"] * SPEC.H)
    assert r["flops_per_step"] > 0 and r["achieved_gflops"] > 0
    assert device_peak("NVIDIA H100 PCIe", "bf16") == 756e12
    assert device_peak("NVIDIA H100 80GB HBM3", "bf16") == 989e12
    assert device_peak("cpu", "float32") is None
