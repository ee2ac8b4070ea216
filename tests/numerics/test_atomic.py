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


# -- folders ---------------------------------------------------------------------------------


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _folder_writer_properties(target, write_folder) -> list[str]:
    """What a folder writer gets wrong: the folder and its files must have ordinary
    permissions, every file and the folder must be fsynced before the one rename that makes
    the folder appear, and the parent fsynced after it."""
    import ditgp.numerics.atomic as atomic

    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", f"{src} -> {dst}"))
        return real_replace(src, dst)

    problems = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(atomic.os, "fsync", fsync)
        mp.setattr(atomic.os, "replace", replace)
        write_folder(target)
    if (target.stat().st_mode & 0o777) != 0o777 & ~_umask():
        problems.append(f"folder mode {target.stat().st_mode & 0o777:o}")
    for f in target.iterdir():
        if (f.stat().st_mode & 0o777) != 0o666 & ~_umask():
            problems.append(f"{f.name} mode {f.stat().st_mode & 0o777:o}")
    renames = [i for i, (kind, what) in enumerate(events)
               if kind == "replace" and what.endswith(f"-> {target}")]
    if len(renames) != 1:
        problems.append(f"{len(renames)} renames onto the folder")
        return problems
    before = {what for kind, what in events[:renames[0]] if kind == "fsync"}
    after = {what for kind, what in events[renames[0]:] if kind == "fsync"}
    tmp = events[renames[0]][1].split(" -> ")[0]
    if tmp not in before:
        problems.append("the temporary folder is not fsynced before the rename")
    if not any(w.startswith(tmp + "/") for w in before):
        problems.append("the files are not fsynced before the rename")
    if str(target.parent) not in after:
        problems.append("the parent folder is not fsynced after the rename")
    return problems


def _write_two_files(target):
    from ditgp.numerics.atomic import atomic_folder

    with atomic_folder(target) as tmp:
        atomic_write_text(tmp / "a.json", "{}\n")
        atomic_write_bytes(tmp / "b.bin", b"\x00\x01")


def test_the_folder_writer_writes_ordinary_durable_folders(tmp_path):
    target = tmp_path / "out" / "bundle"
    assert _folder_writer_properties(target, _write_two_files) == []
    assert sorted(p.name for p in target.iterdir()) == ["a.json", "b.bin"]
    assert [p.name for p in target.parent.iterdir()] == ["bundle"]  # no temporary left


def test_the_check_catches_a_writer_without_the_permission_fix(tmp_path, monkeypatch):
    import ditgp.numerics.atomic as atomic

    monkeypatch.setattr(atomic.os, "chmod", lambda *a, **k: None)  # mkdtemp's 0700 stays
    problems = _folder_writer_properties(tmp_path / "bundle", _write_two_files)
    assert problems == ["folder mode 700"]


def test_the_check_catches_a_writer_that_does_not_fsync_the_parent(tmp_path, monkeypatch):
    import ditgp.numerics.atomic as atomic

    real = atomic.fsync_dir
    monkeypatch.setattr(atomic, "fsync_dir",
                        lambda p: None if str(p) == str(tmp_path) else real(p))
    problems = _folder_writer_properties(tmp_path / "bundle", _write_two_files)
    assert problems == ["the parent folder is not fsynced after the rename"]


def test_the_check_catches_a_writer_that_renames_nothing(tmp_path):
    def copy_in_place(target):  # writes the files straight into the target: no rename
        target.mkdir()
        atomic_write_text(target / "a.json", "{}\n")

    assert _folder_writer_properties(tmp_path / "bundle", copy_in_place) == [
        "0 renames onto the folder"]


def test_a_failure_inside_the_block_leaves_the_old_folder_and_no_temporary(tmp_path):
    from ditgp.numerics.atomic import atomic_folder

    target = tmp_path / "bundle"
    _write_two_files(target)
    with pytest.raises(RuntimeError), atomic_folder(target) as tmp:
        atomic_write_text(tmp / "a.json", "new\n")
        raise RuntimeError("disk full")
    assert (target / "a.json").read_text() == "{}\n"
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]


def test_replace_files_keeps_the_other_files_of_an_existing_folder(tmp_path):
    from ditgp.numerics.atomic import atomic_folder

    target = tmp_path / "bundle"
    _write_two_files(target)
    (target / "notes.md").write_text("mine\n")
    with atomic_folder(target, replace_files=("b.bin", "a.json")) as tmp:
        atomic_write_text(tmp / "a.json", "[]\n")
        atomic_write_bytes(tmp / "b.bin", b"\x02")
    assert (target / "a.json").read_text() == "[]\n" and (target / "notes.md").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]


def test_bundles_and_checkpoints_use_the_one_folder_writer_and_hash():
    import inspect

    from ditgp.models import checkpoint
    from ditgp.numerics import bundle

    for module in (bundle, checkpoint):
        src = inspect.getsource(module)
        assert "atomic_folder(" in src and "os.replace" not in src and "hashlib" not in src
