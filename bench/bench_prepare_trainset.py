"""Times the AWSSDR training-set preparation (scripts/0_prepare_trainset.py's library call) on synthetic
sources of realistic size, with 1 and with N worker processes side by side, writing audio and features-only.

Run from the repository root: `python bench/bench_prepare_trainset.py [--workers N]`.
"""
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from awssdr.corpora import TrainsetOptions, prepare_trainset

N_SPEECH, SPEECH_S = 40, 3.0  # TIMIT utterances average about 3 s
N_RIRS, RIR_RATE = 20, 48000


def write_sources(root: Path, examples_per_rir: int, seed: int = 0) -> TrainsetOptions:
    """Noise-burst 'speech' at 16 kHz, decaying-noise RIRs (T60 0.2-1.4 s) at 48 kHz, two noise recordings."""
    rng = np.random.default_rng(seed)
    for folder in ("speech", "rirs", "noise"):
        (root / folder).mkdir(parents=True)
    n = int(SPEECH_S * 16000)
    for i in range(N_SPEECH):
        bursts = np.repeat(rng.uniform(0, 1, size=30) > 0.4, n // 30 + 1)[:n]
        sf.write(root / "speech" / f"utt{i:03d}.wav", 0.2 * bursts * rng.standard_normal(n), 16000)
    for i, t60_s in enumerate(np.linspace(0.2, 1.4, N_RIRS)):
        t = np.arange(int(1.2 * t60_s * RIR_RATE)) / RIR_RATE
        sf.write(root / "rirs" / f"rir{i:03d}.wav", rng.standard_normal(len(t)) * 10 ** (-3 * t / t60_s), RIR_RATE,
                 subtype="FLOAT")
    for name in ("babble", "car"):
        sf.write(root / "noise" / f"{name}.wav", 0.1 * rng.standard_normal(16000 * 20), 16000)
    return TrainsetOptions([str(root / "speech")], str(root / "rirs"), str(root / "noise"),
                           examples_per_rir=examples_per_rir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--examples-per-rir", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        options = write_sources(work / "sources", args.examples_per_rir)
        examples = N_RIRS * args.examples_per_rir
        print(f"{examples} examples ({N_SPEECH} x {SPEECH_S:g} s speech files, {N_RIRS} RIRs at {RIR_RATE} Hz)")
        for features_only in (False, True):
            for workers in sorted({1, args.workers}):
                out = work / f"set_{features_only}_{workers}"
                start_s = time.perf_counter()
                prepare_trainset(options, out, features_only, cache_dir=work / f"cache_{workers}", progress=False,
                                 workers=workers)
                elapsed_s = time.perf_counter() - start_s
                print(f"{'features only' if features_only else 'audio':<14} workers {workers}: {elapsed_s:6.1f} s, "
                      f"{examples / elapsed_s:6.1f} examples/s")


if __name__ == "__main__":
    main()
