"""GPU check: the GPU paths users rely on, checked in one command on a machine with a CUDA GPU.

    python bench/gpu_check.py

- deterministic: for each model, a few steps of the project's training loop (speechkit.trainer, with its
  default train.deterministic: true), run twice from the same seed, end with bitwise-identical weights;
- bf16: a TDANet training step under bf16 autocast (precision: bf16) has a finite loss, gradients, weights;
- compile: TDANet with compile: true trains (finite losses, weights change);
- torchrun: scripts/2_train_default.py under torch.distributed.run writes a checkpoint (nccl, one process
  per GPU up to two; a single process joins a process group of one too);
- CUDA vs CPU: scripts/separate.py and scripts/estimate_t60.py agree between --device cuda and --device
  cpu within SEPARATION_MIN_SNR_DB and T60_TOLERANCE below;
- throughput (information only): a TDANet training step and 10 s of inference, fp32 and bf16.
It prints a table and exits with 1 when any check fails. Without a CUDA GPU it says so and exits 0.
"""
import argparse
import json
import math
import re
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from functools import partial
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from awssdr.config import AWSSDRConfig
from awssdr.dataset import collate as t60_collate
from awssdr.inference import build_model as build_awssdr
from awssdr.recipe import mse_loss
from speechkit import checkpoint
from speechkit.config import to_dict
from speechkit.separation_data import collate as separation_collate
from speechkit.trainer import Task, TrainConfig, fit, prepare
from tdanet.config import DataConfig, ModelConfig, TDANetConfig
from tdanet.inference import build_model as build_tdanet
from tdanet.recipe import pit_si_snr_loss

REPO_ROOT = Path(__file__).resolve().parents[1]

SAMPLE_RATE = 16000
# CUDA output vs CPU output, per source: error energy at most 0.1 % (cuDNN convolutions run in TF32 by default)
SEPARATION_MIN_SNR_DB = 30.0
T60_TOLERANCE = (0.005, 0.005)  # |CUDA - CPU| <= 5 ms + 0.5 % of the CPU estimate
TINY_TDANET = dict(in_channels=16, out_channels=8, num_blocks=2, upsampling_depth=3, num_heads=2)
# Model sizes and lengths: "gpu" as users train (the paper's TDANet; configs/tdanet/default.yaml's size for
# compile, which takes minutes at full size); "dry" for a quick CPU run of this script (--device cpu).
SIZES = {
    "gpu": dict(tdanet={}, compiled_tdanet=dict(in_channels=64, out_channels=32, num_blocks=4,
                                                upsampling_depth=4, num_heads=4),
                awssdr_hidden=512, train_s=1.0, throughput_batch=4, throughput_train_s=2.0, infer_s=10.0,
                separate_s=8.0, repeats=5),
    "dry": dict(tdanet=TINY_TDANET, compiled_tdanet=TINY_TDANET, awssdr_hidden=32, train_s=0.25,
                throughput_batch=2, throughput_train_s=0.5, infer_s=1.0, separate_s=1.0, repeats=1),
}


class RandomMixtures(torch.utils.data.Dataset):
    """(mixture (samples,), sources (2, samples)) of random noise, the same for a given seed."""

    def __init__(self, n: int, samples: int, seed: int):
        g = torch.Generator().manual_seed(seed)
        self.sources = [torch.randn(2, samples, generator=g) * 0.1 for _ in range(n)]

    def __len__(self):
        return len(self.sources)

    def __getitem__(self, i):
        return self.sources[i].sum(0), self.sources[i]


class RandomSDRs(torch.utils.data.Dataset):
    """(sdr (40, frames), t60_s) of random numbers with 30 to 60 frames, the same for a given seed."""

    def __init__(self, n: int, seed: int):
        g = torch.Generator().manual_seed(seed)
        self.items = [(torch.randn(40, int(torch.randint(30, 61, (1,), generator=g)), generator=g),
                       torch.rand((), generator=g)) for _ in range(n)]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def tdanet_config(device: torch.device, **model) -> TDANetConfig:
    cfg = TDANetConfig(name="gpu_check", model=ModelConfig(**model), data=DataConfig(sample_rate=SAMPLE_RATE))
    cfg.train = TrainConfig(epochs=1, batch_size=2, device=str(device), progress=False)
    return cfg


def tdanet_task(sizes: dict) -> Task:
    samples = int(sizes["train_s"] * SAMPLE_RATE)
    train, valid = RandomMixtures(8, samples, 0), RandomMixtures(2, samples, 1)
    return Task(train, valid, [samples] * 8, [samples] * 2, separation_collate, pit_si_snr_loss)


