"""``ditgp reproduce all --preset toy`` end to end: every experiment ends in a verdict object of
the schema (claim, verdict, statistic, interval, unit of replication, control, power), and
each summary leads with it."""

from __future__ import annotations

import json

from ditgp.verify.reproduce.verdict import VERDICTS, validate_verdict

from ditgp.cli import main

EXPERIMENTS = ("attention", "decay", "video", "length")


def test_all_toy_presets_end_in_verdicts(tmp_path, capsys):
    assert main(["reproduce", "all", "--preset", "toy", "--jobs", "2", "--quiet",
                 "--out", str(tmp_path)]) == 0
    for name in EXPERIMENTS:
        doc = json.loads((tmp_path / name / "results.json").read_text())
        v = doc["verdict"]
        validate_verdict(v)
        assert v["verdict"] in VERDICTS and v["replication"]["unit"] == "seeds"
        assert v["control"]["name"] and v["power"]
        lines = (tmp_path / name / "summary.md").read_text().splitlines()
        assert any(line.startswith("**Verdict: ") for line in lines[:6]), name
