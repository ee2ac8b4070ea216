"""The one atomic writer: ordinary permissions, old content kept and no temporary left when
the write fails, the folder made if missing."""

from __future__ import annotations

import os

import pytest
from ditgp.numerics.atomic import atomic_write, atomic_write_bytes, atomic_write_text


def test_permissions_are_those_of_an_ordinary_open(tmp_path):
    mask = os.umask(0o022)
    try:
        ref = tmp_path / "ref"
        ref.write_text("x")
        p = atomic_write_text(tmp_path / "sub" / "a.txt", "hello")
        assert p.read_text() == "hello"
        assert (p.stat().st_mode & 0o777) == (ref.stat().st_mode & 0o777) == 0o644
    finally:
        os.umask(mask)


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    p = atomic_write_bytes(tmp_path / "b.bin", b"old")

    def boom(f):
        f.write(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(p, boom)
    assert p.read_bytes() == b"old"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["b.bin"]
