"""Paired comparison of two evaluations of the same test items: per subset, each run's mean score and the
mean per-item change with its standard error.

Two runs of one recipe score a few thousandths of an MSE or a few tenths of a dB apart, as much as most changes
to a recipe move them; most of each item's error is shared by both runs, so the per-item change tells a real
difference from noise where the two means alone cannot (docs/results.md reports changes this way).
"""
from typing import Callable

import numpy as np

from .errors import UserError


class PairingError(UserError, ValueError):
    """Two evaluations that cannot be paired item by item."""


def pair_rows(first: dict[str, dict], second: dict[str, dict]) -> list[tuple[dict, dict]]:
    """(first row, second row) per item, in the first's order; an error unless both hold the same items."""
    only_first, only_second = [k for k in first if k not in second], [k for k in second if k not in first]
    if only_first or only_second:
        raise PairingError(f"the two evaluations do not hold the same items ({len(first)} and {len(second)} items, "
                           f"{len(first) - len(only_first)} in both; only in the first: {only_first[:3]}, only in "
                           f"the second: {only_second[:3]}): compare evaluations of one test set")
    return [(first[k], second[k]) for k in first]


def paired_comparison(pairs: list[tuple[dict, dict]], scores: dict[str, Callable[[dict], float]],
                      subsets_of: Callable[[dict], list[str]]) -> dict:
    """{subset: {"n", score name: {"first", "second", "change", "se"}}}: each score's mean over the subset's items
    in each run, the mean of second - first item by item, and that mean's standard error. An item's subsets are
    `subsets_of(first row)`, in order of first appearance."""
    members: dict[str, list[int]] = {}
    for index, (first_row, _) in enumerate(pairs):
        for subset in subsets_of(first_row):
            members.setdefault(subset, []).append(index)
    values = {name: np.array([[score(a), score(b)] for a, b in pairs], dtype=float) for name, score in scores.items()}
    comparison = {}
    for subset, indices in members.items():
        comparison[subset] = {"n": len(indices)}
        for name, both in values.items():
            first, second = both[indices, 0], both[indices, 1]
            change = second - first
            se = float(change.std(ddof=1) / np.sqrt(len(change))) if len(change) > 1 else float("nan")
            comparison[subset][name] = {"first": float(first.mean()), "second": float(second.mean()),
                                        "change": float(change.mean()), "se": se}
    return comparison


def format_comparison(comparison: dict, digits: int) -> str:
    """One line per subset: n, then per score the two means and `change (se)`, with `digits` decimals."""
    names = [name for name in next(iter(comparison.values())) if name != "n"]
    width = digits + 4

    def cells(score: dict) -> str:
        return (f"  {score['first']:>{width}.{digits}f} {score['second']:>{width}.{digits}f}"
                f" {score['change']:>+{width}.{digits}f} ({score['se']:.{digits}f})")

    cell = len(cells({"first": 0.0, "second": 0.0, "change": 0.0, "se": 0.0}))
    label = max(len(subset) for subset in comparison) + 2
    heads = f"  {'first':>{width}} {'second':>{width}} {'change (se)':>{cell - 2 * width - 4}}"
    lines = [" " * (label + 6) + "".join(f"  {name:<{cell - 2}}" for name in names).rstrip(),
             f"{'subset':<{label}}{'n':>6}" + heads * len(names)]
    lines += [f"{subset:<{label}}{row['n']:>6}" + "".join(cells(row[name]) for name in names)
              for subset, row in comparison.items()]
    return "\n".join(lines)
