"""Check that a LRS2-2Mix, Libri2Mix or WHAM! folder has the layout the recipes read; print what it holds."""
import argparse

import soundfile as sf

from speechkit.separation_data import CORPUS_LAYOUTS, check_corpus
from speechkit.cli import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--layout", required=True, choices=list(CORPUS_LAYOUTS))
    parser.add_argument("root", help="corpus folder, e.g. data/Libri2Mix")
    args = parser.parse_args()
    found = check_corpus(args.root, args.layout)
    total_h = 0.0
    print(f"{args.root}: valid {args.layout} corpus")
    for folder, mixtures in found.items():
        rate = sf.info(mixtures[0].mix).samplerate
        hours = sum(m.frames for m in mixtures) / rate / 3600
        total_h += hours
        print(f"  {folder}: {len(mixtures)} mixtures, {rate} Hz, {hours:.2f} h")
    print(f"total: {sum(map(len, found.values()))} mixtures, {total_h:.2f} h")


if __name__ == "__main__":
    run(main)
