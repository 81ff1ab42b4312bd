"""AWSSDR training time per epoch over a whole CPU run, with denormal floats flushed (the default) and kept.

As AWSSDR's attention sharpens, softmax weights underflow into denormal floats, which Intel processors
compute far more slowly. This bench trains the quickstart's AWSSDR run (configs/awssdr/default.yaml on
data/default, made by scripts/0_make_default_data.py) one epoch at a time (each epoch resumes the last, so
the run is the same as an uninterrupted one) and times every epoch, with denormals flushed. At the epochs
given by --probe it also times --steps training steps on copies of that epoch's weights with denormals kept
(train.flush_denormal: false, the behaviour before the fix) and flushed, side by side in this process, and
counts the denormal attention weights of those batches.

Run from the repository root: `python bench/bench_awssdr_denormals.py [--epochs 40] [--json results.json]`.
"""
import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from awssdr.config import AWSSDRConfig
from awssdr.dataset import T60Dataset, collate
from awssdr.inference import build_model
from awssdr.recipe import train
from speechkit import checkpoint
from speechkit.config import load_config
from speechkit.denormals import set_flush_denormal
from speechkit.machine import describe
from speechkit.optim import make_optimizer
from speechkit.sampler import LengthBucketSampler


def step_times(cfg: AWSSDRConfig, weights: dict, batches: list, flush: bool) -> tuple[float, int, int]:
    """Mean ms per training step over `batches` starting from `weights`, and (denormal, all) attention weights."""
    set_flush_denormal(flush)
    model = build_model(cfg.model, cfg.features)
    model.load_state_dict(weights)
    model.train()
    optimizer = make_optimizer(model.named_parameters(), cfg.optim)
    denormal, total = 0, 0
    start = time.perf_counter()
    for sdr, mask, t60_s in batches:
        estimate, weight, _ = model(sdr, mask)
        loss = ((estimate.squeeze(1) - t60_s) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        tiny = weight.detach().abs()
        denormal += int(((tiny > 0) & (tiny < torch.finfo(torch.float32).tiny)).sum())
        total += tiny.numel()
    return 1000 * (time.perf_counter() - start) / len(batches), denormal, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/awssdr/default.yaml")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--probe", type=int, nargs="*", default=[1, 5, 10, 15, 20, 30, 40],
                        help="epochs after which steps are timed with denormals kept and flushed")
    parser.add_argument("--steps", type=int, default=20, help="training steps timed per probe and setting")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{describe()}, {args.threads} thread(s), torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        base = ["train.progress=false", f"checkpoint_dir={tmp}"]
        cfg = load_config(args.config, AWSSDRConfig, base)
        train_set = T60Dataset(cfg.data.train, cfg.features, cfg.data.cache_dir, progress=False)
        sampler = LengthBucketSampler(train_set.lengths, cfg.train.batch_size, shuffle=True, seed=1)
        batches = [collate([train_set[i] for i in indices]) for indices, _ in zip(sampler, range(args.steps))]
        rows = []
        print(f"{'epoch':>5} {'epoch s (flushed)':>18} {'step ms kept':>13} {'step ms flushed':>16} {'ratio':>6} "
              f"{'denormal weights':>17}")
        for epoch in range(1, args.epochs + 1):
            start = time.perf_counter()
            train(load_config(args.config, AWSSDRConfig, [*base, f"train.epochs={epoch}"]))
            row = {"epoch": epoch, "epoch_s_flushed": round(time.perf_counter() - start, 2)}
            if epoch in args.probe:
                weights = checkpoint.load_weights(cfg.dnn_dir)
                kept_ms, denormal, total = step_times(cfg, weights, batches, flush=False)
                flushed_ms, _, _ = step_times(cfg, weights, batches, flush=True)
                row.update(step_ms_kept=round(kept_ms, 1), step_ms_flushed=round(flushed_ms, 1),
                           ratio=round(kept_ms / flushed_ms, 2), denormal_weights=denormal, weights=total)
            rows.append(row)
            probe = (f"{row['step_ms_kept']:>13.1f} {row['step_ms_flushed']:>16.1f} {row['ratio']:>6.2f} "
                     f"{row['denormal_weights'] / row['weights']:>16.2%}") if "ratio" in row else ""
            print(f"{epoch:>5} {row['epoch_s_flushed']:>18.1f} {probe}", flush=True)
    if args.json:
        record = {"cpu": describe(), "threads": args.threads, "rows": rows}
        Path(args.json).write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
