"""TDANet end to end: training and test scripts on the tiny default corpus, and separate.py on long inputs."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from speechkit import checkpoint
from speechkit.config import to_dict
from tdanet.config import DataConfig, ModelConfig, TDANetConfig
from tdanet.inference import build_model, load_separator, separate_file
from tdanet.recipe import train

REPO = Path(__file__).resolve().parents[1]
TINY_MODEL = {"in_channels": 16, "out_channels": 8, "num_blocks": 2, "upsampling_depth": 3, "num_heads": 2}


def tiny_config(corpus: Path, work: Path, epochs: int = 4) -> TDANetConfig:
    cfg = TDANetConfig(name="tiny", checkpoint_dir=str(work), model=ModelConfig(**TINY_MODEL),
                       data=DataConfig(pools=str(corpus), items_per_epoch=12, valid=str(corpus / "lrs2mix/cv"),
                                       test=str(corpus / "lrs2mix/tt"), segment_s=1.0))
    cfg.train.epochs, cfg.train.progress, cfg.optim.lr = epochs, False, 3e-3
    return cfg


def test_a_tiny_model_trains_and_lowers_its_loss(tiny_corpus, tmp_path):
    info = train(tiny_config(tiny_corpus, tmp_path))
    losses = [epoch["train_loss"] for epoch in info["history"]]
    assert info["epoch"] == 4 and losses[-1] < losses[0]
    assert (tmp_path / "tiny.dnn" / "best_weights.pyt").is_file()


def test_a_shallow_start_trains_the_same_weights_iterated_fewer_times_first(tiny_corpus, tmp_path):
    shallow = tiny_config(tiny_corpus, tmp_path / "shallow", epochs=2)
    shallow.model.num_blocks = 1
    deepened = tiny_config(tiny_corpus, tmp_path / "deepened", epochs=3)
    deepened.shallow_start.epochs, deepened.shallow_start.num_blocks = 2, 1
    first, then = train(shallow)["history"], train(deepened)
    assert then["history"][:2] == first  # epochs 1-2: the 1-iteration run, step for step
    assert then["best_epoch"] == 3  # the shallow epochs' weights are not the model's final form
    assert then["model"]["args"]["num_blocks"] == 2
    assert load_separator(tmp_path / "deepened" / "tiny.dnn").num_blocks == 2


def test_test_script_writes_scores_and_examples(tiny_corpus, tmp_path):
    cfg = tiny_config(tiny_corpus, tmp_path, epochs=1)
    train(cfg)
    (tmp_path / "cfg.yaml").write_text(json.dumps(to_dict(cfg)))  # JSON is YAML
    result = subprocess.run([sys.executable, "scripts/2_test_default.py", "--config", str(tmp_path / "cfg.yaml")],
                            capture_output=True, text=True, cwd=REPO, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / "tiny.eval" / "tt"
    with open(out / "per_utterance.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6 and list(rows[0]) == ["id", "type", "si_snr", "si_snri", "sdr", "sdri"]
    assert len({row["type"] for row in rows}) == 6  # one mixture of each type
    summary = json.loads((out / "summary.json").read_text())
    assert summary["si_snri"] == pytest.approx(np.mean([float(r["si_snri"]) for r in rows]), abs=1e-4)
    examples = sorted(p.name for p in (out / "examples").iterdir())
    assert len(examples) == 6 and examples[0].endswith("_s1.wav")
    assert "SI-SNRi" in result.stdout


def save_random_model(dnn_dir: Path, sample_rate: int = 16000) -> None:
    cfg = TDANetConfig(name="random", model=ModelConfig(**TINY_MODEL), data=DataConfig(sample_rate=sample_rate))
    torch.manual_seed(0)
    model = build_model(cfg.model, sample_rate, 2)
    checkpoint.save_checkpoint(dnn_dir, weights=model.state_dict(), optim={}, trainer_state={},
                               config=to_dict(cfg), info={"epoch": 0})


def test_separate_script_keeps_the_length_and_rate_of_a_60_s_input(tmp_path):
    save_random_model(tmp_path / "random.dnn")
    wave = 0.1 * np.random.default_rng(0).standard_normal(60 * 22050)
    sf.write(tmp_path / "long.wav", wave, 22050)
    result = subprocess.run([sys.executable, "scripts/separate.py", "--checkpoint", str(tmp_path / "random.dnn"),
                             str(tmp_path / "long.wav"), "--out", str(tmp_path / "out")],
                            capture_output=True, text=True, cwd=REPO, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("long_s1.wav", "long_s2.wav"):
        info = sf.info(tmp_path / "out" / name)
        assert (info.samplerate, info.frames) == (22050, len(wave))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["long_s1.wav", "long_s2.wav"]


class SwappingSeparator(torch.nn.Module):
    """Splits a low tone from a high one by FFT masking, swapping its output order on every other call."""

    sample_rate, num_sources = 8000, 2

    def __init__(self):
        super().__init__()
        self.calls = torch.nn.Parameter(torch.zeros(()), requires_grad=False)

    def forward(self, x):
        spectrum = torch.fft.rfft(x)
        low = torch.arange(spectrum.shape[-1]) < spectrum.shape[-1] * 1000 // 4000
        parts = [torch.fft.irfft(spectrum * mask, n=x.shape[-1]) for mask in (low, ~low)]
        self.calls += 1
        return torch.stack(parts if int(self.calls) % 2 else parts[::-1], dim=1)


def test_long_inputs_keep_each_speaker_in_its_own_file_across_chunks(tmp_path):
    t = np.arange(8000 * 25) / 8000
    low, high = 0.5 * np.sin(2 * np.pi * 200 * t), 0.3 * np.sin(2 * np.pi * 2500 * t)
    sf.write(tmp_path / "mix.wav", low + high, 8000, subtype="FLOAT")
    outputs = [tmp_path / "s1.wav", tmp_path / "s2.wav"]
    separate_file(SwappingSeparator(), tmp_path / "mix.wav", outputs, chunk_s=4.0, overlap_s=0.5)
    s1, s2 = (sf.read(p)[0] for p in outputs)
    assert len(s1) == len(t)
    for start in range(0, len(t) - 8000, 8000):  # every second of the output: the same speaker in s1
        part = slice(start + 100, start + 7900)
        assert abs(np.corrcoef(s1[part], low[part])[0, 1]) > 0.99
        assert abs(np.corrcoef(s2[part], high[part])[0, 1]) > 0.99
