"""The one exception type users see (its message is printed as a one-line error), and the one way
sisr warns a user (a file read at less than its depth, transparency a format cannot keep)."""

import contextlib
import warnings
from collections.abc import Iterable, Iterator
from contextvars import ContextVar

_collecting: ContextVar[list[str] | None] = ContextVar("sisr_collected_warnings", default=None)


class SisrError(Exception):
    """A user-facing error (bad input, unknown model, missing data); the CLI exits 2."""


def closed_pipe() -> int:
    """The reader of stdout went away (``sisr bench | head``): stop quietly, as Unix tools do.

    stdout is pointed at /dev/null first, so the interpreter's last flush cannot raise again.
    Returns 141, the status of a process that SIGPIPE ends (128 + 13), so a pipeline sees the same."""
    import os
    import sys

    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 141


def closest(name: str, known: Iterable[str]) -> str | None:
    """The one of ``known`` that ``name`` was most likely meant to be (case aside), or None: for
    an error's "did you mean" of a mistyped model or dataset name."""
    import difflib

    by_lower = {k.lower(): k for k in known}
    match = difflib.get_close_matches(str(name).lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[match[0]] if match else None


def warn(message: str, stacklevel: int = 2) -> None:
    """A one-line warning for the user: into the list a :func:`collected` block in this thread (a
    web-app job) gathers, else through Python's ``warnings`` (the CLI prints it as a line)."""
    sink = _collecting.get()
    if sink is None:
        warnings.warn(message, stacklevel=stacklevel + 1)
    elif message not in sink:
        sink.append(message)


@contextlib.contextmanager
def collected(sink: list[str]) -> Iterator[list[str]]:
    """Gather the warnings of this block (in this thread only) into ``sink``."""
    token = _collecting.set(sink)
    try:
        yield sink
    finally:
        _collecting.reset(token)
