"""What the container gives this process: its memory limit (cgroup v2's
``memory.max``) and the CPUs it may run on, for sizing work that costs memory."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

MEMORY_MAX = Path("/sys/fs/cgroup/memory.max")


def memory_limit(path: Path = MEMORY_MAX) -> int | None:
    """The container's memory limit in bytes, or None when it has none (``max``)
    or there is no cgroup v2 file to read."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def cpus() -> int:
    """CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) or 1


# glibc's mallopt parameter, and its default before glibc starts adjusting it.
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 128 * 1024


def return_large_blocks() -> bool:
    """Have glibc's allocator map every block of 128 KiB or more on its own and
    unmap it when freed. Left alone, glibc raises that threshold after the first
    such free, and from then on each thread's arena keeps freed blocks: argon2id's
    19 MiB on every thread that ever hashed (measured: +380 MiB over 40 threads
    with only 4 hashing at once). False where the C library is not glibc."""
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
