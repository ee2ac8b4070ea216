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


# -- the folder lock --------------------------------------------------------------------------
def test_a_held_lock_refuses_a_second_writer_at_once_naming_the_owner(tmp_path):
    import subprocess
    import sys

    from ditgp.numerics.atomic import LOCK_NAME, FolderBusy, FolderLock

    folder = tmp_path / "out" / "run"
    holder = subprocess.Popen(  # another process holds the lock until its stdin closes
        [sys.executable, "-c", "import sys; from ditgp.numerics.atomic import FolderLock; "
         f"lock = FolderLock({str(folder)!r}).acquire(); print('held', flush=True); "
         "sys.stdin.read(); lock.release()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(FolderBusy) as exc:
            FolderLock(folder, "--out").acquire()
        msg = str(exc.value)
        assert f"ditgp process {holder.pid}" in msg and str(folder / LOCK_NAME) in msg
        assert msg.startswith("--out=") and "use another --out" in msg
    finally:
        holder.stdin.close()
        holder.stdout.close()
        assert holder.wait(timeout=120) == 0
    # released: the folder the holder made (and its parent) are gone again, being empty
    assert not (tmp_path / "out").exists()


def test_a_stale_lock_file_of_a_dead_process_is_taken_over(tmp_path):
    from ditgp.numerics.atomic import LOCK_NAME, FolderLock

    (tmp_path / LOCK_NAME).write_text("999999999\n")  # left by a process killed with -9
    with FolderLock(tmp_path) as lock:
        assert (tmp_path / LOCK_NAME).read_text() == f"{os.getpid()}\n"
        assert lock.fd is not None
    assert not (tmp_path / LOCK_NAME).exists() and tmp_path.is_dir()


def test_the_lock_is_exclusive_within_one_process_too(tmp_path):
    from ditgp.numerics.atomic import FolderBusy, FolderLock

    with FolderLock(tmp_path):
        with pytest.raises(FolderBusy):
            FolderLock(tmp_path).acquire()
    with FolderLock(tmp_path):  # and free again once released
        pass
