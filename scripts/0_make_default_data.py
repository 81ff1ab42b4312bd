"""Make the built-in default corpus: speech, room and noise pools for on-the-fly training, and fixed
validation and test sets (T60 items, LRS2-style mixtures); offline, from Debian packages and simulation."""
import argparse
import time

from speechkit.cli import run
from speechkit.corpus.default_corpus import SCALES, describe_corpus, make_default_corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="data/default", help="output folder (default: data/default)")
    parser.add_argument("--scale", default="small", choices=list(SCALES), help="corpus size (default: small)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all CPUs)")
    parser.add_argument("--overwrite", action="store_true", help="regenerate, replacing whatever corpus is in --out")
    args = parser.parse_args()
    start_s = time.perf_counter()
    make_default_corpus(args.out, args.scale, args.seed, args.workers, args.overwrite)
    print(describe_corpus(args.out))
    print(f"done in {time.perf_counter() - start_s:.1f} s")


if __name__ == "__main__":
    run(main)
