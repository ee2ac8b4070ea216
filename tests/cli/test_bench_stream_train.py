"""``ditgp bench stream`` / ``bench train``: the JSON keys, the numbers' consistency, and bad
values refused in one line (exit 2).  No timing is asserted (benchmarks, not timed tests)."""

from __future__ import annotations

import json

import pytest

from ditgp.cli import main


def _json(capsys, argv: list[str]) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_bench_stream_json_has_both_timings_and_their_ratio(capsys):
    r = _json(capsys, ["bench", "stream", "--preset", "tiny", "--device", "cpu", "--steps", "3",
                       "--json"])
    assert r["stream_ms"] > 0 and r["raw_normals_ms"] > 0
    assert r["ratio"] == pytest.approx(r["stream_ms"] / r["raw_normals_ms"])
    assert r["normals"] == 2 * r["batch"] * r["d"] * r["H"] and r["batches_timed"] == 3
    assert r["device"] == "cpu" and r["preset"] == "tiny"


def test_bench_train_reports_data_step_and_says_compile_is_unavailable_on_cpu(capsys):
    r = _json(capsys, ["bench", "train", "--preset", "tiny", "--device", "cpu", "--steps", "1",
                       "--compile", "--json"])
    f = r["dtypes"]["float32"]
    assert r["data_ms_per_batch"] > 0 and f["step_ms"] > 0
    assert f["steps_per_s"] == pytest.approx(1e3 / f["step_ms"])
    assert f["tokens_per_s"] == pytest.approx(f["sequences_per_s"] * r["H"])
    assert f["data_share"] == pytest.approx(r["data_ms_per_batch"] / f["step_ms"])
    assert f["mfu"] is None and set(r["dtypes"]) == {"float32"}
    assert r["compile"]["requested"] and not r["compile"]["available"]
    assert main(["bench", "train", "--preset", "tiny", "--device", "cpu", "--steps", "1",
                 "--compile"]) == 0
    assert "--compile: unavailable on cpu" in capsys.readouterr().out


@pytest.mark.parametrize("argv, line", [
    (["bench", "train", "--steps", "-1"], "--steps=-1: expected an integer ≥ 1"),
    (["bench", "train", "--steps", "0"], "--steps=0: expected an integer ≥ 1"),
    (["bench", "stream", "--steps", "0"], "--steps=0: expected an integer ≥ 1"),
    (["bench", "train", "--device", "tpu"], "--device='tpu': expected cpu or cuda[:N]"),
    (["bench", "stream", "--device", "tpu"], "--device='tpu': expected cpu or cuda[:N]"),
    (["bench", "stream", "--preset", "huge"], "--preset='huge'"),
], ids=["train-steps-neg", "train-steps-0", "stream-steps-0", "train-tpu", "stream-tpu",
        "stream-preset"])
def test_bad_values_one_line_exit_2(capsys, argv, line):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and line in err[0]
