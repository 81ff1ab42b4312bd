"""Evaluation outputs follow one metrics list per task: CSV columns, summary keys, tables, show_results.py."""
import csv
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from awssdr import AWSSDR
from awssdr.evaluation import (COLLAPSE_CHECK_FROM_EPOCH, PAPER_T60_METRICS, T60_METRICS, attention_collapse_check,
                               attention_sharpness, compare_t60, error_statistics, format_table, summarise,
                               t60_range)
from speechkit.manifest import write_manifest
from speechkit.metrics import SEPARATION_METRICS, separation_scores
from tdanet.evaluation import evaluate_separator

from .script_runner import run_script


def test_each_metrics_list_names_exactly_what_its_scores_hold():
    rng = np.random.default_rng(0)
    sources, noise = rng.standard_normal((2, 800)), 0.1 * rng.standard_normal((2, 800))
    scores = separation_scores(sources[::-1] + noise, sources, sources.sum(0))
    assert list(scores) == [m.name for m in SEPARATION_METRICS] + ["permutation"]
    assert list(error_statistics([0.3, 0.5, 0.9], [0.4, 0.5, 0.8])) == ["n"] + [m.name for m in T60_METRICS]


def test_attention_sharpness_tells_equal_weights_from_collapsed_ones():
    equal = [torch.full((50, 4), 1 / 50), torch.full((200, 4), 1 / 200)]
    sharp = attention_sharpness(equal)
    assert sharp["largest_weight"] == pytest.approx((1 / 50 + 1 / 200) / 2)
    assert sharp["entropy_nats"] == pytest.approx((np.log(50) + np.log(200)) / 2)
    assert sharp["entropy_fraction"] == pytest.approx(1.0)
    one_hot = torch.zeros(100, 4)
    one_hot[7] = 1.0
    half = torch.zeros(100, 4)
    half[:2] = 0.5  # two windows share each band's weight: entropy log 2
    collapsed = attention_sharpness([one_hot, half])
    assert collapsed["largest_weight"] == pytest.approx(0.75)
    assert collapsed["entropy_nats"] == pytest.approx(np.log(2) / 2)
    assert collapsed["entropy_fraction"] == pytest.approx(np.log(2) / 2 / np.log(100))
    rows = [{"t60_s": "0.4", "t60_estimate_s": 0.5}, {"t60_s": "0.8", "t60_estimate_s": 0.7}]
    assert "WARNING: the attention has collapsed" in format_table({**summarise(rows), "attention": collapsed})
    assert "WARNING" not in format_table({**summarise(rows), "attention": sharp})


class HalvingSeparator(torch.nn.Module):
    """Gives 0.7 and 0.3 of the mixture as its two sources."""
    sample_rate = 8000

    def __init__(self):
        super().__init__()
        self.gains = torch.nn.Parameter(torch.tensor([0.7, 0.3]), requires_grad=False)

    def forward(self, mixture):
        # mixture: (batch, samples) -> (batch, 2, samples)
        return self.gains[None, :, None] * mixture[:, None]


class RandomMixtures:
    def __init__(self, n: int):
        rng = np.random.default_rng(1)
        self.items = [torch.from_numpy(rng.standard_normal((2, 400))).float() for _ in range(n)]
        self.mixtures = [SimpleNamespace(id=f"mix{i}") for i in range(n)]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        sources = self.items[index]
        return sources.sum(0), sources


def test_training_is_warned_of_a_collapsed_attention_from_the_check_epoch_on():
    items = [(torch.randn(40, frames, generator=torch.Generator().manual_seed(frames)), 0.5) for frames in (60, 90)]
    torch.manual_seed(0)
    collapsed, spread = AWSSDR(hidden=8).eval(), AWSSDR(hidden=8).eval()
    with torch.no_grad():
        collapsed.est_weight[-2].weight.mul_(1000.0)  # huge logits: each band's softmax picks one window
        spread.est_weight[-2].weight.zero_()  # equal logits: equal weights
    check = COLLAPSE_CHECK_FROM_EPOCH
    warning = attention_collapse_check(collapsed, check, items)
    assert warning.startswith("the attention has collapsed onto a few windows") and "on 2 validation items" in warning
    assert attention_collapse_check(collapsed, check - 1, items) is None  # early epochs sharpen and recover
    assert attention_collapse_check(spread, check, items) is None
    assert attention_collapse_check(AWSSDR(hidden=8, pooling="mean").eval(), check, items) is None


