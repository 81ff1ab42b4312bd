"""T60 evaluation: per-utterance estimates, error statistics overall and per SNR / T60 range, and plots."""
import json
from pathlib import Path

import numpy as np
import torch

from speechkit.manifest import write_manifest
from speechkit.metrics import Metric, table_cells
from speechkit.paired import paired_comparison
from speechkit.progress import progress as progress_bar

# What a T60 evaluation reports per subset, in this order, beside n: the keys of `error_statistics`.
T60_METRICS = (Metric("bias_s", "bias", "s", "+.3f"), Metric("mse_s2", "MSE", "s2", ".4f"),
               Metric("rmse_s", "RMSE", "s", ".3f"), Metric("mae_s", "MAE", "s", ".3f"),
               Metric("pearson_rho", "rho", "", ".3f"))
PAPER_T60_METRICS = tuple(m for m in T60_METRICS if m.name in ("bias_s", "mse_s2", "pearson_rho"))  # as published

T60_BINS_S = (0.1, 0.4, 0.7, 1.0, 1.5)
# Attention whose entropy over the windows is below this fraction of uniform weights' has collapsed onto a
# few windows: trained runs score 0.91-0.99 of uniform, collapsed ones 0-0.2, at 1.7-3x the MSE (docs/results.md).
COLLAPSED_ATTENTION = 0.5
# Training looks for a collapse on the first validation items from this epoch on: the shipped recipe's attention
# sharpens in its first epochs and spreads out again by epoch 6 (docs/results.md).
COLLAPSE_CHECK_FROM_EPOCH = 10
COLLAPSE_CHECK_ITEMS = 16
# Breakdowns by manifest columns, when the manifest has them (the ACE manifests have all three): the table
# prints those with at most MAX_TABLE_GROUPS groups; summary.json holds every one.
GROUPINGS = {"per_kind": ("kind",), "per_room": ("room",), "per_noise": ("noise",),
             "per_noise_snr_db": ("noise", "snr_db")}
MAX_TABLE_GROUPS = 12


def error_statistics(estimate_s, truth_s) -> dict:
    """bias = mean(estimate - truth) (positive: over-estimation), MSE, RMSE, MAE, Pearson rho."""
    estimate_s, truth_s = np.asarray(estimate_s, float), np.asarray(truth_s, float)
    error = estimate_s - truth_s
    rho = float(np.corrcoef(estimate_s, truth_s)[0, 1]) if len(error) > 1 and np.std(truth_s) > 0 else float("nan")
    return {"n": int(len(error)), "bias_s": float(error.mean()), "mse_s2": float(np.mean(error ** 2)),
            "rmse_s": float(np.sqrt(np.mean(error ** 2))), "mae_s": float(np.abs(error).mean()), "pearson_rho": rho}


