"""Evaluation outputs follow one metrics list per task: CSV columns, summary keys, tables, show_results.py."""
import csv
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from awssdr.evaluation import (PAPER_T60_METRICS, T60_METRICS, attention_sharpness, error_statistics,
                               format_table, summarise)
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
