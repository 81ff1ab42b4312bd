"""Make LRS2-2Mix-style two-speaker mixtures (OUT/{tr,cv,tt}/{mix,s1,s2}, OUT/{tr,cv,tt}.csv) from a folder of
single-speaker utterances, ROOT/<speaker>/<file>.wav (or any tree with --speakers path,speaker CSV)."""
import argparse
import time
from pathlib import Path

from speechkit.cli import run
from speechkit.mixtures import SPLITS, find_utterances, make_mixtures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", help="folder of single-speaker utterances (.wav/.flac)")
    parser.add_argument("--out", required=True, help="output folder (must be empty unless --overwrite)")
    parser.add_argument("--speakers", default=None, metavar="CSV",
                        help="CSV with columns path,speaker (paths relative to ROOT) instead of speaker folders")
    parser.add_argument("--sample-rate", type=int, default=16000)
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--segment-s", type=float, default=2.0, help="crop length; shorter utterances are "
                        "zero-padded (default: 2.0)")
    length.add_argument("--full-length", action="store_true", help="use each pair at the shorter utterance's "
                        "length (Libri2Mix 'min' mode) instead of crops")
    parser.add_argument("--counts", type=int, nargs=3, default=[20000, 5000, 3000], metavar=("TR", "CV", "TT"),
                        help="mixtures per split (default: 20000 5000 3000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--level-db", type=float, default=5.0, help="relative level drawn from ±this (default: 5)")
    parser.add_argument("--overwrite", action="store_true", help="replace the mixtures already in --out")
    args = parser.parse_args()
    start_s = time.perf_counter()
    utterances = find_utterances(args.root, args.speakers)
    counts = make_mixtures(utterances, args.out, tuple(args.counts), args.sample_rate,
                           None if args.full_length else args.segment_s, args.level_db, args.seed, args.overwrite)
    for split in SPLITS:
        print(f"{split}: {counts[split]['mixtures']} mixtures from {counts[split]['speakers']} speakers "
              f"in {Path(args.out) / split}")
    print(f"{len(utterances)} utterances read; done in {time.perf_counter() - start_s:.1f} s")


if __name__ == "__main__":
    run(main)
