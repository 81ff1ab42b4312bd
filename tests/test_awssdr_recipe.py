"""AWSSDR end to end: numbered scripts on the tiny default corpus, the feature cache, and estimate_t60.py."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from awssdr import dataset as awssdr_dataset
from awssdr.dataset import T60Dataset
from awssdr.features import SDRParams
from awssdr.model import AWSSDR, pad_sdr_batch
from awssdr.recipe import mse_loss
from speechkit import machine
from speechkit.manifest import read_manifest

REPO = Path(__file__).resolve().parents[1]


def run(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "scripts" / script), *args], capture_output=True,
                          text=True, cwd=REPO, timeout=600)


def tiny_overrides(corpus: Path, work: Path) -> list[str]:
    sets = {"data.pools": corpus, "data.items_per_epoch": 24, "data.valid": corpus / "t60/valid.csv",
            "data.test": corpus / "t60/test.csv", "data.cache_dir": work / "cache", "checkpoint_dir": work,
            "train.epochs": 2, "train.progress": "false", "model.hidden": 32}
    return [arg for key, value in sets.items() for arg in ("--set", f"{key}={value}")]


def test_train_and_test_scripts_on_the_tiny_corpus(tiny_corpus, tmp_path):
    result = run("1_train_default.py", *tiny_overrides(tiny_corpus, tmp_path), "--set", "precision=auto")
    assert result.returncode == 0, result.stderr[-3000:]
    info = json.loads((tmp_path / "awssdr_default.dnn" / "checkpoint.json").read_text())
    assert info["epoch"] == 2 and info["step"] == 2 * 2  # 24 drawn items = 2 batches of 16, a step each
    resolved = machine.training_precision("auto", torch.device("cpu"))
    config = yaml.safe_load((tmp_path / "awssdr_default.dnn" / "config.yaml").read_text())
    assert config["precision"] == resolved  # what "auto" became on this machine, for a rebuild
    assert f"precision auto: {resolved} on cpu" in result.stdout
    result = run("1_test_default.py", *tiny_overrides(tiny_corpus, tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / "awssdr_default.eval" / "test"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["overall"]["n"] == 8 and set(summary["overall"]) >= {"bias_s", "mse_s2", "pearson_rho"}
    assert summary["per_snr_db"] and summary["per_t60_range_s"]
    assert len((out / "per_utterance.csv").read_text().splitlines()) == 9
    assert (out / "scatter.png").stat().st_size > 1000 and (out / "attention.png").stat().st_size > 1000
    assert "bias = mean of estimate - truth" in result.stdout


def test_bf16_precision_trains_in_bfloat16_keeps_the_loss_float32_and_validates_in_float32():
    torch.manual_seed(0)
    model = AWSSDR(hidden=32, mask_padding=True)
    sdr, mask = pad_sdr_batch([torch.randn(40, frames) * 0.1 for frames in (90, 60)])
    batch = (sdr, mask, torch.tensor([0.4, 1.1]))
    full = mse_loss(model, batch, torch.device("cpu"))
    half = mse_loss(model, batch, torch.device("cpu"), bf16=True)
    assert half.dtype == torch.float32 and not torch.equal(half, full)  # bfloat16 roundings: autocast was on
    assert torch.allclose(half, full, rtol=0.05, atol=1e-3)
    half.mean().backward()
    assert all(p.grad.dtype == torch.float32 and torch.isfinite(p.grad).all() for p in model.parameters())
    model.eval()  # validation scores what inference computes: float32
    cpu = torch.device("cpu")
    assert torch.equal(mse_loss(model, batch, cpu, bf16=True), mse_loss(model, batch, cpu))


def test_auto_precision_is_bf16_only_where_the_cpu_has_bf16_instructions(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(machine, "cpu_flags", lambda: {"avx2", "avx512f", "amx_tile", "amx_bf16"})
    assert machine.training_precision("auto", cpu) == "bf16"
    assert machine.training_precision("float32", cpu) == "float32"  # an explicit choice is kept
    monkeypatch.setattr(machine, "cpu_flags", lambda: {"avx2", "avx512f", "avx512_bf16"})  # no AMX tiles
    assert machine.training_precision("auto", cpu) == "bf16"
    monkeypatch.setattr(machine, "cpu_flags", lambda: {"avx2", "avx512f", "avx512bw"})  # no bf16 instructions
    assert machine.training_precision("auto", cpu) == "float32"
    assert machine.training_precision("bf16", cpu) == "bf16"


def test_features_are_cached_per_manifest_and_parameters(tiny_corpus, tmp_path, monkeypatch):
    manifest = tiny_corpus / "t60" / "valid.csv"
    first = T60Dataset(manifest, SDRParams(), tmp_path, progress=False)
    def recompute(*args):
        raise RuntimeError("recomputed a cached feature")

    monkeypatch.setattr(awssdr_dataset, "features_of_file", recompute)
    second = T60Dataset(manifest, SDRParams(), tmp_path, progress=False)
    assert all((a == b).all() for a, b in zip(first.features, second.features))
    with pytest.raises(RuntimeError, match="recomputed"):  # other parameters, another cache entry
        T60Dataset(manifest, SDRParams(fit_len=30), tmp_path, progress=False)


def test_rewritten_audio_under_the_same_manifest_is_not_served_from_the_cache(tiny_corpus, tmp_path):
    shutil.copytree(tiny_corpus / "t60", tmp_path / "t60")
    manifest, cache = tmp_path / "t60" / "valid.csv", tmp_path / "cache"
    before = T60Dataset(manifest, SDRParams(), cache, progress=False)
    first_wav = read_manifest(manifest)[0]["path"]
    wave, rate = sf.read(first_wav)
    sf.write(first_wav, wave[::-1], rate)  # new audio, same length and manifest bytes (a corpus made again)
    after = T60Dataset(manifest, SDRParams(), cache, progress=False)
    assert not torch.equal(before.features[0], after.features[0])
    assert all(torch.equal(a, b) for a, b in zip(before.features[1:], after.features[1:]))
    assert len(list(cache.glob("valid-*.pt"))) == 2


def test_estimate_t60_reports_bad_files_and_estimates_the_rest(reference_dir, tmp_path):
    parity = reference_dir / "awssdr" / "parity"
    sf.write(tmp_path / "short.wav", np.full(3000, 0.1), 16000)
    sf.write(tmp_path / "silent.wav", np.zeros(20000), 16000)
    (tmp_path / "broken.wav").write_text("not audio")
    result = run("estimate_t60.py", "--json", "--checkpoint", str(reference_dir / "awssdr/official/TrainSet2.dnn"),
                 str(parity / "utt1.wav"), str(tmp_path), str(parity / "utt3.wav"))
    assert result.returncode == 1
    estimates = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(e["path"]).name for e in estimates] == ["utt1.wav", "utt3.wav"]
    for estimate, name in zip(estimates, ("utt1", "utt3")):
        expected = float(np.load(parity / f"{name}.out.npz")["t60"])
        assert estimate["t60_s"] == pytest.approx(expected, abs=1e-4)
    assert "short.wav: input too short" in result.stderr
    assert "silent.wav: no SDR window is free of zero-energy frames" in result.stderr
    assert "broken.wav: cannot read as audio" in result.stderr
    plain = run("estimate_t60.py", "--checkpoint", str(reference_dir / "awssdr/official/TN.dnn"), str(parity / "utt2.wav"))
    assert plain.returncode == 0 and plain.stdout.startswith(f"{parity / 'utt2.wav'}\t")


def test_estimate_t60_any_rate_and_format(reference_dir, tmp_path):
    wave, rate = sf.read(reference_dir / "awssdr/parity/utt2.wav")
    from speechkit.audio import resample
    sf.write(tmp_path / "utt2_44k.flac", resample(wave, rate, 44100), 44100)
    result = run("estimate_t60.py", "--json", "--checkpoint", str(reference_dir / "awssdr/official/TrainSet2.dnn"),
                 str(tmp_path / "utt2_44k.flac"))
    assert result.returncode == 0, result.stderr
    expected = float(np.load(reference_dir / "awssdr/parity/utt2.out.npz")["t60"])
    assert json.loads(result.stdout)["t60_s"] == pytest.approx(expected, abs=0.05)  # after two resamplings
