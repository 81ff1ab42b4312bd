"""One training loop for both models: seeded, deterministic, resumable, and the same under torchrun.

A model contributes a `Task` (datasets, collate function, per-item loss); the loop does the rest:
length-bucketed batches, gradient accumulation and clipping, the learning-rate schedule, validation
after every epoch, early stopping, and a `.dnn` checkpoint after every epoch. An interrupted run
started again with the same config resumes after the last finished epoch and ends with the same
weights as an uninterrupted run (on CPU), because every epoch's randomness derives from (seed, epoch).
"""
import contextlib
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Literal

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from . import checkpoint, distributed
from .optim import LRSchedule, OptimConfig, make_optimizer
from .denormals import set_flush_denormal
from .progress import progress
from .sampler import LengthBucketSampler


@dataclass
class TrainConfig:
    epochs: int = 100
    batch_size: int = 16
    accumulate_batches: int = 1  # optimizer step every N batches
    accumulate: Literal["sum", "mean"] = "mean"  # "sum" adds the N batch losses (the AWSSDR authors' way)
    early_stop_patience: int | None = None  # epochs without validation improvement before stopping
    seed: int = 0
    deterministic: bool = True
    # On CPU, flush denormal floats to zero: as AWSSDR's attention sharpens, underflowing softmax weights
    # made each epoch up to 9x slower on Intel processors (docs/results.md). false keeps IEEE denormals.
    flush_denormal: bool = True
    device: str = "auto"  # "auto" = this process's GPU if there is one, else "cpu"
    num_workers: int = 0  # DataLoader worker processes (drawn training data: 1 keeps a core computing items)
    threads: int | None = None  # torch threads of the training process (None: torch's default, one per core)
    resume: bool = True  # continue from the checkpoint's last finished epoch when it exists
    # Start from the weights of this .dnn (the ones its loaders use: best_weights.pyt when present) instead of
    # the seeded initialisation, with a fresh optimizer and schedule: fine-tuning, or a second stage of a run.
    init_from: str | None = None
    progress: bool = True


@dataclass
class Task:
    """What a model brings to the loop. `loss(model, batch, device)` returns one loss per batch item."""
    train_set: Dataset
    valid_set: Dataset
    train_lengths: list[int]
    valid_lengths: list[int]
    collate: Callable
    loss: Callable[[torch.nn.Module, object, torch.device], torch.Tensor]
    # Called with each epoch's number before it trains; returns False while the model is not yet in its final
    # form (e.g. iterated fewer times), so that epoch's weights cannot become the best weights.
    start_epoch: Callable[[int], bool] | None = None
    # Called on the main process after each epoch's validation, with the model (in eval mode, gradients off) and
    # the epoch's number; a message it returns is printed as a warning (a failure the losses do not show).
    check: Callable[[torch.nn.Module, int], str | None] | None = None


