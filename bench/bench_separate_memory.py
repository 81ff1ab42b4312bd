"""Peak memory and speed of scripts/separate.py on long recordings (1, 10 and 30 minutes by default).

Each run is a fresh process whose peak resident memory (ru_maxrss) is reported, so the numbers are the
whole program's, model and audio buffers included. The model is a full-size TDANet (paper variant,
16 kHz, 4 ms) with random weights: memory and speed do not depend on the weights.

    python bench/bench_separate_memory.py [--minutes 1 10 30] [--threads 2]
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from speechkit import checkpoint
from speechkit.config import to_dict
from tdanet.config import DataConfig, TDANetConfig
from tdanet.inference import build_model

REPO = Path(__file__).resolve().parents[1]

MEASURE = """
import resource, runpy, sys, torch
torch.set_num_threads({threads})
sys.argv = {argv!r}
try:
    runpy.run_path({script!r}, run_name="__main__")
except SystemExit as exit:
    if exit.code:
        raise
print("PEAK_RSS_MB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def write_recording(path: Path, minutes: float, rate: int = 16000, block_s: int = 60) -> None:
    """Two alternating 'talkers' (modulated tones) plus noise, written block by block."""
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", rate, 1, subtype="PCM_16") as f:
        for start in range(0, int(minutes * 60), block_s):
            t = start + np.arange(block_s * rate) / rate
            a = 0.3 * np.sin(2 * np.pi * 180 * t) * (np.sin(2 * np.pi * 0.3 * t) > 0)
            b = 0.2 * np.sin(2 * np.pi * 630 * t) * (np.sin(2 * np.pi * 0.2 * t) > 0)
            f.write(a + b + 0.01 * rng.standard_normal(len(t)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 10, 30])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--chunk-s", type=float, default=10.0)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cfg = TDANetConfig(name="bench", data=DataConfig(sample_rate=16000))
        torch.manual_seed(0)
        model = build_model(cfg.model, 16000, 2)
        checkpoint.save_checkpoint(tmp / "bench.dnn", weights=model.state_dict(), optim={}, trainer_state={},
                                   config=to_dict(cfg), info={"epoch": 0})
        for minutes in args.minutes:
            audio = tmp / f"{minutes:g}min.wav"
            write_recording(audio, minutes)
            argv = ["separate.py", "--checkpoint", str(tmp / "bench.dnn"), str(audio), "--out", str(tmp / "out"),
                    "--chunk-s", str(args.chunk_s), "--device", "cpu"]
            code = MEASURE.format(threads=args.threads, argv=argv, script=str(REPO / "scripts" / "separate.py"))
            start = time.perf_counter()
            run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
            seconds = time.perf_counter() - start
            if run.returncode:
                sys.exit(f"separate.py failed on {minutes:g} min:\n{run.stderr[-3000:]}")
            peak = float(run.stdout.split("PEAK_RSS_MB")[-1])
            out_frames = sf.info(tmp / "out" / f"{audio.stem}_s1.wav").frames
            assert out_frames == sf.info(audio).frames, "output length differs from the input's"
            results.append({"minutes": minutes, "peak_rss_mb": round(peak, 1), "seconds": round(seconds, 1),
                            "real_time_factor": round(seconds / (minutes * 60), 3)})
            print(f"{minutes:>6g} min: peak RSS {peak:8.1f} MB, {seconds:8.1f} s "
                  f"(RTF {seconds / (minutes * 60):.3f}), output length = input length", flush=True)
            audio.unlink()
    base = results[0]["peak_rss_mb"]
    for r in results[1:]:
        print(f"peak memory at {r['minutes']:g} min / at {results[0]['minutes']:g} min: {r['peak_rss_mb'] / base:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
