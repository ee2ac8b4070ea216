"""`ditgp verify`: report and plots on a claim subset; a tampered bundle fails by name."""

from __future__ import annotations

import json

import pytest

from ditgp.cli import main


def test_verify_subset_writes_report_and_plots(tmp_path, capsys):
    out = tmp_path / "rep"
    rc = main(["verify", "--claims", "1,2,9", "--examples", "10", "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "gd-contraction" in printed and "PASS" in printed
    doc = json.loads((out / "report.json").read_text())
    assert doc["passed"] and [c["id"] for c in doc["claims"]] == [
        "score-fixed-point", "gd-contraction", "bayes-floor"]
    md = (out / "report.md").read_text()
    assert "| 2 | `gd-contraction` | paper | 10 |" in md
    for png in ("error_vs_layers.png", "attention_vs_kernel.png", "window_vs_delta.png",
                "eigenvalue_bounds.png"):
        assert (out / png).read_bytes()[:4] == b"\x89PNG", png
        assert "error" not in doc["plots"][png], doc["plots"][png]


def test_verify_shard_and_json(tmp_path, capsys):
    rc = main(["verify", "--claims", "1,2,9", "--examples", "5", "--shard", "1/2", "--json",
               "--no-plots", "--out", str(tmp_path)])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in doc["claims"]] == ["gd-contraction"]


def test_verify_bad_shard_is_a_one_line_error(tmp_path, capsys):
    assert main(["verify", "--shard", "3/2", "--out", str(tmp_path)]) == 2
    assert "--shard" in capsys.readouterr().err


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    numerics = pytest.importorskip("ditgp.numerics")
    if not hasattr(numerics, "construct"):
        pytest.skip("ditgp.numerics.constructions.construct not available")
    from ditgp.theory.kernels import kernel
    from ditgp.theory.spec import GPSpec

    spec = GPSpec(kernel("laplace", ell=2.0), H=6, d=2)
    con = numerics.construct(spec, t=0.5, eps=1e-4, attention="compact", algorithm="gd",
                             time_conditioning="fixed")
    return con.save(tmp_path_factory.mktemp("bundle") / "b")


def test_weights_of_an_intact_bundle_pass(bundle, tmp_path):
    rc = main(["verify", "--claims", "1", "--examples", "3", "--no-plots", "--weights",
               str(bundle), "--out", str(tmp_path)])
    assert rc == 0


def _tamper(src, dst, names=("attn.W_v", "attn.W_o")):
    import hashlib
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    shutil.copytree(src, dst)
    w = load_file(str(dst / "weights.safetensors"))
    for name in [n for n in w if n.endswith(tuple(names))]:
        w[name] = w[name] * 1.5 + torch.ones_like(w[name]) * 0.01  # wrong value matrices
    save_file(w, str(dst / "weights.safetensors"))
    m = json.loads((dst / "manifest.json").read_text())
    m["weights"]["sha256"] = hashlib.sha256((dst / "weights.safetensors").read_bytes()).hexdigest()
    (dst / "manifest.json").write_text(json.dumps(m))


def test_tampered_bundle_fails_naming_the_check(bundle, tmp_path, capsys):
    bad = tmp_path / "bad"
    _tamper(bundle, bad)
    rc = main(["verify", "--claims", "1", "--examples", "3", "--no-plots", "--weights",
               str(bad), "--out", str(tmp_path / "rep")])
    assert rc != 0
    err = capsys.readouterr().err
    assert "score-vs-oracle" in err


def test_tampered_first_block_fails_the_attention_check(bundle, tmp_path, capsys):
    """Block 1 acts on the zero initial iterate, so its value matrices never move the scores:
    only the structural check of the attention (claim attention-kernel on the bundle) sees it."""
    bad = tmp_path / "bad1"
    _tamper(bundle, bad, names=("blocks.0.attn.W_v",))
    rc = main(["verify", "--claims", "1", "--examples", "3", "--no-plots", "--weights",
               str(bad), "--out", str(tmp_path / "rep")])
    assert rc != 0
    err = capsys.readouterr().err
    assert "attention" in err and "score-vs-oracle" not in err


def test_shards_merge_into_one_report(tmp_path, capsys):
    common = ["--claims", "1,2,3", "--examples", "3", "--no-plots"]
    for i in range(2):
        assert main(["verify", *common, "--shard", f"{i}/2", "--out", str(tmp_path / f"s{i}")]) == 0
    merged = tmp_path / "merged"
    assert main(["verify", "--merge", str(tmp_path / "s0"), str(tmp_path / "s1"),
                 "--out", str(merged), "--no-plots"]) == 0
    doc = json.loads((merged / "report.json").read_text())
    assert [r["number"] for r in doc["claims"]] == [1, 2, 3] and doc["passed"]
    # the same shard twice is refused with a one-line reason
    assert main(["verify", "--merge", str(tmp_path / "s0"), str(tmp_path / "s0"),
                 "--out", str(tmp_path / "merged2")]) == 2
    assert "expected shards with disjoint claims" in capsys.readouterr().err


# -- bad inputs answered in one line, before any work ---------------------------------------
def _one_line_error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err and len(err.splitlines()) == 1, err
    return err


def test_empty_claims_is_refused(tmp_path, capsys):
    err = _one_line_error(capsys, ["verify", "--claims", "", "--out", str(tmp_path / "r")])
    assert "--claims" in err
    assert not (tmp_path / "r" / "report.json").exists()


def test_out_that_is_a_file_is_refused(tmp_path, capsys):
    f = tmp_path / "notes.txt"
    f.write_text("keep me")
    err = _one_line_error(capsys, ["verify", "--claims", "1", "--out", str(f)])
    assert "--out" in err and f.read_text() == "keep me"


def test_read_only_out_is_refused_before_work(tmp_path, capsys, monkeypatch):
    import os

    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if str(p) == str(ro)
                        else real(p, mode, **kw))  # works as root too
    called = []
    import ditgp.verify.claims as C

    monkeypatch.setattr(C, "run_claim", lambda *a, **k: called.append(1))
    err = _one_line_error(capsys, ["verify", "--claims", "1", "--out", str(ro / "rep")])
    assert "not writable" in err and not called


