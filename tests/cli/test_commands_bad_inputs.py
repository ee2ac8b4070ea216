"""Every bad input a user can give gets one line on stderr, exit status 2, no traceback, and
leaves the files around it untouched (nothing written, nothing deleted).

Run in-process through ``ditgp.cli.main``; refusals happen before any heavy work, so the
table is fast.  Internal errors are told apart: one line, exit 3, ``DITGP_DEBUG=1`` for the
traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ditgp.cli import main

CUDA = torch.cuda.is_available()
ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False


@pytest.fixture
def files(tmp_path, monkeypatch):
    """A folder of the things a user has lying around; the test runs inside it."""
    monkeypatch.chdir(tmp_path)
    np.save("X.npy", np.random.default_rng(0).standard_normal((2, 4, 8)))
    np.save("C.npy", np.ones((2, 4, 8)) * (1 + 1j))
    np.save("O.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    bad = np.random.default_rng(0).standard_normal((2, 4, 8))
    bad[0, 0, 0] = np.nan
    np.save("N.npy", bad)
    np.save("flat.npy", np.zeros((4, 8)))
    Path("text.npy").write_text("hello\n")
    Path("notes.txt").write_text("my notes\n")
    Path("bin.json").write_bytes(bytes(range(256)))
    Path("big.json").write_text('{"kernel": {"name": "laplace", "ell": 2}, "H": 1000000, "d": 2}')
    Path("notes_dir").mkdir()
    Path("notes_dir/notes.txt").write_text("keep me\n")
    return tmp_path


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


SPEC = ["--H", "8", "--d", "4"]

# (id, argv, text the one line must contain)
CASES = [
    # derive: sizes refused by the resource budget before anything is built
    ("derive-H-1e7", ["derive", "--H", "10000000"], "--H=10000000: expected a request within"),
    ("derive-H-1e23", ["derive", "--H", "99999999999999999999999"], "--H=99999999999999999999999"),
    ("derive-d-1e5", ["derive", "--d", "100000"], "--d=100000"),
    ("derive-eig-H-20000", ["derive", "--H", "20000", "--method", "eig"], "--method fft"),
    ("derive-eig-H-50000", ["derive", "--H", "50000", "--method", "eig"], "H ≤ "),
    ("derive-spec-binary", ["derive", "--spec", "bin.json"], "expected a UTF-8 JSON file"),
    ("derive-spec-huge-H", ["derive", "--spec", "big.json", "--method", "eig"],
     "--spec H=1000000"),
    ("derive-spec-folder", ["derive", "--spec", "notes_dir"], "--spec='notes_dir'"),
    ("derive-param-twice", ["derive", "--param", "ell=2", "--param", "ell=3"],
     "ell is given twice"),
    ("derive-spatial-text-npy", ["derive", "--spatial", "file:text.npy"],
     "--spatial='text.npy': expected a .npy array file"),
    ("derive-spatial-pickled", ["derive", "--spatial", "file:O.npy"], "never unpickles"),
    ("derive-spatial-complex", ["derive", "--spatial", "file:C.npy"], "imaginary"),
    ("derive-H-not-int", ["derive", "--H", "abc"], "argument --H: invalid int value"),
    ("derive-unknown-flag", ["derive", "--nope"], "unrecognized arguments: --nope"),
    # construct
    ("construct-gd-62800-steps", ["construct", "--t", "0.001", "--param", "ell=50",
                                  "--attention", "paper", "--algorithm", "gd", "--out", "b"],
     "--algorithm chebyshev needs about"),
    ("construct-H-5000", ["construct", "--H", "5000", "--out", "b"], "fits one block"),
    ("construct-out-foreign-folder", ["construct", *SPEC, "--out", "notes_dir"],
     "holds other files"),
    ("construct-eps-2", ["construct", *SPEC, "--eps", "2", "--out", "b"], "--eps=2.0"),
    ("construct-window-negative", ["construct", *SPEC, "--window", "-1", "--out", "b"],
     "--window=-1"),
    ("construct-t-outside", ["construct", *SPEC, "--t", "50", "--out", "b"], "t=50.0"),
    ("construct-out-is-file", ["construct", *SPEC, "--out", "notes.txt"], "this is a file"),
    ("construct-out-under-file", ["construct", *SPEC, "--out", "notes.txt/b"], "is a file"),
    # score
    ("score-output-folder-slash", ["score", *SPEC, "--input", "X.npy", "--output", "out/"],
     "this is a folder"),
    ("score-output-existing-folder", ["score", *SPEC, "--input", "X.npy", "--output",
                                      "notes_dir"], "this is a folder"),
    ("score-output-text-file", ["score", *SPEC, "--input", "X.npy", "--output", "notes.txt"],
     "ending in .npy"),
    ("score-output-foreign-npy", ["score", *SPEC, "--input", "X.npy", "--output", "text.npy"],
     "--force replaces it"),
    ("score-output-is-input", ["score", *SPEC, "--input", "X.npy", "--output", "./X.npy"],
     "other than --input"),
    ("score-input-complex", ["score", *SPEC, "--input", "C.npy", "--output", "S.npy"],
     "does not drop imaginary parts"),
    ("score-input-text-named-npy", ["score", *SPEC, "--input", "text.npy", "--output", "S.npy"],
     "not: make one with numpy.save"),
    ("score-input-pickled", ["score", *SPEC, "--input", "O.npy", "--output", "S.npy"],
     "never unpickles"),
    ("score-input-missing", ["score", *SPEC, "--input", "nope.npy", "--output", "S.npy"],
     "No such file"),
    ("score-input-folder", ["score", *SPEC, "--input", "notes_dir", "--output", "S.npy"],
     "this is a folder"),
    ("score-input-nan", ["score", *SPEC, "--input", "N.npy", "--output", "S.npy"], "NaN"),
    ("score-input-2d", ["score", *SPEC, "--input", "flat.npy", "--output", "S.npy"],
     "shape (n, d, H)"),
    ("score-input-wrong-H", ["score", "--H", "16", "--d", "4", "--input", "X.npy", "--output",
                             "S.npy"], "set --d and --H to match"),
    ("score-H-1e7", ["score", "--H", "10000000", "--input", "X.npy", "--output", "S.npy"],
     "--H=10000000"),
    # inspect
    ("inspect-file", ["inspect", "notes.txt"], "this is a file, not a folder"),
    ("inspect-empty-name", ["inspect", ""], "DIR=''"),
    ("inspect-missing", ["inspect", "nope"], "no such file or folder"),
    ("inspect-foreign-folder", ["inspect", "notes_dir"], "manifest"),
    # bench
    ("bench-batch-0", ["bench", "oracle", "--batch", "0"], "--batch=0: expected an integer ≥ 1"),
    ("bench-kappas-0.5", ["bench", "depth", "--kappas", "0.5"], "--kappas='0.5'"),
    ("bench-kappas-text", ["bench", "depth", "--kappas", "ten"], "--kappas='ten'"),
    ("bench-eps-2", ["bench", "depth", "--eps", "2"], "--eps=2.0"),
    ("bench-sizes-1e5", ["bench", "oracle", "--sizes", "100000x100000"],
     "--sizes='100000x100000'"),
    ("bench-sizes-syntax", ["bench", "oracle", "--sizes", "256by8"], "HxD pairs"),
    ("bench-device-foo", ["bench", "device", "--device", "foo"], "--device='foo'"),
    ("bench-device-cpu-no-force", ["bench", "device", "--device", "cpu"], "--force"),
    ("sample-threads-0", ["sample", "--exact", "--H", "8", "--d", "2", "--n", "2", "--threads", "0",
                          "--output", "never.npy"], "--threads=0: expected an integer ≥ 1"),
    ("compare-threads-0", ["compare", "--run", "no-run", "--threads", "0"],
     "--threads=0: expected an integer ≥ 1"),
    pytest.param("bench-device-cuda-absent", ["bench", "device", "--device", "cuda"],
                 "torch finds no cuda device",
                 marks=pytest.mark.skipif(CUDA, reason="a GPU is present")),
    pytest.param("bench-device-auto-no-gpu", ["bench", "device"], "torch finds none",
                 marks=pytest.mark.skipif(CUDA, reason="a GPU is present")),
]


def _id(case) -> str:
    return case.values[0] if hasattr(case, "values") else case[0]


@pytest.mark.parametrize("name, argv, needle", CASES, ids=[_id(c) for c in CASES])
def test_bad_input_is_one_line_exit_2_and_touches_nothing(files, capsys, name, argv, needle):
    before = _snapshot(files)
    code = main(argv)
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2, (name, captured.err)
    assert len(lines) == 1, captured.err
    # argparse reports unknown flags from the top-level parser: "ditgp: error: ..."
    assert lines[0].startswith((f"ditgp {argv[0]}: error: ", "ditgp: error: ")), lines[0]
    assert needle in lines[0], lines[0]
    assert "Traceback" not in captured.err and captured.out == ""
    assert "allow_pickle" not in captured.err  # never suggest loading pickles
    assert _snapshot(files) == before, "a refused command wrote or deleted a file"


def test_memory_budget_env_refuses_small_request_and_force_lifts_it(files, capsys, monkeypatch):
    monkeypatch.setenv("DITGP_MEMORY_BUDGET", "1M")
    assert main(["derive", "--H", "600", "--d", "2"]) == 2
    err = capsys.readouterr().err
    assert "--H=600" in err and "H ≤ " in err and "DITGP_MEMORY_BUDGET" in err
    assert main(["derive", "--H", "600", "--d", "2", "--force"]) == 0


@pytest.mark.skipif(ROOT, reason="root may write into read-only folders")
def test_read_only_output_refused_before_work(files, capsys):
    ro = files / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert main(["score", *SPEC, "--input", "X.npy", "--output", "ro/S.npy"]) == 2
        assert "writable" in capsys.readouterr().err
        assert main(["construct", *SPEC, "--out", "ro/b"]) == 2
        assert "writable" in capsys.readouterr().err
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o755)


# -- the error boundary ----------------------------------------------------------------------


def _raising(exc):
    def run(args):
        raise exc
    return run


@pytest.mark.parametrize("exc, needle", [
    (MemoryError("Unable to allocate 74.5 GiB for an array"), "out of memory"),
    (RuntimeError("[enforce fail at alloc_cpu.cpp:118] DefaultCPUAllocator: can't allocate "
                  "memory: you tried to allocate 7 GB"), "out of memory"),
    (PermissionError(13, "Permission denied", "/x/y"), "/x/y: Permission denied"),
    (IsADirectoryError(21, "Is a directory", "out"), "out: is a folder"),
    (FileExistsError(17, "File exists", "rep"), "rep: File exists"),
    (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), "not UTF-8 text"),
    (BrokenPipeError(32, "Broken pipe"), "output pipe was closed"),
], ids=["memory", "torch-alloc", "permission", "is-a-directory", "file-exists", "unicode",
        "broken-pipe"])
def test_user_triggerable_failures_are_one_line(monkeypatch, capsys, exc, needle):
    import ditgp.cli.derive as derive_cli

    monkeypatch.setattr(derive_cli, "run", _raising(exc))
    if isinstance(exc, BrokenPipeError):  # the boundary points stdout at /dev/null afterwards
        monkeypatch.setattr("ditgp.cli.common._close_stdout", lambda: None)
    assert main(["derive"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ditgp derive: error: ") and needle in lines[0]


def test_mpmath_no_convergence_is_one_line(monkeypatch, capsys):
    from mpmath.libmp.libhyper import NoConvergence

    import ditgp.cli.derive as derive_cli

    monkeypatch.setattr(derive_cli, "run", _raising(NoConvergence("converges too slowly")))
    assert main(["derive"]) == 2
    assert "did not converge" in capsys.readouterr().err


def test_internal_error_is_one_line_exit_3_and_debug_shows_traceback(monkeypatch, capsys):
    import ditgp.cli.derive as derive_cli

    monkeypatch.setattr(derive_cli, "run", _raising(KeyError("lambda_min")))
    monkeypatch.delenv("DITGP_DEBUG", raising=False)
    assert main(["derive"]) == 3
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "internal error: KeyError" in lines[0]
    assert "DITGP_DEBUG=1" in lines[0]
    monkeypatch.setenv("DITGP_DEBUG", "1")
    with pytest.raises(KeyError):
        main(["derive"])


def test_broken_pipe_on_stdout_is_one_line():
    """``ditgp derive … | head -1``: the reader goes away before the output is flushed."""
    proc = subprocess.Popen([sys.executable, "-m", "ditgp", "derive", "--H", "8", "--d", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # like `head` exiting
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "output pipe was closed" in lines[0] and "Traceback" not in err
