"""Peak memory and speed of scripts/estimate_t60.py on long recordings (1, 10 and 60 minutes by default).

Each run is a fresh process whose peak resident memory (ru_maxrss) is reported, so the numbers are the
whole program's. The audio is read in pieces and never held whole; what grows with the length is the SDR
matrix (40 floats per 16 ms, about 36 MB an hour; twice that with window levels, as the shipped model has) and the
attention logits pooled over it. The model is an AWSSDR with random weights (memory and speed do not
depend on the weights), with a T60 track per 10 s.

    python bench/bench_estimate_memory.py [--minutes 1 10 60] [--threads 2] [--window-level]
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from math import ceil
from pathlib import Path

import soundfile as sf
import torch

from awssdr.config import AWSSDRConfig
from awssdr.features import SDRParams
from awssdr.inference import build_model
from bench_separate_memory import MEASURE, write_recording
from speechkit import checkpoint
from speechkit.config import to_dict

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, nargs="+", default=[1, 10, 60])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--segment-s", type=float, default=10.0)
    parser.add_argument("--window-level", action="store_true", help="features.window_level (the shipped model's)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cfg = AWSSDRConfig(name="bench", features=SDRParams(window_level=args.window_level))
        torch.manual_seed(0)
        model = build_model(cfg.model, cfg.features)
        checkpoint.save_checkpoint(tmp / "bench.dnn", weights=model.state_dict(), optim={}, trainer_state={},
                                   config=to_dict(cfg), info={"epoch": 0})
        for minutes in args.minutes:
            audio = tmp / f"{minutes:g}min.wav"
            write_recording(audio, minutes)
            argv = ["estimate_t60.py", "--checkpoint", str(tmp / "bench.dnn"), str(audio), "--segment-s",
                    str(args.segment_s), "--device", "cpu"]
            code = MEASURE.format(threads=args.threads, argv=argv, script=str(REPO / "scripts" / "estimate_t60.py"))
            start = time.perf_counter()
            run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
            seconds = time.perf_counter() - start
            if run.returncode:
                sys.exit(f"estimate_t60.py failed on {minutes:g} min:\n{run.stderr[-3000:]}")
            lines = run.stdout.split("PEAK_RSS_MB")[0].splitlines()
            segments = len(lines) - 1
            expected = ceil((sf.info(audio).duration - 0.33) / args.segment_s)  # by SDR window start
            assert segments == expected, f"{segments} segments for {minutes:g} min, expected {expected}"
            peak = float(run.stdout.split("PEAK_RSS_MB")[-1])
            results.append({"minutes": minutes, "peak_rss_mb": round(peak, 1), "seconds": round(seconds, 1),
                            "segments": segments})
            print(f"{minutes:>6g} min: peak RSS {peak:8.1f} MB, {seconds:8.1f} s, {segments} segments "
                  f"and the whole-file estimate", flush=True)
            audio.unlink()
    for r in results[1:]:
        print(f"peak memory at {r['minutes']:g} min / at {results[0]['minutes']:g} min: "
              f"{r['peak_rss_mb'] / results[0]['peak_rss_mb']:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