def train_tdanet(cfg: TDANetConfig, task: Task, work: Path):
    """The steps of tdanet.recipe.train on `task`: seed, build, (compile,) fit; returns (model, info)."""
    process = prepare(cfg.train)
    model = build_tdanet(cfg.model, SAMPLE_RATE, 2)
    if cfg.compile:
        # inductor on GPU as the recipe's model.compile(); a CPU dry run only traces (no C++ compiler needed)
        model.compile(**({} if process.device.type == "cuda" else {"backend": "aot_eager"}))
    info = fit(model, task, cfg.train, cfg.optim, work / f"{cfg.name}.dnn", to_dict(cfg), process)
    return model, info


def train_awssdr(device: torch.device, sizes: dict, work: Path):
    cfg = AWSSDRConfig(name="gpu_check")
    cfg.model.hidden = sizes["awssdr_hidden"]
    cfg.train = TrainConfig(epochs=1, batch_size=4, device=str(device), progress=False)
    process = prepare(cfg.train)
    model = build_awssdr(cfg.model, cfg.features)
    train, valid = RandomSDRs(16, 0), RandomSDRs(4, 1)
    task = Task(train, valid, [s.shape[-1] for s, _ in train.items], [s.shape[-1] for s, _ in valid.items],
                t60_collate, mse_loss)
    info = fit(model, task, cfg.train, cfg.optim, work / f"{cfg.name}.dnn", to_dict(cfg), process)
    return model, info


def weights(model: torch.nn.Module) -> dict:
    return {name: value.detach().cpu().clone() for name, value in model.state_dict().items()}


def first_difference(a: dict, b: dict) -> str | None:
    for name in a:
        if not torch.equal(a[name], b[name]):
            diff = (a[name].double() - b[name].double()).abs().max().item()
            return f"{name} differs (max |diff| {diff:.3g})"
    return None


def same_weights_twice(train_once) -> str:
    """Train twice from the same seed; the weights must be bitwise identical."""
    runs = []
    for _ in range(2):
        with tempfile.TemporaryDirectory() as work:
            model, info = train_once(Path(work))
            runs.append(weights(model))
    difference = first_difference(*runs)
    if difference:
        raise AssertionError(f"two runs from seed 0 differ: {difference}")
    return f"{info['step']} steps twice: bitwise-identical weights"


def check_deterministic_tdanet(device: torch.device, sizes: dict, variant: str = "paper") -> str:
    cfg, task = tdanet_config(device, variant=variant, **sizes["tdanet"]), tdanet_task(sizes)
    return same_weights_twice(lambda work: train_tdanet(cfg, task, work))


def check_deterministic_awssdr(device: torch.device, sizes: dict) -> str:
    return same_weights_twice(lambda work: train_awssdr(device, sizes, work))


def check_bf16_step(device: torch.device, sizes: dict) -> str:
    cfg = tdanet_config(device, **sizes["tdanet"])
    process = prepare(cfg.train)
    model = build_tdanet(cfg.model, SAMPLE_RATE, 2).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.optim.lr)
    batch = separation_collate([RandomMixtures(2, int(sizes["train_s"] * SAMPLE_RATE), 0)[i] for i in range(2)])
    loss = pit_si_snr_loss(model, batch, process.device, bf16=True).mean()
    loss.backward()
    bad_grads = [n for n, p in model.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
    optimizer.step()
    bad_weights = [n for n, p in model.named_parameters() if not torch.isfinite(p).all()]
    if not torch.isfinite(loss) or bad_grads or bad_weights:
        raise AssertionError(f"loss {loss.item()}, non-finite gradients {bad_grads[:3]}, weights {bad_weights[:3]}")
    with torch.no_grad():
        fp32_loss = pit_si_snr_loss(model.eval(), batch, process.device).mean().item()
        bf16_loss = pit_si_snr_loss(model, batch, process.device, bf16=True).mean().item()
    return f"finite; eval loss (negative SI-SNR, dB) after it: bf16 {bf16_loss:.4f}, fp32 {fp32_loss:.4f}"


def check_compile(device: torch.device, sizes: dict) -> str:
    cfg = tdanet_config(device, **sizes["compiled_tdanet"])
    cfg.compile = True
    with tempfile.TemporaryDirectory() as work:
        prepare(cfg.train)
        before = weights(build_tdanet(cfg.model, SAMPLE_RATE, 2))  # the same seed builds the same model
        model, info = train_tdanet(cfg, tdanet_task(sizes), Path(work))
    loss, changed = info["history"][-1]["train_loss"], first_difference(before, weights(model))
    if not math.isfinite(loss) or changed is None:
        raise AssertionError(f"train loss {loss}" + ("" if changed else ", weights unchanged"))
    return f"{info['step']} steps, train loss {loss:.3f}"


def write_lrs2mix_split(folder: Path, n: int, seconds: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for name in ("mix", "s1", "s2"):
        (folder / name).mkdir(parents=True)
    for i in range(n):
        sources = 0.1 * rng.standard_normal((2, int(seconds * SAMPLE_RATE)))
        for name, wave in (("mix", sources.sum(0)), ("s1", sources[0]), ("s2", sources[1])):
            sf.write(folder / name / f"utt{i}.wav", wave, SAMPLE_RATE, subtype="FLOAT")


def check_torchrun(device: torch.device, sizes: dict) -> str:
    processes = min(2, torch.cuda.device_count()) if device.type == "cuda" else 1
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        write_lrs2mix_split(work / "tr", 4, 0.5, 0)
        write_lrs2mix_split(work / "cv", 2, 0.5, 1)
        # a tiny model: what is checked is the launch, the process group and the checkpoint
        # static split folders instead of the default config's drawn mixtures (data.pools)
        settings = {"data.pools": "null", "data.train": work / "tr", "data.valid": work / "cv", "data.segment_s": 0.25,
                    "checkpoint_dir": work, "train.epochs": 1, "train.batch_size": 2, "train.progress": "false",
                    "train.device": "auto" if device.type == "cuda" else "cpu",
                    **{f"model.{k}": v for k, v in TINY_TDANET.items()}}
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
                   "scripts/2_train_default.py", *[a for k, v in settings.items() for a in ("--set", f"{k}={v}")]]
        done = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, timeout=900)
        if done.returncode != 0:  # the table shows the worker's own error, not torchrun's report of it
            errors = [line for line in done.stderr.splitlines()
                      if re.match(r"(\[rank\d+\]: )?[\w.]+(Error|Exception): ", line)]
            raise AssertionError(f"exit code {done.returncode}: {errors[0] if errors else ''}\n{done.stderr}")
        state = checkpoint.load_weights(work / "tdanet_default.dnn", "latest")
    group = "nccl" if device.type == "cuda" else "gloo"
    return f"{processes} process(es), {group}: checkpoint written, {len(state)} tensors"


