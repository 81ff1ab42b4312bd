"""torchrun support: one process per device, DistributedDataParallel, gloo on CPU and nccl on GPU."""
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Process:
    """Where this training process runs: its rank among `world_size` and its device."""
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def start(device: str = "auto") -> Process:
    """Join the process group when launched by torchrun (even as its only process, so that a one-process
    run checks the backend too); pick this process's device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(device, local_rank, torch.cuda.is_available())
    if device.type == "cuda":
        torch.cuda.set_device(device)
    launched_by_torchrun = "TORCHELASTIC_RUN_ID" in os.environ
    if (world_size > 1 or launched_by_torchrun) and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Process(rank, world_size, device)


def pick_device(device: str, local_rank: int, cuda_available: bool) -> torch.device:
    """"auto": this process's GPU when there is one, else the CPU; "cuda" without an index: this process's GPU
    (the one torchrun's LOCAL_RANK names); anything else as given ("cpu", "cuda:1")."""
    if device == "auto":
        device = "cuda" if cuda_available else "cpu"
    device = torch.device(device)
    return torch.device("cuda", local_rank) if device.type == "cuda" and device.index is None else device


def stop() -> None:
    """Leave the process group (if any) so torchrun exits cleanly."""
    if dist.is_initialized():
        dist.destroy_process_group()


def sum_across(values: list[float], process: Process) -> list[float]:
    """Element-wise sum of a few numbers over all processes (a no-op in a single process)."""
    if process.world_size == 1:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=process.device)
    dist.all_reduce(tensor)
    return tensor.tolist()

