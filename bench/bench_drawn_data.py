"""Is training on drawn data starved? Items per second that the on-the-fly pipeline makes (one process, as
one DataLoader worker does) against items per second that the training step consumes, side by side in one
run, for the AWSSDR and TDANet configs given (default: the shipped ones). A ratio above 1 means one worker
keeps the step fed; below 1, add workers (`train.num_workers`) or the step waits for data. The AWSSDR step
is timed twice on the same batches: float32, and under `precision: bf16` (autocast; fast where the CPU has
bf16 hardware: AMX on recent Intel Xeons, AVX-512 BF16 on AMD EPYCs from Zen 4 on).

    python bench/bench_drawn_data.py                       # the shipped configs, 1 thread each, as trained
    python bench/bench_drawn_data.py --items 64 --steps 10
"""
import argparse
import time
from functools import partial

import torch

from awssdr.config import AWSSDRConfig
from awssdr.dataset import collate as t60_collate
from awssdr.dataset import drawn_t60_set
from awssdr.inference import build_model as build_awssdr
from awssdr.recipe import mse_loss
from speechkit.config import load_config
from speechkit.denormals import set_flush_denormal
from speechkit.drawn_data import drawn_mixture_set
from speechkit.machine import describe
from speechkit.separation_data import collate as mixture_collate
from tdanet.config import TDANetConfig
from tdanet.inference import build_model as build_tdanet
from tdanet.recipe import pit_si_snr_loss


def items_per_s(dataset, count: int) -> float:
    start = time.perf_counter()
    for index in range(count):
        dataset[index]
    return count / (time.perf_counter() - start)


def step_items_per_s(model, loss_fn, batches, optimizer) -> float:
    """Training steps (forward, backward, update) on prepared batches, after one warm-up step."""
    device = torch.device("cpu")
    model.train()
    times = []
    for batch in batches:
        start = time.perf_counter()
        loss_fn(model, batch, device).mean().backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
    size = len(batches[0][-1])
    return size / (sum(times[1:]) / len(times[1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--awssdr-config", default="configs/awssdr/shipped.yaml")
    parser.add_argument("--tdanet-config", default="configs/tdanet/shipped.yaml")
    parser.add_argument("--items", type=int, default=96, help="items drawn per measurement")
    parser.add_argument("--steps", type=int, default=8, help="training steps per measurement (+1 warm-up)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the training step")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    set_flush_denormal(True)
    print(f"{describe()}, torch {torch.__version__}, {args.threads} thread(s) for the step, data in one process")
    print(f"{'model':<12}{'items/s made':>14}{'items/s trained':>17}{'made / trained':>16}")

    cfg = load_config(args.awssdr_config, AWSSDRConfig)
    data = drawn_t60_set(cfg.data.pools, cfg.data.draw, cfg.features, args.items, cfg.train.seed,
                         cfg.data.recorded_highpass_hz)
    made = items_per_s(data, args.items)
    batches = [t60_collate([data[i] for i in range(b * 16, b * 16 + cfg.train.batch_size)]) for b in range(4)]
    batches = [batches[i % 4] for i in range(args.steps + 1)]
    for precision in ("float32", "bf16"):  # bf16: the `precision: bf16` option (autocast), on the same batches
        model = build_awssdr(cfg.model, cfg.features)
        loss = partial(mse_loss, bf16=precision == "bf16")
        trained = step_items_per_s(model, loss, batches, torch.optim.Adam(model.parameters()))
        name = "AWSSDR" if precision == "float32" else "AWSSDR bf16"
        print(f"{name:<12}{made:>14.1f}{trained:>17.1f}{made / trained:>16.2f}")

    cfg = load_config(args.tdanet_config, TDANetConfig)
    data = drawn_mixture_set(cfg.data.pools, cfg.data.draw, cfg.data.sample_rate, cfg.data.segment_s, args.items,
                             cfg.train.seed)
    made = items_per_s(data, args.items)
    model = build_tdanet(cfg.model, cfg.data.sample_rate, 2)
    size = cfg.train.batch_size
    batches = [mixture_collate([data[i] for i in range(b * size, (b + 1) * size)]) for b in range(args.steps + 1)]
    trained = step_items_per_s(model, pit_si_snr_loss, batches, torch.optim.Adam(model.parameters()))
    print(f"{'TDANet':<12}{made:>14.1f}{trained:>17.1f}{made / trained:>16.2f}")


if __name__ == "__main__":
    main()