def test_separation_evaluation_writes_every_metric_in_every_output(tmp_path, capsys):
    summary = evaluate_separator(HalvingSeparator(), RandomMixtures(3), tmp_path, title="halves", n_examples=2,
                                 progress=False)
    names = [m.name for m in SEPARATION_METRICS]
    with open(tmp_path / "per_utterance.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["id"] for r in rows] == ["mix0", "mix1", "mix2"] and list(rows[0]) == ["id", *names]
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    assert list(summary) == ["title", "n", *names] and summary["n"] == 3
    for name in names:
        assert summary[name] == pytest.approx(np.mean([float(r[name]) for r in rows]), abs=1e-6)
    assert sorted(p.name for p in (tmp_path / "examples").iterdir()) == [
        "mix0_s1.wav", "mix0_s2.wav", "mix1_s1.wav", "mix1_s2.wav"]
    table = capsys.readouterr().out
    assert all(m.heading in table for m in SEPARATION_METRICS) and f"{summary['sdri']:.2f}" in table


def test_show_results_prints_the_metrics_of_both_tasks(tmp_path, capsys):
    rows = [{"t60_s": str(t), "snr_db": "10", "t60_estimate_s": t + 0.05} for t in (0.3, 0.6, 0.9)]
    t60 = summarise(rows)
    separation = {"title": "ours on tt", "n": 4, **{m.name: 10.0 + i for i, m in enumerate(SEPARATION_METRICS)}}
    (tmp_path / "t60.json").write_text(json.dumps(t60))
    (tmp_path / "separation.json").write_text(json.dumps(separation))
    capsys.readouterr()
    run_script("show_results.py", "--t60", f"ours={tmp_path / 't60.json'}", f"again={tmp_path / 't60.json'}",
               "--separation", tmp_path / "separation.json")
    out = capsys.readouterr().out
    assert all(m.heading in out for m in PAPER_T60_METRICS + SEPARATION_METRICS)
    overall = next(line for line in out.splitlines() if line.startswith("all"))
    assert overall.count(f"{t60['overall']['bias_s']:+.3f}") == 2
    assert "13.00" in out  # the last separation metric's value


def test_compare_evaluations_pairs_items_and_gives_the_mean_change_with_its_standard_error(tmp_path, capsys):
    audio = [tmp_path / "set" / f"rev{i}.wav" for i in range(4)]  # never read: items are keyed by their path
    common = [{"path": p, "t60_s": t60, "snr_db": snr, "kind": kind}
              for p, t60, snr, kind in zip(audio, (0.3, 0.5, 1.2, 1.5), ("0", "", "10", "0"),
                                           ("tts", "recorded", "tts", "recorded"))]
    first_errors, second_errors = [0.1, -0.2, 0.3, 0.0], [0.2, -0.1, 0.1, 0.1]
    # the two folders at different depths: their CSVs hold the same files under different relative paths
    write_manifest(tmp_path / "a" / "per_utterance.csv", [{**r, "error_s": e} for r, e in zip(common, first_errors)])
    write_manifest(tmp_path / "b" / "c" / "per_utterance.csv",
                   [{**r, "error_s": e} for r, e in reversed(list(zip(common, second_errors)))])
    change = np.square(second_errors) - np.square(first_errors)  # +0.03 -0.03 -0.08 +0.01
    comparison = compare_t60([({**r, "error_s": a}, {**r, "error_s": b})
                              for r, a, b in zip(common, first_errors, second_errors)])
    assert list(comparison) == ["all", "SNR 0 dB", "SNR 10 dB", "clean", "T60 0.1-0.4 s", "T60 0.4-0.7 s",
                                "T60 1.0-1.5 s", "recorded speech", "tts speech"]
    overall = comparison["all"]["MSE s2"]
    assert comparison["all"]["n"] == 4 and overall["change"] == pytest.approx(-0.0175)
    assert overall["se"] == pytest.approx(np.std(change, ddof=1) / 2)
    assert overall["first"] == pytest.approx(0.035) and overall["second"] == pytest.approx(0.0175)
    assert comparison["SNR 0 dB"]["MSE s2"]["change"] == pytest.approx((0.03 + 0.01) / 2)
    assert comparison["T60 1.0-1.5 s"]["n"] == 2  # 1.5 s: the last range holds its upper end
    assert np.isnan(comparison["clean"]["MSE s2"]["se"])  # one item: no standard error
    assert t60_range(1.5) == "1.0-1.5" and t60_range(1.6) is None and t60_range(0.05) is None

    capsys.readouterr()
    run_script("compare_evaluations.py", tmp_path / "a", tmp_path / "b" / "c" / "per_utterance.csv")
    lines = capsys.readouterr().out.splitlines()
    assert next(line for line in lines if line.startswith("all")).split() == [
        "all", "4", "0.0350", "0.0175", "-0.0175", f"({np.std(change, ddof=1) / 2:.4f})"]


def test_compare_evaluations_refuses_evaluations_of_different_items(tmp_path, capsys):
    rows = [{"id": f"mix{i}", "type": "tts+tts anechoic" if i % 2 else "recorded+tts reverberant",
             **{m.name: float(i + j) for j, m in enumerate(SEPARATION_METRICS)}} for i in range(5)]
    write_manifest(tmp_path / "a" / "per_utterance.csv", rows)
    write_manifest(tmp_path / "b" / "per_utterance.csv", [{**r, "si_snri": r["si_snri"] + 1.0} for r in rows])
    write_manifest(tmp_path / "c" / "per_utterance.csv", rows[:4])
    capsys.readouterr()
    run_script("compare_evaluations.py", tmp_path / "a", tmp_path / "b")
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[3:]] == ["all", "recorded+tts", "tts+tts"]
    assert lines[3].split()[1:6] == ["5", "3.00", "4.00", "+1.00", "(0.00)"]  # SI-SNRi: every item +1 dB
    with pytest.raises(SystemExit) as refused:
        run_script("compare_evaluations.py", tmp_path / "a", tmp_path / "c")
    assert refused.value.code == 2 and "do not hold the same items" in capsys.readouterr().err
