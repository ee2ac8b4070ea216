"""Atomic file and folder writes and the one file hash, the implementation every layer uses
(``Nothing is lost``).

:func:`atomic_write` streams into a temporary file in the target's folder, flushes and
fsyncs it, gives it the permissions an ordinary ``open()`` would (``0666`` less the umask;
``mkstemp`` alone makes ``0600``), renames it over the target and fsyncs the folder, so a
reader sees the old file or the new one, never a part.  A failure removes the temporary.
:func:`atomic_folder` does the same for a folder (bundles, checkpoints): its files are written
into a temporary sibling that is renamed into place in one step.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from ditgp.theory.errors import SpecError

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text", "fsync_dir", "safetensors_bytes",
           "write_safetensors", "sha256_file", "atomic_folder", "FolderLock", "FolderBusy", "folder_lock",
           "temporary_sibling", "remove_stale_temporaries"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_dir(path: str | Path) -> None:
    """fsync a folder so that renames inside it are durable (no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Write ``path`` atomically: ``write`` receives the open (binary) temporary file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if exc.filename is None:  # a full disk or a file-size limit: name the file
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from None
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda f: f.write(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


# -- safetensors: one serialiser, byte-reproducible -------------------------------------------


def safetensors_bytes(tensors: dict, metadata: dict[str, str] | None = None) -> bytes:
    """The safetensors serialisation of ``tensors`` (name → torch tensor) with ``metadata``,
    **byte-reproducible**: safetensors writes the ``__metadata__`` map in a random key order
    (a hash map), so two identical runs gave files that differ in bytes; here the header is
    rewritten with the metadata keys sorted (same length, so every data offset stays valid)."""
    from safetensors.torch import save

    data = save(tensors, metadata=dict(sorted((metadata or {}).items())))
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    if "__metadata__" in header:
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(text) > n:  # pragma: no cover - same content, same serialiser: never longer
        raise RuntimeError("safetensors header could not be rewritten in place")
    return data[:8] + text + b" " * (n - len(text)) + data[8 + n:]


def write_safetensors(path: str | Path, tensors: dict, metadata: dict[str, str] | None = None
                      ) -> Path:
    """Write ``tensors`` to ``path`` atomically (:func:`atomic_write`: ordinary permissions —
    safetensors' own writer makes ``0600`` whatever the umask —, fsync, rename) and
    byte-reproducibly (:func:`safetensors_bytes`).  A full disk or a file-size limit is an
    ``OSError`` naming ``path`` (safetensors' writer raised its own error type instead)."""
    return atomic_write_bytes(path, safetensors_bytes(tensors, metadata))


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes (the one hash of bundles, checkpoints and data files)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# -- temporaries named by their writer's pid --------------------------------------------------


def temporary_sibling(target: str | Path) -> Path:
    """A new, empty folder beside ``target`` for writing ``target`` atomically, named
    ``.NAME.tmp-PID-XXXXXXXX`` so that one left by a killed writer can be recognised and
    removed later (:func:`remove_stale_temporaries`); ordinary permissions (``0777`` less the
    umask: ``mkdtemp`` alone makes ``0700``)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-{os.getpid()}-", dir=target.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    return tmp


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - someone else's live process
        return True
    return True


def remove_stale_temporaries(target: str | Path) -> list[Path]:
    """Remove the temporaries of ``target`` (:func:`temporary_sibling`) whose writer is no
    longer running (killed mid-write, e.g. ``kill -9`` during an export); returns them."""
    import re

    target = Path(target)
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.tmp-(\d+)-[A-Za-z0-9_]+$")
    removed = []
    if target.parent.is_dir():
        for p in target.parent.iterdir():
            m = pattern.match(p.name)
            if m and not p.is_symlink() and p.is_dir() and not _pid_alive(int(m.group(1))):
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p)
    return removed


@contextmanager
def atomic_folder(target: str | Path, *, tmp: str | Path | None = None,
                  replace_files: Sequence[str] | None = None) -> Iterator[Path]:
    """Write the folder ``target`` atomically: the ``with`` block fills the temporary folder
    it is given (write its files with :func:`atomic_write`: fsynced, ordinary permissions);
    when the block ends the temporary is fsynced and renamed to ``target`` in one step and
    ``target``'s parent fsynced, so a reader sees the old folder or the new one, never a part.
    Whatever fails removes the temporary.

    ``tmp``: the temporary's path (a writer with its own naming convention; an old one there is
    removed); by default :func:`temporary_sibling` (ordinary permissions, named by the pid),
    after the temporaries of writers that were killed are removed.  An existing ``target`` is
    replaced as a whole; with ``replace_files`` only those files of it are replaced, each by a
    rename, in that order (the one naming the others last), and its other files are kept."""
    target = Path(target)
    if tmp is None:
        remove_stale_temporaries(target)
        work = temporary_sibling(target)
    else:
        work = Path(tmp)
        if work.exists():
            shutil.rmtree(work)
        work.parent.mkdir(parents=True, exist_ok=True)
        work.mkdir(mode=0o777)  # less the umask: ordinary permissions
    try:
        yield work
        fsync_dir(work)
        if target.exists() and replace_files is not None:
            for name in replace_files:
                os.replace(work / name, target / name)
            fsync_dir(target)
            shutil.rmtree(work, ignore_errors=True)
            return
        if target.exists():  # a folder of the same name from an interrupted earlier writer
            shutil.rmtree(target)
        os.replace(work, target)
        fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


# -- one writer per folder ------------------------------------------------------------------


#: Name of the lock file a writing command holds inside its output folder.
LOCK_NAME = ".ditgp.lock"


class FolderBusy(SpecError):
    """Another process is writing the folder (it holds the folder's lock)."""


class FolderLock:
    """An exclusive lock on a folder: ``fcntl.flock`` on ``FOLDER/.ditgp.lock``, a file that
    holds the owner's pid.  The kernel drops the lock when its owner exits — however it
    exits, ``kill -9`` included — so a stale lock file (from a dead process) is simply taken
    over; a live owner makes :meth:`acquire` raise :class:`FolderBusy` at once (no waiting)
    naming ``flag``, the folder, the owner's pid and what to do.

    The folder (and missing parents) is created if missing, and removed again on
    :meth:`release` if it is then empty; the lock file is removed on release."""

    def __init__(self, folder: str | Path, flag: str = "--out"):
        self.folder = Path(folder)
        self.flag = flag
        self.path = self.folder / LOCK_NAME
        self.fd: int | None = None
        self.created: list[Path] = []  # folders made here, innermost first

    def acquire(self) -> FolderLock:
        import fcntl

        missing, p = [], self.folder
        while not p.is_dir() and p.parent != p:
            missing.append(p)
            p = p.parent
        if missing:
            self.folder.mkdir(parents=True)
            self.created = missing
        for _attempt in range(100):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666 & ~_umask())
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = os.read(fd, 64).decode("ascii", "replace").strip() or "?"
                os.close(fd)
                self._undo_mkdir()
                raise FolderBusy(self.flag, str(self.folder),
                                 f"a folder no other process is writing: ditgp process {owner} "
                                 f"is writing it (lock {self.path}); wait for it to finish, or "
                                 f"use another {self.flag}") from None
            try:  # the file may have been removed (released) between open and flock: retry
                st, cur = os.fstat(fd), os.stat(self.path)
                same = (st.st_ino, st.st_dev) == (cur.st_ino, cur.st_dev)
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self.fd = fd
            return self
        raise RuntimeError(f"{self.path}: could not take the lock")  # pragma: no cover

    def _undo_mkdir(self) -> None:
        for p in self.created:  # only those still empty
            try:
                p.rmdir()
            except OSError:
                break
        self.created = []

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            self.path.unlink()  # before unlocking: a waiter on this inode then retries
        except FileNotFoundError:
            pass
        os.close(self.fd)
        self.fd = None
        self._undo_mkdir()

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def folder_lock(folder: str | Path, flag: str = "--out") -> FolderLock:
    """``with folder_lock(OUT, "--out"): ...`` — :class:`FolderLock`."""
    return FolderLock(folder, flag)
