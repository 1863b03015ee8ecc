"""The one exception type users see: its message is printed as a one-line error."""


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
