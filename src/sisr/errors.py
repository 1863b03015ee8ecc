"""The one exception type users see: its message is printed as a one-line error."""


class SisrError(Exception):
    """A user-facing error (bad input, unknown model, missing data); the CLI exits 2."""