def test_existing_report_is_not_overwritten_unless_forced(tmp_path, capsys):
    out = tmp_path / "rep"
    args = ["verify", "--claims", "1", "--examples", "2", "--no-plots", "--out", str(out)]
    assert main(args) == 0
    (out / "notes.md").write_text("mine")
    before = (out / "report.json").read_text()
    err = _one_line_error(capsys, args)
    assert "--force" in err and (out / "report.json").read_text() == before
    assert main([*args, "--force"]) == 0
    assert (out / "notes.md").read_text() == "mine"  # only the report's own files replaced


def test_merge_needs_every_shard_and_never_writes_into_a_shard(tmp_path, capsys):
    common = ["--claims", "1,2,9", "--examples", "2", "--no-plots"]
    for i in range(2):
        assert main(["verify", *common, "--shard", f"{i}/2", "--out", str(tmp_path / f"s{i}")]) == 0
    capsys.readouterr()
    err = _one_line_error(capsys, ["verify", "--merge", str(tmp_path / "s0"), "--out",
                                   str(tmp_path / "m")])
    assert "1/2" in err and not (tmp_path / "m" / "report.json").exists()
    before = (tmp_path / "s0" / "report.json").read_text()
    err = _one_line_error(capsys, ["verify", "--merge", str(tmp_path / "s0"),
                                   str(tmp_path / "s1"), "--out", str(tmp_path / "s0"), "--force"])
    assert "--out" in err and (tmp_path / "s0" / "report.json").read_text() == before


def test_one_line_per_claim_as_it_finishes(tmp_path, capsys):
    assert main(["verify", "--claims", "1,9", "--examples", "2", "--no-plots", "--out",
                 str(tmp_path / "r")]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [ln for ln in lines if ln.split()[:1] in (["1"], ["9"])]
    assert len(rows) == 2 and all(ln.rstrip().endswith("s)") for ln in rows)
    assert lines.index(rows[-1]) < next(i for i, ln in enumerate(lines) if ln.startswith("report:"))


def test_weights_alone_checks_only_the_bundle(bundle, tmp_path):
    out = tmp_path / "w"
    assert main(["verify", "--weights", str(bundle), "--no-plots", "--out", str(out)]) == 0
    doc = json.loads((out / "report.json").read_text())
    assert doc["claims"] == [] and doc["weights"]["passed"]
    assert main(["verify", "--weights", str(bundle), "--with-claims", "--claims", "9",
                 "--examples", "2", "--no-plots", "--out", str(tmp_path / "w2")]) == 0
    doc = json.loads((tmp_path / "w2" / "report.json").read_text())
    assert [c["id"] for c in doc["claims"]] == ["bayes-floor"]


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_non_finite_measurement_fails(bad):
    from ditgp.verify.claims import Claim, Outcome, run_claim
    from hypothesis import strategies as st

    c = Claim("nan-check", 99, "s", "x", "diagnostic", "none", lambda: st.just(1),
              lambda inp: Outcome(1.0, bad, 1.0))
    assert run_claim(c, examples=1).status == "fail"
    c2 = Claim("nan-bound", 99, "s", "x", "diagnostic", "none", lambda: st.just(1),
               lambda inp: Outcome(1.0, 0.5, bad))
    assert run_claim(c2, examples=1).status == "fail"
