"""What machine a run is on: the processor's name and the vector instructions torch uses on it.

Recorded in every checkpoint.json and printed by the benchmarks. Two processors run the same float32 code
with other kernels (AVX2 or AVX-512, another BLAS path), so the same config and seed give the same weights
on one kind of processor, not across kinds: an AWSSDR first epoch ended at a training loss of 7.13 on an
Intel Xeon where an AMD EPYC recorded 6.26 (docs/results.md, "On another processor").
"""
import os
import platform
from functools import lru_cache
from pathlib import Path

import torch


@lru_cache(maxsize=1)
def _first_processor() -> dict[str, str]:
    """The first processor's fields in /proc/cpuinfo (Linux; empty elsewhere), read once: every checkpoint
    save asks for several of them."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return {}
    fields = {}
    for key, sep, value in (line.partition(":") for line in lines):
        if sep:
            fields.setdefault(key.strip(), value.strip())
    return fields


def _cpuinfo(field: str) -> str | None:
    """The first processor's value of `field` in /proc/cpuinfo (Linux), or None. The key must match whole:
    "model" is not "model name"."""
    return _first_processor().get(field)


def cpu_flags() -> set[str]:
    """The processor's feature flags as /proc/cpuinfo lists them (Linux; empty elsewhere)."""
    return set((_cpuinfo("flags") or "").split())


CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16")  # Intel AMX tiles; AVX-512 BF16 dot products (AMD Zen 4+, Intel)


def has_bf16_hardware(device: torch.device) -> bool:
    """Whether `device` multiplies bfloat16 in hardware: a CUDA GPU with bf16 support, or a CPU with AMX bf16
    tiles or AVX-512 BF16 instructions (elsewhere bf16 on a CPU is converted in software and can be slower
    than float32). The AWSSDR training step measured 1.9x faster in bf16 on an Intel Xeon with AMX and 1.7x
    on an AMD EPYC with AVX-512 BF16 (bench/bench_drawn_data.py, docs/results.md)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and any(flag in cpu_flags() for flag in CPU_BF16_FLAGS)


def training_precision(precision: str, device: torch.device) -> str:
    """A config's `precision` with "auto" resolved: "bf16" where `device` has bf16 hardware, else "float32"."""
    if precision != "auto":
        return precision
    return "bf16" if has_bf16_hardware(device) else "float32"


def processor_name() -> str:
    """The CPU's model name as /proc/cpuinfo gives it (Linux), else what `platform` knows."""
    return _cpuinfo("model name") or platform.processor() or "unknown processor"


def processor_generation() -> str | None:
    """The processor's family, model and stepping as /proc/cpuinfo numbers them ('family 26 model 2 stepping
    1'), or None off Linux. One name covers several generations ('AMD EPYC'), and their float32 kernels can
    round otherwise: the shipped TDANet's first epoch drifted by 4e-5 to 2e-3 (relative) on another EPYC."""
    numbers = [_cpuinfo(field) for field in ("cpu family", "model", "stepping")]
    if None in numbers:
        return None
    return "family {} model {} stepping {}".format(*numbers)


def machine() -> dict:
    """The processor, its generation, torch's vector-instruction level on it (e.g. AVX512, AVX2), and the
    logical cores."""
    return {"processor": processor_name(), "processor_generation": processor_generation(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "cores": os.cpu_count()}


def describe() -> str:
    """One line for a benchmark's header: 'Intel(R) Xeon(R) Processor (AVX512, 2 logical cores)'."""
    info = machine()
    return f"{info['processor']} ({info['cpu_capability']}, {info['cores']} logical cores)"