def use_deterministic_cublas() -> None:
    """Ask cuBLAS for its deterministic workspace size (CUBLAS_WORKSPACE_CONFIG=:4096:8, unless the
    environment already sets one). PyTorch reads it when cuBLAS starts, so call this before anything runs on
    CUDA; without it, deterministic mode makes CUDA matrix products raise."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


@contextlib.contextmanager
def training_run(cfg: TrainConfig) -> Iterator[distributed.Process]:
    """A training process from setup to teardown: `prepare` on entry, leaving torchrun's process group
    (if any) on exit, however the run ends. Build the model inside the block, after the seeding.

        with training_run(cfg.train) as process:
            model = build_model(...)
            info = fit(model, task, cfg.train, cfg.optim, dnn_dir, config, process)
    """
    process = prepare(cfg)
    try:
        yield process
    finally:
        distributed.stop()


def prepare(cfg: TrainConfig) -> distributed.Process:
    """Set the deterministic-CUDA environment, join torchrun's process group if any, pick the device, and
    seed everything; call before building the model so its initial weights come from the seed."""
    if cfg.deterministic:
        use_deterministic_cublas()  # before distributed.start, which starts CUDA on a GPU
    process = distributed.start(cfg.device)
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    if process.device.type == "cpu":
        set_flush_denormal(cfg.flush_denormal)
    torch.use_deterministic_algorithms(cfg.deterministic)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = cfg.deterministic
    _seed(cfg.seed)
    return process


def fit(model: torch.nn.Module, task: Task, cfg: TrainConfig, optim_cfg: OptimConfig, dnn_dir,
        config: dict, process: distributed.Process, model_spec: dict | None = None) -> dict:
    """Train `model` and keep `dnn_dir` up to date after every epoch; returns the checkpoint info.
    `model_spec` (what rebuilds the network: kind, constructor arguments, features) goes in checkpoint.json."""
    dnn_dir = Path(dnn_dir)
    model.to(process.device)
    optimizer = make_optimizer(model.named_parameters(), optim_cfg)
    schedule = LRSchedule(optimizer, optim_cfg)
    info = {"epoch": 0, "step": 0, "best_valid": None, "best_epoch": None, "stopped": None, "history": []}
    if cfg.resume and checkpoint.can_resume(dnn_dir):
        info = _resume(dnn_dir, model, optimizer, schedule, config, process)
    elif cfg.init_from is not None:
        model.load_state_dict(checkpoint.load_model_weights(cfg.init_from))
        _say(process, f"starting from the weights of {cfg.init_from}")
    if model_spec is not None:
        info["model"] = model_spec
    if info["stopped"]:
        _say(process, f"{dnn_dir}: training already finished ({info['stopped']}); nothing to do")
        return info
    # a model whose variant leaves some parameters unused (kept for checkpoint compatibility) says so
    unused = getattr(model, "has_unused_parameters", False)
    wrapped = DistributedDataParallel(model, find_unused_parameters=unused) if process.world_size > 1 else model
    train_sampler = LengthBucketSampler(task.train_lengths, cfg.batch_size, shuffle=True, seed=cfg.seed,
                                        rank=process.rank, world_size=process.world_size, pad=True)
    valid_sampler = LengthBucketSampler(task.valid_lengths, cfg.batch_size, shuffle=False,
                                        rank=process.rank, world_size=process.world_size, pad=False)
    run = _EpochState(model, wrapped, task, train_sampler, optimizer, cfg, optim_cfg, process)
    for epoch in range(info["epoch"] + 1, cfg.epochs + 1):
        _seed(cfg.seed, epoch, process.rank)
        for part in (train_sampler, task.train_set):
            if hasattr(part, "set_epoch"):
                part.set_epoch(epoch)
        final_form = task.start_epoch is None or task.start_epoch(epoch)
        start = time.time()
        train_loss, info["step"] = _train_epoch(run, epoch, info["step"])
        valid_score = evaluate(model, task.loss, task.valid_set, valid_sampler, task.collate, cfg, process)
        schedule.step(epoch, valid_score)
        improved = final_form and (info["best_valid"] is None or valid_score < info["best_valid"])
        if improved:
            info["best_valid"], info["best_epoch"] = valid_score, epoch
        info["epoch"] = epoch
        info["history"].append({"epoch": epoch, "train_loss": train_loss, "valid_score": valid_score,
                                "lr": schedule.lr})
        info["stopped"] = _stop_reason(info, cfg)
        _say(process, f"epoch {epoch}/{cfg.epochs}: train loss {train_loss:.5f}, valid {valid_score:.5f}"
                      f"{' (best)' if improved else ''}, lr {schedule.lr:.2e}, {time.time() - start:.1f} s")
        if process.is_main:
            if task.check is not None:
                with torch.no_grad():
                    warning = task.check(model.eval(), epoch)
                if warning:
                    _say(process, f"WARNING: epoch {epoch}: {warning}")
            checkpoint.save_checkpoint(
                dnn_dir, weights=model.state_dict(), optim=optimizer.state_dict(),
                trainer_state={"schedule": schedule.state_dict()}, config=config, info=info,
                best_weights=model.state_dict() if improved else None)
        if info["stopped"]:
            _say(process, f"stopping: {info['stopped']}")
            break
    return info


@torch.no_grad()
def evaluate(model, loss_fn, dataset, sampler, collate, cfg: TrainConfig, process) -> float:
    """Mean per-item loss over `dataset`, summed over every process's share."""
    model.eval()
    total, count = 0.0, 0
    for batch in _loader(dataset, sampler, collate, cfg):
        losses = loss_fn(model, batch, process.device)
        total, count = total + losses.sum().item(), count + losses.numel()
    total, count = distributed.sum_across([total, count], process)
    return total / count


