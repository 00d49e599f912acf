"""Keep the node's large per-frame buffers in the process instead of handing them back.

Every frame allocates and frees buffers of megabytes: the cloud's temporaries, the depth
image, and rclpy's C copy of each outgoing message (9.8 MB for a 640x480 xyzrgb cloud).
glibc's malloc serves such sizes with fresh ``mmap`` pages, or trims them from a thread's
heap when they are freed, so the next frame touches them again at one page fault per 4 KiB.
Measured in the node (BENCHMARKS.md): about 4,900 faults per frame, outputs 21 ms instead
of 10, and 16-19 instead of 24 clouds/s, depending on how glibc's adaptive threshold happened
to settle in that run. Raising both thresholds makes malloc reuse the memory.
"""

from __future__ import annotations

import ctypes

# mallopt parameters from glibc's <malloc.h>.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# Allocations below this come from malloc's heaps. 32 MiB, glibc's largest accepted value on
# 64-bit systems, covers xyzrgb clouds up to about a megapixel; larger ones stay on mmap.
MMAP_THRESHOLD_BYTES = 32 << 20
# Freed memory up to this much stays in the process for the next frame.
TRIM_THRESHOLD_BYTES = 128 << 20


def keep_freed_memory() -> bool:
    """Tune glibc's malloc for large per-frame buffers; False where it is not glibc."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own C library
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
                and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
