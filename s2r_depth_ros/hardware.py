"""What this machine's compute units do fast, for the choices training and inference make."""

from __future__ import annotations

from pathlib import Path

import torch

# CPU flags with native bf16 arithmetic. AMX (amx_bf16): bf16 matmuls about 5x fp32, training
# 1.7-1.9x. AVX512-BF16 alone (AMD EPYC Zen 4): training 1.35x, OpenVINO inference 1.5x.
# Without either, PyTorch falls back to emulated kernels, 12-16x *slower* than fp32.
# All measured here: BENCHMARKS.md, "Training precision" and "bf16 without AMX".
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_has_native_bf16(cpuinfo: str) -> bool:
    """Whether a /proc/cpuinfo text names a CPU flag with native bf16 arithmetic."""
    flags = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags.update(line.partition(":")[2].split())
    return any(flag in flags for flag in BF16_CPU_FLAGS)


def bf16_is_fast(device: torch.device) -> bool:
    """Whether bf16 runs faster than fp32 on ``device``.

    On a CPU with native bf16 arithmetic (``BF16_CPU_FLAGS``); on CUDA where the GPU supports
    bf16.
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return cpu_has_native_bf16(Path("/proc/cpuinfo").read_text())
    except OSError:
        return False