def run_script(*args) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=REPO_ROOT,
                          timeout=900)
    if done.returncode != 0:
        raise AssertionError(f"{args[0]} exit code {done.returncode}: {done.stderr.strip()[-1500:]}")
    return done


def check_separate(device: torch.device, sizes: dict) -> str:
    """scripts/separate.py with a random-weight checkpoint: CUDA output vs CPU output."""
    cfg = tdanet_config(device, **sizes["tdanet"])
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        torch.manual_seed(0)
        model = build_tdanet(cfg.model, SAMPLE_RATE, 2)
        checkpoint.save_checkpoint(work / "random.dnn", weights=model.state_dict(), optim={}, trainer_state={},
                                   config=to_dict(cfg), info={"epoch": 0})
        t = np.arange(int(sizes["separate_s"] * SAMPLE_RATE)) / SAMPLE_RATE
        noise = np.random.default_rng(0).standard_normal(len(t))
        sf.write(work / "mix.wav", 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * noise, SAMPLE_RATE, subtype="FLOAT")
        outputs = {}
        for on in (device.type, "cpu"):
            run_script("scripts/separate.py", "--checkpoint", work / "random.dnn", work / "mix.wav",
                       "--out", work / on, "--device", on)
            outputs[on] = [sf.read(work / on / f"mix_s{i}.wav")[0] for i in (1, 2)]
    snrs = [snr_db(cpu, other) for cpu, other in zip(outputs["cpu"], outputs[device.type])]
    if min(snrs) < SEPARATION_MIN_SNR_DB:
        raise AssertionError(f"{device.type} vs cpu output SNR {min(snrs):.1f} dB < {SEPARATION_MIN_SNR_DB} dB")
    return f"{sizes['separate_s']:g} s: {device.type} vs cpu SNR {min(snrs):.1f} dB (>= {SEPARATION_MIN_SNR_DB:g})"


def snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    error = np.sum((estimate - reference) ** 2)
    if not np.any(reference):
        raise AssertionError("the CPU output is all zeros: nothing to compare")
    return math.inf if error == 0 else 10 * math.log10(np.sum(reference ** 2) / error)


