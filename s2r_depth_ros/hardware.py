"""What this machine's compute units do fast, for the choices training and inference make."""

from __future__ import annotations

from pathlib import Path

import torch


def bf16_is_fast(device: torch.device) -> bool:
    """Whether bf16 runs faster than fp32 on ``device``.

    On a CPU only with AMX (``amx_bf16``): there bf16 matmuls run about 5x fp32; without it
    bf16 falls back to slow kernels (12-16x slower than fp32 on the AVX-512 machines without
    AMX, BENCHMARKS.md). On CUDA where the GPU supports bf16.
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return "amx_bf16" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
