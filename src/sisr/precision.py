"""What the machine offers: usable cores, the CPU's name, which numeric precision a device runs
fast, and the autocast context for it.

``"auto"`` means bf16 where the hardware has native bf16 arithmetic (a CUDA GPU
that supports it, or a CPU with AVX512-BF16 or AMX) and fp32 elsewhere: on a
CPU without those units PyTorch emulates bf16 and a training step runs many
times slower than in fp32.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
from pathlib import Path

import torch

from sisr.errors import SisrError

__all__ = [
    "PRECISIONS",
    "autocast",
    "available_memory",
    "cores",
    "cpu_bf16_units",
    "cpu_name",
    "device_here",
    "device_label",
    "known_free_memory",
    "native_bf16",
    "resolve_device",
    "resolve_precision",
]

PRECISIONS = ("auto", "fp32", "bf16")


@functools.cache
def cpu_bf16_units() -> tuple[str, ...]:
    """The CPU's native bf16 features (Linux ``/proc/cpuinfo`` flags ``avx512_bf16``, ``amx_bf16``)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ()
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return tuple(f for f in ("avx512_bf16", "amx_bf16") if f in flags)


def cores() -> int:
    """CPU cores this process may use (its affinity mask, which a container or taskset may narrow)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@functools.cache
def cpu_name() -> str:
    """The CPU's model name, recorded beside timings (they compare only on one CPU)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def device_here(name: str) -> torch.device:
    """The torch device ``name`` ("cpu", "cuda", "cuda:N"), refused in one line where it is not one
    or this machine has no such GPU."""
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda"):
        raise SisrError(f"device must be 'cpu' or 'cuda[:N]', got '{name}'")
    if dev.type == "cuda" and (not torch.cuda.is_available() or (dev.index or 0) >= torch.cuda.device_count()):
        raise SisrError(f"device '{name}': no such CUDA GPU here")
    return dev


def resolve_device(name: str | None) -> torch.device:
    """The device to run on: ``"auto"`` (or None) is the first CUDA GPU where there is one, else
    the CPU; any other name as :func:`device_here` takes it."""
    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return device_here(name)


def device_label(device: torch.device) -> str:
    """A device as a report or a message names it: "cpu", or "cuda:0 (NVIDIA H200)"."""
    return f"{device} ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else str(device)


def native_bf16(device: str | torch.device = "cpu") -> bool:
    """True where bf16 runs natively on ``device``."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return dev.type == "cpu" and bool(cpu_bf16_units())


def resolve_precision(precision: str, device: str | torch.device = "cpu") -> str:
    """``"fp32"`` or ``"bf16"`` for a requested precision (``"auto"`` decided by the device)."""
    if precision not in PRECISIONS:
        raise SisrError(f"unknown precision '{precision}' (use {', '.join(PRECISIONS)})")
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return precision


def autocast(precision: str, device: str | torch.device = "cpu") -> contextlib.AbstractContextManager:
    """bf16 autocast on ``device`` when ``precision`` resolves to bf16; plain fp32 otherwise."""
    dev = torch.device(device)
    if resolve_precision(precision, dev) == "fp32":
        return _ieee_fp32() if dev.type == "cuda" else contextlib.nullcontext()
    return torch.autocast(dev.type, dtype=torch.bfloat16)


@contextlib.contextmanager
def _ieee_fp32():
    """On a GPU, cuDNN convolutions take TF32 (a 10-bit mantissa) by default: fp32 is to mean fp32."""
    flags = torch.backends.cudnn, torch.backends.cuda.matmul
    saved = [f.allow_tf32 for f in flags]
    for f in flags:
        f.allow_tf32 = False
    try:
        yield
    finally:
        for f, v in zip(flags, saved):
            f.allow_tf32 = v


def known_free_memory() -> int | None:
    """Bytes of memory free for use, where the system says so reliably (Linux's MemAvailable,
    which counts the page cache that can be dropped); else None."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def available_memory() -> int:
    """:func:`known_free_memory`, else an estimate from the free pages, else 2 GiB: enough to size tiles."""
    if (known := known_free_memory()) is not None:
        return known
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2 << 30