def check_estimate_t60(device: torch.device, sizes: dict) -> str:
    """scripts/estimate_t60.py with a random-weight checkpoint on a synthetic reverberant recording."""
    cfg = AWSSDRConfig(name="random")
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        torch.manual_seed(0)
        model = build_awssdr(cfg.model, cfg.features)
        checkpoint.save_checkpoint(work / "random.dnn", weights=model.state_dict(), optim={}, trainer_state={},
                                   config=to_dict(cfg), info={"epoch": 0})
        rng = np.random.default_rng(0)
        rir = rng.standard_normal(SAMPLE_RATE // 2) * np.exp(-6.9 * np.arange(SAMPLE_RATE // 2) / (0.4 * SAMPLE_RATE))
        dry = rng.standard_normal(4 * SAMPLE_RATE) * (np.arange(4 * SAMPLE_RATE) % 8000 < 4000)  # bursts and gaps
        wet = np.convolve(dry, rir)[:len(dry)]
        sf.write(work / "room.wav", 0.5 * wet / np.abs(wet).max(), SAMPLE_RATE, subtype="FLOAT")
        t60 = {on: json.loads(run_script("scripts/estimate_t60.py", "--json", "--checkpoint", work / "random.dnn",
                                         "--device", on, work / "room.wav").stdout.splitlines()[-1])["t60_s"]
               for on in (device.type, "cpu")}
    difference, allowed = abs(t60[device.type] - t60["cpu"]), T60_TOLERANCE[0] + T60_TOLERANCE[1] * abs(t60["cpu"])
    if difference > allowed:
        raise AssertionError(f"T60 {t60[device.type]:.5f} s on {device.type} vs {t60['cpu']:.5f} s on cpu")
    return f"|{device.type} - cpu| = {difference * 1e3:.3f} ms (allowed {allowed * 1e3:.1f} ms)"


def timed(step, device: torch.device, repeats: int) -> float:
    """Median seconds of `repeats` calls of `step` after one warm-up call."""
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def tdanet_throughput(device: torch.device, sizes: dict, bf16: bool) -> str:
    cfg = tdanet_config(device, **sizes["tdanet"])
    process = prepare(cfg.train)
    model = build_tdanet(cfg.model, SAMPLE_RATE, 2).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.optim.lr)
    batch_size, train_s, infer_s = sizes["throughput_batch"], sizes["throughput_train_s"], sizes["infer_s"]
    batch = separation_collate([RandomMixtures(batch_size, int(train_s * SAMPLE_RATE), 0)[i]
                                for i in range(batch_size)])

    def train_step():
        pit_si_snr_loss(model.train(), batch, process.device, bf16=bf16).mean().backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    wave = torch.randn(1, int(infer_s * SAMPLE_RATE), device=device)

    @torch.no_grad()
    def infer():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16 and device.type == "cuda"):
            model.eval()(wave)

    train_time, infer_time = timed(train_step, device, sizes["repeats"]), timed(infer, device, sizes["repeats"])
    return (f"train step {batch_size} x {train_s:g} s: {train_time:.3f} s; "
            f"inference {infer_s:g} s: {infer_time:.3f} s ({infer_s / infer_time:.0f}x real time)")


CHECKS = [  # (name, function(device, sizes) returning a detail or raising, whether it can fail)
    ("deterministic TDANet paper", check_deterministic_tdanet, True),
    ("deterministic TDANet official-release", partial(check_deterministic_tdanet, variant="official-release"), True),
    ("deterministic AWSSDR", check_deterministic_awssdr, True),
    ("bf16 TDANet training step", check_bf16_step, True),
    ("compile: true TDANet trains", check_compile, True),
    ("torchrun writes a checkpoint", check_torchrun, True),
    ("separate.py cuda vs cpu", check_separate, True),
    ("estimate_t60.py cuda vs cpu", check_estimate_t60, True),
    ("throughput TDANet fp32", partial(tdanet_throughput, bf16=False), False),
    ("throughput TDANet bf16", partial(tdanet_throughput, bf16=True), False),
]


def run_checks(device: torch.device, sizes: dict) -> list[tuple[str, str, float, str]]:
    rows = []
    for name, check, can_fail in CHECKS:
        print(f"  {name} ...", flush=True)
        start = time.perf_counter()
        try:
            result, detail = ("ok" if can_fail else "info"), check(device, sizes)
        except Exception as err:  # a failed check is a row of the table; the traceback goes to stderr
            traceback.print_exc()
            result, detail = "FAIL", f"{type(err).__name__}: {err}".splitlines()[0][:300]
        rows.append((name, result, time.perf_counter() - start, detail))
    return rows


def print_table(rows) -> None:
    width = max(len(name) for name, *_ in rows)
    print(f"\n{'check':<{width}}  {'result':<6} {'s':>6}  detail")
    print("-" * (width + 80))
    for name, result, seconds, detail in rows:
        print(f"{name:<{width}}  {result:<6} {seconds:>6.1f}  {detail}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help=argparse.SUPPRESS)  # "cpu": a quick dry run, tiny sizes
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA GPU here (torch.cuda.is_available() is False); nothing to check")
        return 0
    sizes = SIZES["gpu" if device.type == "cuda" else "dry"]
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (dry run, tiny sizes)"
    print(f"gpu_check on {where}, torch {torch.__version__}")
    rows = run_checks(device, sizes)
    print_table(rows)
    failed = [name for name, result, *_ in rows if result == "FAIL"]
    checked = sum(result != "info" for _, result, *_ in rows)
    print(f"\n{len(failed)} of {checked} checks failed" + (f": {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