@dataclass
class _EpochState:
    """What a training epoch works with; `fit` builds it once."""
    model: torch.nn.Module
    wrapped: torch.nn.Module  # `model`, or its DistributedDataParallel wrapper under torchrun
    task: Task
    sampler: LengthBucketSampler  # the training batches
    optimizer: torch.optim.Optimizer
    cfg: TrainConfig
    optim_cfg: OptimConfig
    process: distributed.Process


def _train_epoch(run: _EpochState, epoch: int, step: int) -> tuple[float, int]:
    """One pass over the training batches; returns the mean per-item loss and the optimizer step count."""
    cfg = run.cfg
    run.model.train()
    loader = _loader(run.task.train_set, run.sampler, run.task.collate, cfg)
    bar = progress(loader, f"epoch {epoch}/{cfg.epochs}", enabled=cfg.progress and run.process.is_main)
    total, count = 0.0, 0
    run.optimizer.zero_grad(set_to_none=True)
    for i, batch in enumerate(bar, start=1):
        last_of_group = i % cfg.accumulate_batches == 0 or i == len(loader)
        with _maybe_no_sync(run.wrapped, sync=last_of_group):
            losses = run.task.loss(run.wrapped, batch, run.process.device)
            loss = losses.mean()
            if not torch.isfinite(loss):
                raise FloatingPointError(f"non-finite training loss at epoch {epoch}, batch {i}: {loss.item()}")
            (loss if cfg.accumulate == "sum" else loss / cfg.accumulate_batches).backward()
        if last_of_group:
            if run.optim_cfg.grad_clip_norm is not None:
                torch.nn.utils.clip_grad_norm_(run.model.parameters(), run.optim_cfg.grad_clip_norm)
            run.optimizer.step()
            run.optimizer.zero_grad(set_to_none=True)
            step += 1
        total, count = total + losses.detach().sum().item(), count + losses.numel()
        bar.set_postfix(loss=f"{total / count:.4f}")
    total, count = distributed.sum_across([total, count], run.process)
    return total / count, step


def _loader(dataset, sampler, collate, cfg: TrainConfig) -> DataLoader:
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, num_workers=cfg.num_workers,
                      worker_init_fn=_seed_worker if cfg.num_workers else None)


def _resume(dnn_dir, model, optimizer, schedule, config, process) -> dict:
    state = checkpoint.load_training_state(dnn_dir)
    changed = _changed_keys(state["config"], config)
    if changed - {"train.epochs", "train.resume", "train.progress", "train.num_workers", "train.device",
                  "train.flush_denormal", "train.threads"}:
        raise checkpoint.CheckpointError(
            f"{dnn_dir} was trained with a different config ({', '.join(sorted(changed))} differ); "
            "use another checkpoint name, or --set train.resume=false to start over")
    model.load_state_dict(state["weights"])
    optimizer.load_state_dict(state["optim"])
    schedule.load_state_dict(state["trainer_state"]["schedule"])
    info = {k: v for k, v in state["info"].items() if k != "versions"}
    if info["stopped"] == "last epoch reached" and config["train"]["epochs"] > info["epoch"]:
        info["stopped"] = None  # more epochs were asked for
    _say(process, f"resuming {dnn_dir} after epoch {info['epoch']}")
    return info


def _stop_reason(info: dict, cfg: TrainConfig) -> str | None:
    if (cfg.early_stop_patience is not None and info["best_epoch"] is not None
            and info["epoch"] - info["best_epoch"] >= cfg.early_stop_patience):
        return f"no validation improvement for {cfg.early_stop_patience} epochs"
    if info["epoch"] >= cfg.epochs:
        return "last epoch reached"
    return None


def _changed_keys(old: dict, new: dict, prefix: str = "") -> set[str]:
    keys = set(old) | set(new)
    changed = set()
    for key in keys:
        a, b, name = old.get(key), new.get(key), f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            changed |= _changed_keys(a, b, name + ".")
        elif a != b:
            changed.add(name)
    return changed


def _maybe_no_sync(wrapped, sync: bool):
    if sync or not isinstance(wrapped, DistributedDataParallel):
        return contextlib.nullcontext()
    return wrapped.no_sync()


def _seed(seed: int, *more: int) -> None:
    """Seed every generator with `seed`, or with a seed derived from (seed, *more) when more is given."""
    if more:
        seed = int(np.random.SeedSequence([seed, *more]).generate_state(1)[0])
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _seed_worker(worker_id: int) -> None:
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


def _say(process, message: str) -> None:
    if process.is_main:
        tqdm.write(message)
