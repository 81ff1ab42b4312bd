"""A tiny regression task for the training-loop tests; run as a script it trains one (torchrun-able)."""
import sys

import torch

from speechkit.optim import OptimConfig, ScheduleConfig
from speechkit.trainer import Task, TrainConfig, fit, training_run


class Sequences(torch.utils.data.Dataset):
    """Variable-length random sequences whose target is a fixed linear function of their mean."""

    def __init__(self, n: int, seed: int):
        g = torch.Generator().manual_seed(seed)
        self.items = [torch.randn(int(torch.randint(3, 9, (1,), generator=g)), 4, generator=g) for _ in range(n)]
        self.targets = [x.mean(0) @ torch.tensor([1.0, -2.0, 0.5, 3.0]) for x in self.items]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i], self.targets[i]


def collate(items):
    xs = torch.nn.utils.rnn.pad_sequence([x for x, _ in items], batch_first=True)
    return xs, torch.stack([y for _, y in items])


def loss(model, batch, device):
    x, y = (t.to(device) for t in batch)
    return (model(x.mean(1)).squeeze(-1) - y) ** 2


def make_task() -> Task:
    train, valid = Sequences(40, 0), Sequences(12, 1)
    return Task(train, valid, [len(x) for x in train.items], [len(x) for x in valid.items], collate, loss)


def make_model() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Dropout(0.2), torch.nn.ReLU(), torch.nn.Linear(16, 1))


def train(dnn_dir, epochs: int = 4, accumulate_batches: int = 2, **train_overrides) -> dict:
    cfg = TrainConfig(epochs=epochs, batch_size=4, accumulate_batches=accumulate_batches, progress=False,
                      **train_overrides)
    optim_cfg = OptimConfig(lr=1e-2, grad_clip_norm=1.0, schedule=ScheduleConfig(kind="exponential", start_epoch=2))
    with training_run(cfg) as process:
        model = make_model()
        config = {"train": vars(cfg).copy(), "optim": {"lr": optim_cfg.lr}}
        info = fit(model, make_task(), cfg, optim_cfg, dnn_dir, config, process)
    return {"info": info, "model": model}


if __name__ == "__main__":
    train(sys.argv[1])
