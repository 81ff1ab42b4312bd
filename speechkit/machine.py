"""What machine a run is on: the processor's name and the vector instructions torch uses on it.

Recorded in every checkpoint.json and printed by the benchmarks. Two processors run the same float32 code
with other kernels (AVX2 or AVX-512, another BLAS path), so the same config and seed give the same weights
on one kind of processor, not across kinds: AWSSDR's first epoch, rebuilt on an Intel Xeon, ended at a
training loss of 7.13 where the AMD EPYC that trained the shipped model recorded 6.26.
"""
import os
import platform
from pathlib import Path

import torch


def _cpuinfo(field: str) -> str | None:
    """The first processor's value of `field` in /proc/cpuinfo (Linux), or None."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return None
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith(field)), None)


def cpu_flags() -> set[str]:
    """The processor's feature flags as /proc/cpuinfo lists them (Linux; empty elsewhere)."""
    return set((_cpuinfo("flags") or "").split())


def has_bf16_matrix_units(device: torch.device) -> bool:
    """Whether `device` multiplies bfloat16 matrices in hardware: a CUDA GPU with bf16 support, or a CPU with
    Intel AMX bf16 tiles (elsewhere bf16 on a CPU is converted in software and can be slower than float32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and "amx_bf16" in cpu_flags()


def training_precision(precision: str, device: torch.device) -> str:
    """A config's `precision` with "auto" resolved: "bf16" where `device` has bf16 matrix units, else "float32"."""
    if precision != "auto":
        return precision
    return "bf16" if has_bf16_matrix_units(device) else "float32"


def processor_name() -> str:
    """The CPU's model name as /proc/cpuinfo gives it (Linux), else what `platform` knows."""
    return _cpuinfo("model name") or platform.processor() or "unknown processor"


def machine() -> dict:
    """The processor, torch's vector-instruction level on it (e.g. AVX512, AVX2), and the logical cores."""
    return {"processor": processor_name(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "cores": os.cpu_count()}


def describe() -> str:
    """One line for a benchmark's header: 'Intel(R) Xeon(R) Processor (AVX512, 2 logical cores)'."""
    info = machine()
    return f"{info['processor']} ({info['cpu_capability']}, {info['cores']} logical cores)"
