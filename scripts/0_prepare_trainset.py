"""Build an AWSSDR reverberant training set (paper sets 1 and 2) from speech, measured RIRs and noise recordings.

Every speech file is convolved with an RIR drawn from --rirs (labelled by its measured fullband T60), or with
--examples-per-rir N every RIR with N drawn speech files, and mixed with a noise segment at an SNR drawn from
--snr-db, at 16 kHz. Validation RIRs and speech files are unseen in training.
Example: python scripts/0_prepare_trainset.py --speech TIMIT/TRAIN --rirs RIRS --noise AURORA4_NOISE \\
             --examples-per-rir 54 --out data/awssdr_trainset1
"""
import argparse
import os
import time

from awssdr.corpora import TrainsetOptions, prepare_trainset
from speechkit.cli import run


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--speech", nargs="+", required=True,
                        help="folder trees of anechoic speech (several for set 2)")
    parser.add_argument("--rirs", required=True,
                        help="folder tree of measured RIRs: audio files or Aachen AIR .mat files (first channel used)")
    parser.add_argument("--noise", required=True, help="folder of noise recordings")
    parser.add_argument("--out", required=True, help="output folder, e.g. data/awssdr_trainset1")
    parser.add_argument("--snr-db", nargs="+", type=float, default=[0.0, 10.0, 20.0])
    parser.add_argument("--valid-fraction", type=float, default=0.05, help="share of RIRs and speech files held out")
    parser.add_argument("--examples-per-rir", type=int,
                        help="N examples per RIR with drawn speech (the paper's sets: 54 for set 1, 108 for set 2); "
                             "default: one example per speech file with a drawn RIR")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--decay-db", type=float, default=30.0, choices=[20.0, 30.0], help="T30 (default) or T20")
    parser.add_argument("--skip-bad-rirs", action="store_true", help="warn about and leave out unmeasurable RIRs")
    parser.add_argument("--features-only", action="store_true",
                        help="write no audio, only the SDR feature cache that training loads (see --cache-dir)")
    parser.add_argument("--cache-dir", default="data/cache/sdr",
                        help="feature cache folder (the config's data.cache_dir)")
    parser.add_argument("--overwrite", action="store_true", help="replace a prepared set in --out")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes making examples (default: all CPUs; the output does not depend on it)")
    args = parser.parse_args(argv)
    options = TrainsetOptions(args.speech, args.rirs, args.noise, args.snr_db, args.valid_fraction, args.seed,
                              args.decay_db, args.skip_bad_rirs, args.examples_per_rir)
    start_s = time.perf_counter()
    summary = prepare_trainset(options, args.out, args.features_only, args.cache_dir, overwrite=args.overwrite,
                               workers=args.workers)
    elapsed_s = time.perf_counter() - start_s
    print(f"{args.out}: {summary['examples']['train']} train / {summary['examples']['valid']} valid examples from "
          f"{summary['rirs_used']['train']} / {summary['rirs_used']['valid']} RIRs in {elapsed_s:.1f} s")
    for rir in summary["skipped_rirs"]:
        print(f"skipped RIR {rir['path']}: {rir['reason']}")


if __name__ == "__main__":
    run(main, None)
