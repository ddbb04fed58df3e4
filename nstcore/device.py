"""Choosing a device: done once at the edges (CLI, dashboard), never inside the optimisation loop."""

from __future__ import annotations

import os

import torch

from .errors import ConfigError, shown


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple's MPS, then the CPU; explicit names are checked to exist."""
    name = (name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"Unknown device {shown(name)}; use auto, cpu, cuda, cuda:N or mps.") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("CUDA was requested but no CUDA GPU is available here; use --device cpu or auto.")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(f"There is no GPU {device.index}; this machine has {torch.cuda.device_count()}.")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("MPS was requested but is not available here; use --device cpu or auto.")
    return device


def set_cpu_threads(threads: int) -> int:
    """Use ``threads`` CPU threads for torch operations in this process (every thread of it); returns the number
    used before. For the edges that host jobs (the dashboard's server), never called by the engine."""
    before = torch.get_num_threads()
    if threads != before:
        torch.set_num_threads(threads)
    return before


def describe_device(device: torch.device) -> str:
    """Human name, e.g. ``cuda (NVIDIA H100 80GB HBM3)`` or ``cpu (2 threads)``."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return device.type


def has_fast_bf16(device: torch.device) -> bool:
    """True where bf16 matrix units exist: CUDA compute capability >= 8.0, or a CPU with AMX-BF16 tiles."""
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device) >= (8, 0)
    if device.type == "cpu":
        check = getattr(torch.cpu, "_is_amx_tile_supported", None)
        return bool(check and check())
    return False


def use_bf16(precision: str, device: torch.device) -> bool:
    """Resolve StyleConfig.precision for ``device``: ``auto`` = bf16 where bf16 matrix units exist (MPS: fp32).

    Measured on an AMX CPU at 256 px (benchmarks/results_speed.md): bf16 makes a step ~2.5x faster for both
    optimisers and reaches the same loss in about as many steps (L-BFGS: 127 vs 116 to the baseline's loss).
    """
    if precision == "bf16":
        return device.type in ("cuda", "cpu")
    return precision == "auto" and has_fast_bf16(device)


def prefers_channels_last(device: torch.device) -> bool:
    """Run convolutions channels-last (NHWC) on CPUs and CUDA GPUs.

    oneDNN's bf16/AMX kernels and cuDNN's tensor-core kernels are NHWC-native; given NCHW they transpose around every
    convolution. Measured on the 2-core AMX CPU at 256 px: a VGG19 step 1.5x faster in bf16, 1.2x in fp32
    (benchmarks/results_ablation.md); limited to AVX2 kernels still 1.07x in fp32 (benchmarks/results_isa.md), so
    CPUs without AVX-512 keep it too. MPS gains nothing and has had channels-last bugs, so it stays NCHW.
    """
    return device.type in ("cpu", "cuda")


def tune_backends(device: torch.device) -> None:
    """On CUDA: TF32 for any fp32 matmul/convolution left, and cuDNN picking the fastest algorithm for the fixed
    shapes of a run (each coarse-to-fine scale re-tunes once). Process-wide, and what every CUDA user of this engine
    wants; nothing to do elsewhere."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True


def release_memory(device: torch.device) -> None:
    """Give the caching allocator's free blocks back to the driver (after a job, on a shared GPU server)."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps":
        torch.mps.empty_cache()


def memory_mib(device: torch.device) -> float:
    """Memory in use, in MiB: allocated on a GPU, the process's resident size on a CPU (NaN when unknown)."""
    if device.type == "cuda":
        return torch.cuda.memory_allocated(device) / 2**20
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            return int(next(line for line in status if line.startswith("VmRSS:")).split()[1]) / 1024
    except (OSError, StopIteration, ValueError):
        return float("nan")


def memory_total(device: torch.device) -> int | None:
    """The device's memory in bytes: a GPU's total, the machine's RAM for a CPU; None when unknown (MPS)."""
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory)
    if device.type == "cpu":
        try:
            return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
        except (ValueError, OSError, AttributeError):
            return None
    return None


def memory_report(device: torch.device) -> str:
    """One line for a status page: allocated/reserved on a GPU, resident size of the process on a CPU."""
    if device.type == "cuda":
        free, total = torch.cuda.mem_get_info(device)
        return (
            f"GPU memory: {torch.cuda.memory_allocated(device) / 2**20:.0f} MiB allocated, "
            f"{torch.cuda.memory_reserved(device) / 2**20:.0f} MiB reserved, "
            f"{(total - free) / 2**30:.1f} of {total / 2**30:.1f} GiB in use on the device"
        )
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            rss = next(line for line in status if line.startswith("VmRSS:")).split()[1]
        return f"Process memory: {int(rss) / 1024:.0f} MiB resident"
    except (OSError, StopIteration):
        return "Process memory: unknown"
