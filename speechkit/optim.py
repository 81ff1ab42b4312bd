"""Optimizer and learning-rate schedule from config: Adam with L2 weight decay, two schedules."""
from dataclasses import dataclass, field
from typing import Literal

import torch

from .config import ConfigError


@dataclass
class ScheduleConfig:
    """`exponential`: lr x gamma per epoch after `start_epoch`; `plateau`: lr x factor after `patience`
    epochs without validation improvement."""
    kind: Literal["constant", "exponential", "plateau"] = "constant"
    start_epoch: int = 0
    gamma: float = 0.95
    factor: float = 0.5
    patience: int = 15


@dataclass
class OptimConfig:
    lr: float = 1e-3
    weight_decay: float = 0.0  # L2 penalty added to the gradient (Adam's own, not decoupled AdamW)
    # Another weight decay for the parameters whose names start with a key, e.g. {"estRT.": 0.0} (the longest
    # matching key wins); each key must match some parameter
    weight_decay_by_prefix: dict[str, float] = field(default_factory=dict)
    grad_clip_norm: float | None = None
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)


def make_optimizer(named_params, cfg: OptimConfig) -> torch.optim.Optimizer:
    """Adam over `named_params` ((name, parameter) pairs): one parameter group with `weight_decay`, then one
    per key of `weight_decay_by_prefix` in its order."""
    prefixes = sorted(cfg.weight_decay_by_prefix, key=len, reverse=True)
    groups = {None: [], **{prefix: [] for prefix in cfg.weight_decay_by_prefix}}
    for name, param in named_params:
        groups[next((prefix for prefix in prefixes if name.startswith(prefix)), None)].append(param)
    unmatched = [prefix for prefix in cfg.weight_decay_by_prefix if not groups[prefix]]
    if unmatched:
        raise ConfigError(f"optim.weight_decay_by_prefix: no parameter name starts with {', '.join(unmatched)}")
    param_groups = [{"params": groups[None]}] + [
        {"params": groups[prefix], "weight_decay": decay} for prefix, decay in cfg.weight_decay_by_prefix.items()]
    return torch.optim.Adam([g for g in param_groups if g["params"]], lr=cfg.lr, weight_decay=cfg.weight_decay)


class LRSchedule:
    """Sets the learning rate after each epoch from the epoch number and the validation score."""

    def __init__(self, optimizer: torch.optim.Optimizer, cfg: OptimConfig):
        self.optimizer, self.cfg = optimizer, cfg.schedule
        self.base_lr = cfg.lr
        self.plateau = (torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=self.cfg.factor, patience=self.cfg.patience)
            if self.cfg.kind == "plateau" else None)

    def step(self, epoch: int, valid_score: float) -> None:
        """Call once after epoch `epoch` (1-based) with its validation score (lower is better)."""
        if self.plateau is not None:
            self.plateau.step(valid_score)
        elif self.cfg.kind == "exponential":
            lr = self.base_lr * self.cfg.gamma ** max(0, epoch - self.cfg.start_epoch)
            for group in self.optimizer.param_groups:
                group["lr"] = lr

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def state_dict(self) -> dict:
        return self.plateau.state_dict() if self.plateau is not None else {}

    def load_state_dict(self, state: dict) -> None:
        if self.plateau is not None:
            self.plateau.load_state_dict(state)