def evaluate_estimator(estimator, dataset, out_dir, title: str = "", progress: bool = True) -> dict:
    """Estimate every utterance of `dataset` (one at a time, so batching cannot change a result), write
    `per_utterance.csv`, `summary.json`, `scatter.png` and `attention.png` to `out_dir`; print the table."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows, weights = [], []
    for index in progress_bar(range(len(dataset)), "estimating T60", enabled=progress):
        sdr, truth = dataset[index]
        estimate, weight = estimator(sdr)
        weights.append(weight)
        rows.append({**dataset.rows[index], "t60_estimate_s": estimate, "error_s": estimate - float(truth)})
    summary = summarise(rows)
    summary["attention"] = attention_sharpness(weights)
    summary["title"] = title
    write_manifest(out_dir / "per_utterance.csv", rows)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot_scatter(rows, out_dir / "scatter.png", title)
    example = int(np.argmax([float(r["t60_s"]) for r in rows]))
    sdr = dataset[example][0][:estimator.params.n_mels]  # the slopes, without window levels
    plot_attention(sdr, weights[example], out_dir / "attention.png",
                   f"{Path(rows[example]['path']).name}, T60 {float(rows[example]['t60_s']):.2f} s")
    print(format_table(summary))
    print(f"written to {out_dir}/ (per_utterance.csv, summary.json, scatter.png, attention.png)")
    return summary


def attention_sharpness(weights: list) -> dict:
    """How peaked the attention weights are (each (frames, n_mels), summing to 1 over frames): per band, the
    largest weight and the entropy over the frames in nats, beside the entropy of equal weights (log frames),
    each averaged over bands and utterances; `entropy_fraction` = entropy / uniform entropy."""
    largest, entropy, uniform = [], [], []
    for weight in weights:
        w = np.asarray(weight, dtype=np.float64)
        largest.append(w.max(axis=0).mean())
        entropy.append(-(w * np.log(np.where(w > 0, w, 1.0))).sum(axis=0).mean())
        uniform.append(np.log(w.shape[0]))
    mean_entropy, mean_uniform = float(np.mean(entropy)), float(np.mean(uniform))
    return {"largest_weight": float(np.mean(largest)), "entropy_nats": mean_entropy,
            "uniform_entropy_nats": mean_uniform,
            "entropy_fraction": mean_entropy / mean_uniform if mean_uniform > 0 else 1.0}


@torch.no_grad()
def attention_collapse_check(model, epoch: int, dataset) -> str | None:
    """The warning training prints when the attention of `model` (an AWSSDR network in eval mode) has
    collapsed on the first COLLAPSE_CHECK_ITEMS items of `dataset`, from epoch COLLAPSE_CHECK_FROM_EPOCH on;
    None otherwise (and always with mean pooling, whose weights are equal)."""
    if epoch < COLLAPSE_CHECK_FROM_EPOCH:
        return None
    device = next(model.parameters()).device
    weights = [model.est_weight(dataset[index][0].T[None].to(device, torch.float32))[0][0].cpu()
               for index in range(min(len(dataset), COLLAPSE_CHECK_ITEMS))]
    return collapse_warning(attention_sharpness(weights), f"{len(weights)} validation items")


def collapse_warning(attention: dict, items: str) -> str | None:
    """What to say of `attention` (an `attention_sharpness` result over `items`) when it has collapsed onto a
    few windows (entropy below COLLAPSED_ATTENTION of equal weights'); None when it has not."""
    if attention["entropy_fraction"] >= COLLAPSED_ATTENTION:
        return None
    return (f"the attention has collapsed onto a few windows (entropy {attention['entropy_nats']:.2f} nats, below "
            f"{COLLAPSED_ATTENTION:.0%} of the {attention['uniform_entropy_nats']:.2f} of equal weights, on {items}). "
            "Runs whose attention stayed collapsed scored 1.7-3x the MSE of the others, and two that came back "
            "within 5 epochs still trailed: drop a run whose attention stays collapsed and train again with "
            "another train.seed (docs/results.md)")


def summarise(rows: list[dict]) -> dict:
    """Statistics overall, per SNR (when the manifest has snr_db), per true-T60 range, and per room, noise
    type and noise type x SNR (when the manifest has those columns)."""
    truth = np.array([float(r["t60_s"]) for r in rows])
    estimate = np.array([r["t60_estimate_s"] for r in rows])
    summary = {"overall": error_statistics(estimate, truth), "per_snr_db": {}, "per_t60_range_s": {}}
    if "snr_db" in rows[0]:
        summary["per_snr_db"] = _per_group(rows, ("snr_db",), estimate, truth)
    ranges = np.array([t60_range(t) or "" for t in truth])
    for label in [t60_range(lo) for lo in T60_BINS_S[:-1]]:
        inside = ranges == label
        if inside.any():
            summary["per_t60_range_s"][label] = error_statistics(estimate[inside], truth[inside])
    for name, columns in GROUPINGS.items():
        if all(c in rows[0] for c in columns):
            summary[name] = _per_group(rows, columns, estimate, truth)
    return summary


def t60_range(t60_s: float) -> str | None:
    """The range of T60_BINS_S that holds `t60_s`, as "0.1-0.4" (the last range holds its upper end too); None
    outside them all."""
    for lo, hi in zip(T60_BINS_S, T60_BINS_S[1:]):
        if lo <= t60_s < hi or hi == T60_BINS_S[-1] and t60_s == hi:
            return f"{lo:.1f}-{hi:.1f}"
    return None


def compare_t60(pairs: list[tuple[dict, dict]]) -> dict:
    """Paired comparison of two evaluations' `per_utterance.csv` rows (speechkit.paired): each one's MSE and
    the mean change of squared error, overall, per SNR, per true-T60 range and per speech kind, in the table's
    order."""
    order = {}

    def subsets(row: dict) -> list[str]:
        snr, t60, kind = row.get("snr_db"), t60_range(float(row["t60_s"])), row.get("kind")
        found = [("all", (0,))]
        if snr is not None:
            found.append((f"SNR {snr} dB" if snr else "clean", (1, *_snr_order(snr or "clean"))))
        if t60:
            found.append((f"T60 {t60} s", (2, t60)))
        if kind:
            found.append((f"{kind} speech", (3, kind)))
        order.update(found)
        return [label for label, _ in found]

    comparison = paired_comparison(pairs, {"MSE s2": lambda row: float(row["error_s"]) ** 2}, subsets)
    return {label: comparison[label] for label in sorted(comparison, key=order.get)}


def _per_group(rows: list[dict], columns: tuple[str, ...], estimate: np.ndarray, truth: np.ndarray) -> dict:
    """Statistics per value of `columns` (joined by spaces; empty values read "clean"), numbers in order."""
    labels = np.array([" ".join(r[c] or "clean" for c in columns) for r in rows])
    order = sorted(set(labels), key=lambda label: [_snr_order(part) for part in label.split()])
    return {k: error_statistics(estimate[labels == k], truth[labels == k]) for k in order}


def _snr_order(value: str):
    """Numbers first in numeric order, then words (e.g. "clean") in alphabetical order."""
    try:
        return (0, float(value), "")
    except ValueError:
        return (1, 0.0, value)


def format_table(summary: dict) -> str:
    """Plain-text table of a summary; bias is estimate minus truth."""
    groups = [("all", summary["overall"])]
    groups += [(f"SNR {k} dB" if k != "clean" else "clean", v) for k, v in summary["per_snr_db"].items()]
    groups += [(f"T60 {k} s", v) for k, v in summary["per_t60_range_s"].items()]
    omitted = []
    for name in GROUPINGS:
        found = summary.get(name, {})
        if len(found) > MAX_TABLE_GROUPS:
            omitted.append(f"{name} ({len(found)} groups)")
        else:  # "Babble 12" -> "Babble 12 dB"
            groups += [(f"{k} dB" if _snr_order(k.split()[-1])[0] == 0 else k, v) for k, v in found.items()]
    width = max(len(name) for name, _ in groups) + 2
    lines = [summary.get("title", ""), f"{'subset':<{width}}{'n':>6}{table_cells(T60_METRICS)}"]
    for name, s in groups:
        lines.append(f"{name:<{width}}{s['n']:>6}{table_cells(T60_METRICS, s)}")
    lines.append("(bias = mean of estimate - truth: positive means over-estimation)")
    if omitted:
        lines.append(f"in summary.json only: {', '.join(omitted)}")
    if "attention" in summary:
        lines.append(_attention_line(summary["attention"]))
    return "\n".join(line for line in lines if line)


def plot_scatter(rows: list[dict], path: Path, title: str) -> None:
    plt = _pyplot()
    truth = [float(r["t60_s"]) for r in rows]
    estimate = [r["t60_estimate_s"] for r in rows]
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.scatter(truth, estimate, s=8, alpha=0.6)
    top = max(max(truth), max(estimate)) * 1.05
    ax.plot([0, top], [0, top], "k--", lw=1)
    ax.set(xlabel="measured T60 (s)", ylabel="estimated T60 (s)", title=title, xlim=(0, top), ylim=(0, top))
    ax.title.set_fontsize(8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _attention_line(attention: dict) -> str:
    line = (f"attention per band: largest weight {attention['largest_weight']:.3f}, entropy "
            f"{attention['entropy_nats']:.2f} nats of {attention['uniform_entropy_nats']:.2f} for equal weights")
    warning = collapse_warning(attention, "the evaluated items")
    return line if warning is None else f"{line}\nWARNING: {warning}"


def plot_attention(sdr, weight, path: Path, title: str) -> None:
    """The SDRs of one utterance over the attention weights the model gave them (bands x frames)."""
    plt = _pyplot()
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
    top.imshow(np.asarray(sdr), aspect="auto", origin="lower", cmap="coolwarm")
    top.set(ylabel="mel band", title=f"spectral decay rates - {title}")
    bottom.imshow(np.asarray(weight).T, aspect="auto", origin="lower", cmap="viridis")
    bottom.set(xlabel="SDR frame", ylabel="mel band", title="attention weight (softmax over time per band)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt
