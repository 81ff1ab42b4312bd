"""Print the quickstart's results: AWSSDR tables (ours beside the released checkpoint) and TDANet scores."""
import argparse
import json
from pathlib import Path

from awssdr.evaluation import PAPER_T60_METRICS
from speechkit.cli import run
from speechkit.metrics import table_cells
from tdanet.evaluation import format_table as separation_table


def t60_side_by_side(summaries: dict[str, dict]) -> str:
    """One row per subset, one column group (the paper's statistics) per checkpoint."""
    names = list(summaries)
    group_width = len(table_cells(PAPER_T60_METRICS)) + 1
    head = f"{'subset':<16}" + "".join(f"| {name:<{group_width}}" for name in names)
    sub = f"{'':<16}" + f"| {table_cells(PAPER_T60_METRICS)} " * len(names)
    first = summaries[names[0]]
    subsets = [("all", ["overall"])] + [(f"SNR {k} dB" if k != "clean" else "clean", ["per_snr_db", k])
                                         for k in first["per_snr_db"]]
    subsets += [(f"T60 {k} s", ["per_t60_range_s", k]) for k in first["per_t60_range_s"]]
    subsets += [(f"{k} speech", ["per_kind", k]) for k in first.get("per_kind", {})]
    lines = [head, sub]
    for label, keys in subsets:
        cells = []
        for name in names:
            stats = summaries[name]
            for key in keys:
                stats = stats.get(key, {})
            cells.append(f"| {table_cells(PAPER_T60_METRICS, stats)} ")
        lines.append(f"{label:<16}" + "".join(cells))
    return "\n".join(lines + ["(bias = mean of estimate - truth; MSE in s^2; rho = Pearson correlation)"])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--t60", nargs="*", default=[], metavar="NAME=SUMMARY_JSON")
    parser.add_argument("--separation", nargs="*", default=[], metavar="[NAME=]SUMMARY_JSON")
    args = parser.parse_args(argv)
    if args.t60:
        summaries = {name: json.loads(Path(path).read_text()) for name, path in (a.split("=", 1) for a in args.t60)}
        print("\nAWSSDR: T60 estimation on the default corpus's test split (unseen voices and rooms)")
        print(t60_side_by_side(summaries))
    for arg in args.separation:
        name, path = arg.split("=", 1) if "=" in arg else ("", arg)
        print(f"\nTDANet{' ' + name if name else ''}: separation of the default corpus's test mixtures "
              "(unseen speakers, by mixture type)")
        print(separation_table(json.loads(Path(path).read_text())))


if __name__ == "__main__":
    run(main, None)
