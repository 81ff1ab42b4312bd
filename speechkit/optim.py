"""Optimizer and learning-rate schedule from config: Adam with L2 weight decay, two schedules."""
from dataclasses import dataclass, field
from typing import Literal

import torch


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
    grad_clip_norm: float | None = None
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)


def make_optimizer(params, cfg: OptimConfig) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


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
