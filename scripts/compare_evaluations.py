"""Compare two evaluations of one test set item by item: per subset, each one's mean and the mean change from the
first to the second with its standard error (speechkit/paired.py says why pairing).

FIRST and SECOND are output folders of the test scripts (scripts/1_test_default.py, 2_test_default.py, ...), or
their per_utterance.csv files. T60 evaluations: MSE and the mean change of squared error (negative: the second is
better), overall, per SNR, per T60 range and per speech kind. Separation evaluations: SI-SNRi and SDRi and their
mean change (positive: the second is better), overall and per mixture type.
"""
import argparse
from pathlib import Path

from awssdr.evaluation import compare_t60
from speechkit.cli import run
from speechkit.manifest import read_manifest
from speechkit.paired import PairingError, format_comparison, pair_rows
from tdanet.evaluation import compare_separation

# What each kind of evaluation is recognised by (a column of its per_utterance.csv), keyed by, compared with.
KINDS = {"T60": ("error_s", lambda row: str(row["path"]), compare_t60, 4),
         "separation": ("si_snri", lambda row: row["id"], compare_separation, 2)}


def read_evaluation(path: Path) -> tuple[str, dict[str, dict]]:
    """(kind, {item key: row}) of an evaluation folder or its per_utterance.csv."""
    csv = path / "per_utterance.csv" if path.is_dir() else path
    rows = read_manifest(csv, required=(), check_files=False)
    for kind, (column, key, _, _) in KINDS.items():
        if column in rows[0]:
            keyed = {key(row): row for row in rows}
            if len(keyed) != len(rows):
                raise PairingError(f"{csv}: {len(rows) - len(keyed)} items appear more than once")
            return kind, keyed
    raise PairingError(f"{csv}: neither a T60 nor a separation evaluation (no column "
                       f"{' or '.join(column for column, *_ in KINDS.values())})")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("first", type=Path, metavar="FIRST")
    parser.add_argument("second", type=Path, metavar="SECOND")
    args = parser.parse_args(argv)
    (kind, first), (second_kind, second) = read_evaluation(args.first), read_evaluation(args.second)
    if kind != second_kind:
        raise PairingError(f"{args.first} is a {kind} evaluation and {args.second} a {second_kind} one")
    _, _, compare, digits = KINDS[kind]
    print(f"{kind}: first {args.first}, second {args.second}; change = second - first, item by item, "
          f"mean (standard error)")
    print(format_comparison(compare(pair_rows(first, second)), digits))


if __name__ == "__main__":
    run(main)
