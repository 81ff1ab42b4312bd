"""Benchmark TDANet (paper variant by default): training-step time and peak memory, inference speed,
with the CPU kernels of tdanet/kernels.py on and off side by side (`--kernels on off`, alternating runs).

Every measurement runs in a fresh Python process, so its peak memory is its own:
- CPU: peak resident set size (`ru_maxrss`) of that process, which includes the Python/PyTorch runtime
  and the weights; the "above start" column subtracts the peak resident size before the first step
  (model and input already built), i.e. what the step itself adds: activations, gradients, workspaces.
- CUDA: `torch.cuda.max_memory_allocated` during the timed steps (tensors only, no allocator cache).
Times are the minimum and the median over `--repeats` steps after one warm-up step (which, with
`--compile`, includes compilation; its time is reported separately). On a shared machine the minimum
is the better estimate of the code's own cost. On a machine shared with other jobs, OpenMP threads
that spin at barriers while their partner is descheduled can make steps several times slower; running
with OMP_WAIT_POLICY=PASSIVE in the environment (inherited by the workers) avoids that. Alone on the
machine, leave it unset: for a small TDANet, PASSIVE made 2-thread steps slower than 1 (docs/results.md).

    python bench/bench_tdanet.py --models 4ms --train-batches 2 4 --repeats 5  # CPU, eager, kernels on and off
    python bench/bench_tdanet.py --models 4ms 2ms --compile --repeats 5
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
MODELS = {"4ms": ("TDANet", 4), "2ms": ("TDANet Large", 2)}
# The authors' code timed side by side with ours (same torch, same weights, median of 5), see docs/results.md.
BASELINE = ("authors' code on a 2-core Intel Xeon (AVX-512), torch 2.13, 2 threads, paper variant, 16 kHz / 4 ms, "
            "median of 5: train step 2 x 2 s 3.67 s, 4 x 2 s 7.27 s; 10 s inference 3.68 s")
KERNELS = {"on": True, "off": False}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=["4ms", "2ms"])
    parser.add_argument("--variant", choices=["paper", "official-release"], default="paper")
    parser.add_argument("--sample-rate", type=int, default=16000)
    parser.add_argument("--train-batches", type=int, nargs="*", default=[4, 2], help="batch sizes of the training step")
    parser.add_argument("--train-seconds", type=float, default=2.0, help="seconds of audio per training item")
    parser.add_argument("--infer-seconds", type=float, default=10.0, help="seconds of audio to separate (batch 1)")
    parser.add_argument("--kernels", nargs="+", choices=list(KERNELS), default=list(KERNELS),
                        help="TDANet's kernels setting(s) to measure, alternating within each measurement")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None, help="default: cuda when available")
    parser.add_argument("--compile", action="store_true",
                        help="also measure inference with torch.compile (compiling takes minutes on 2 CPU cores)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def measurements(args: argparse.Namespace, device: str) -> list[dict]:
    """One dict per (model, task, mode, dtype, kernels) to run in its own process; compile applies to inference."""
    dtypes = ["float32", "bfloat16"] if device == "cuda" else ["float32"]
    tasks = [("train", b, args.train_seconds, "eager") for b in args.train_batches]
    tasks += [("infer", 1, args.infer_seconds, mode) for mode in (["eager", "compile"] if args.compile else ["eager"])]
    return [dict(model=model, task=task, batch=batch, seconds=seconds, mode=mode, dtype=dtype, device=device,
                 variant=args.variant, sample_rate=args.sample_rate, repeats=args.repeats, threads=args.threads,
                 kernels=kernels)
            for model in args.models for task, batch, seconds, mode in tasks for dtype in dtypes
            for kernels in args.kernels]


def run_worker(spec: dict) -> dict:
    """Build the model, time `repeats` steps after a warm-up, report times and peak memory."""
    import torch

    from tdanet import TDANet

    torch.set_num_threads(spec["threads"])
    torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels
    device = torch.device(spec["device"])
    torch.manual_seed(0)
    model = TDANet(spec["variant"], sample_rate=spec["sample_rate"], enc_kernel_size_ms=MODELS[spec["model"]][1],
                   kernels=KERNELS[spec["kernels"]]).to(device)
    wave = torch.randn(spec["batch"], int(spec["seconds"] * spec["sample_rate"]), device=device)
    train = spec["task"] == "train"
    model.train(train)
    network = torch.compile(model) if spec["mode"] == "compile" else model
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=spec["dtype"] == "bfloat16")

    def step():
        with autocast, torch.set_grad_enabled(train):
            out = network(wave)
        if train:
            (out.float() - wave.unsqueeze(1)).pow(2).mean().backward()
            model.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()

    start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    warmup = timed(step)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = [timed(step) for _ in range(spec["repeats"])]
    if device.type == "cuda":
        peak_gb, start_gb = torch.cuda.max_memory_allocated() / 2**30, None
    else:
        peak_gb, start_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, start_rss
    return dict(spec, warmup_s=warmup, min_s=min(times), median_s=statistics.median(times),
                peak_gb=peak_gb, start_gb=start_gb)


def timed(step) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def run_in_subprocess(spec: dict) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark worker failed for {spec}:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def print_table(results: list[dict]) -> None:
    header = (f"{'model':<13} {'task':<6} {'input':>9} {'mode':<8} {'dtype':<9} {'kernels':<7} {'min s':>7} "
              f"{'median s':>8} {'RTF':>6} {'peak GiB':>8} {'above start GiB':>15} {'warm-up s':>9}")
    print(header)
    print("-" * len(header))
    for r in results:
        rtf = f"{r['min_s'] / r['seconds']:.3f}" if r["task"] == "infer" else ""
        above = f"{r['peak_gb'] - r['start_gb']:.2f}" if r["start_gb"] is not None else ""
        print(f"{MODELS[r['model']][0]:<13} {r['task']:<6} {r['batch']:>3} x {r['seconds']:>3g}s {r['mode']:<8} "
              f"{r['dtype']:<9} {r['kernels']:<7} {r['min_s']:>7.3f} {r['median_s']:>8.3f} {rtf:>6} "
              f"{r['peak_gb']:>8.2f} {above:>15} {r['warmup_s']:>9.1f}")


def print_kernel_speedups(results: list[dict]) -> None:
    """Median time with the kernels off / on, for each measurement that ran both ways."""
    def key(r):
        return r["model"], r["task"], r["batch"], r["mode"], r["dtype"]
    on = {key(r): r for r in results if r["kernels"] == "on"}
    pairs = [(on[key(r)], r) for r in results if r["kernels"] == "off" and key(r) in on]
    for fast, stock in pairs:
        print(f"  {MODELS[fast['model']][0]} {fast['task']} {fast['batch']} x {fast['seconds']:g}s {fast['mode']} "
              f"{fast['dtype']}: off / on = {stock['median_s'] / fast['median_s']:.2f}x (medians)")


def main() -> None:
    args = parse_args()
    if args.worker:
        print(json.dumps(run_worker(json.loads(args.worker))))
        return
    import torch

    from speechkit.machine import describe

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    specs = measurements(args, device)
    print(f"TDANet {args.variant}, {args.sample_rate} Hz, {device}, {args.threads} threads, torch {torch.__version__}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}; "
          f"{len(specs)} measurements, each in a fresh process")
    print(f"processor: {describe()}\n")
    results = []
    for spec in specs:
        results.append(run_in_subprocess(spec))
        print(f"  done: {spec['model']} {spec['task']} batch {spec['batch']} {spec['mode']} {spec['dtype']} "
              f"kernels {spec['kernels']}", flush=True)
    print()
    print_table(results)
    print()
    print_kernel_speedups(results)
    print(f"\nRTF = min time / audio seconds. Reference, {BASELINE}.")


if __name__ == "__main__":
    main()
