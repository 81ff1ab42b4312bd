"""Separation evaluation: per-mixture scores (SEPARATION_METRICS), their means, a table, and examples as WAV."""
import json
from pathlib import Path

import numpy as np
import torch

from speechkit.audio import write_audio
from speechkit.manifest import write_manifest
from speechkit.metrics import SEPARATION_METRICS, separation_scores, table_cells
from speechkit.paired import paired_comparison
from speechkit.progress import progress as progress_bar


@torch.no_grad()
def evaluate_separator(separator, dataset, out_dir, title: str = "", n_examples: int = 3,
                       progress: bool = True, types: dict[str, str] | None = None) -> dict:
    """Separate every full-length mixture of `dataset` (one at a time, so batching cannot change a result)
    and score it against its sources; write `per_utterance.csv` (id and one column per metric),
    `summary.json` (title, n and each metric's mean) and the first `n_examples` separations to
    `examples/` in `out_dir`; print the table."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = next(separator.parameters()).device
    rows = []
    for index in progress_bar(range(len(dataset)), "separating", enabled=progress):
        mixture, sources = dataset[index]
        estimates = separator(mixture[None].to(device))[0].cpu()
        scores = separation_scores(estimates, sources, mixture)
        mixture_id = dataset.mixtures[index].id
        rows.append({"id": mixture_id, **({"type": types.get(mixture_id, "")} if types else {}),
                     **{metric.name: scores[metric.name] for metric in SEPARATION_METRICS}})
        if index < n_examples:
            for j, source in enumerate(estimates[scores["permutation"]]):  # in the references' order
                write_audio(out_dir / "examples" / f"{mixture_id}_s{j + 1}.wav", source.numpy(),
                            separator.sample_rate, subtype="FLOAT")
    summary = {"title": title, **summarise(rows)}
    write_manifest(out_dir / "per_utterance.csv", rows)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(format_table(summary))
    print(f"written to {out_dir}/ (per_utterance.csv, summary.json, examples/)")
    return summary


def summarise(rows: list[dict]) -> dict:
    """The number of mixtures and the mean of each metric over them; the same per type when rows have one."""
    summary = _means(rows)
    if rows and "type" in rows[0]:
        summary["per_type"] = {t: _means([r for r in rows if r["type"] == t]) for t in sorted({r["type"] for r in rows})}
    return summary


def compare_separation(pairs: list[tuple[dict, dict]]) -> dict:
    """Paired comparison of two evaluations' `per_utterance.csv` rows (speechkit.paired): each one's mean
    SI-SNRi and SDRi and the mean change, item by item, overall and per type as the table."""
    scores = {m.heading: (lambda row, name=m.name: float(row[name]))
              for m in SEPARATION_METRICS if m.name in ("si_snri", "sdri")}
    comparison = paired_comparison(pairs, scores, lambda row: ["all", row["type"]] if row.get("type") else ["all"])
    return {label: comparison[label] for label in ["all", *sorted(set(comparison) - {"all"})]}


def _means(rows: list[dict]) -> dict:
    return {"n": len(rows),
            **{metric.name: float(np.mean([row[metric.name] for row in rows])) for metric in SEPARATION_METRICS}}


def format_table(summary: dict) -> str:
    """Plain-text table of a summary: n and the mean of each metric, overall and per type."""
    groups = [("all", summary), *summary.get("per_type", {}).items()]
    width = max(len(name) for name, _ in groups) + 2
    lines = [summary.get("title", ""), f"{'':<{width}}{'n':>6}{table_cells(SEPARATION_METRICS)}"]
    lines += [f"{name:<{width}}{group['n']:>6}{table_cells(SEPARATION_METRICS, group)}" for name, group in groups]
    return "\n".join(line for line in lines if line)
