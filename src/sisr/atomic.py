"""Atomic file writes: write a temporary sibling, then rename it onto the target."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sisr.errors import SisrError

__all__ = ["atomic_target", "check_writable", "write_atomic"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_writable(path: str | os.PathLike) -> None:
    """Refuse, before any work, a file that cannot be written: the folder it goes in (or the nearest
    one above that exists, where it would be made) is a file, or not writable by this user."""
    p = Path(path)
    above = p.absolute().parent
    while not above.exists() and above != above.parent:
        above = above.parent
    if not above.is_dir():
        raise SisrError(f"{p}: cannot write ({above} is a file, not a folder)")
    if not os.access(above, os.W_OK | os.X_OK):
        raise SisrError(f"{p}: cannot write (no permission to write in {above})")


@contextmanager
def atomic_target(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on any failure it is removed.

    The file gets the usual permissions (``0o666`` less the umask), not the private mode of a temp file,
    and readers never see a half-written ``path``.
    """
    p = Path(path)
    check_writable(p)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".part", dir=p.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, p)
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` atomically; an OS error becomes a one-line SisrError."""
    p = Path(path)
    try:
        with atomic_target(p) as tmp:
            tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    except OSError as e:
        raise SisrError(f"{p}: cannot write ({e.strerror or e})") from None
    return p
