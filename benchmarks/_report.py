"""What a benchmark does with its markdown table: print it, and write it to a file when asked."""

from __future__ import annotations

from pathlib import Path


def report(lines: list[str], out: str | None) -> None:
    text = "\n".join(lines) + "\n"
    print(text)
    if out:
        Path(out).write_text(text)
