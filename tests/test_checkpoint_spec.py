"""Loading a model from its .dnn alone: the spec checkpoint.json records, older checkpoints through their
config.yaml, the authors' AWSSDR release through their recipe, and one weight rule for both models."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from awssdr import inference as awssdr_inference
from awssdr.config import AWSSDRConfig, DataConfig as T60DataConfig, ModelConfig as AWSSDRModelConfig
from awssdr.features import SDRParams, masked_spectral_decay_rates
from awssdr.model import AWSSDR
from awssdr.recipe import train as train_awssdr
from speechkit import checkpoint
from speechkit.manifest import write_manifest
from speechkit.trainer import TrainConfig
from tdanet import inference as tdanet_inference
from tdanet.config import DataConfig as SeparationDataConfig, ModelConfig as TDANetModelConfig, TDANetConfig
from tdanet.recipe import train as train_tdanet

from .fake_corpora import decaying_noise, separation_corpus

TINY_TDANET = {"in_channels": 16, "out_channels": 8, "num_blocks": 2, "upsampling_depth": 3, "num_heads": 2}
# settings away from both the defaults and the authors' recipe, so a loader that ignored them would fail
AWSSDR_FEATURES = SDRParams(n_mels=20, fit_len=30)
AWSSDR_MODEL = AWSSDRModelConfig(hidden=16, kernel_size=5, mask_padding=True)


def reverberant_noise(t60_s: float, seed: int, rate: int = 16000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dry = rng.standard_normal(rate) * np.repeat(0.05 + (rng.uniform(0, 1, 10) > 0.4), rate // 10)
    return (0.3 * np.convolve(dry, decaying_noise(t60_s, rate, rng))[:rate]).astype(np.float32)


@pytest.fixture(scope="module")
def awssdr_run(tmp_path_factory) -> tuple[Path, AWSSDRConfig]:
    """An AWSSDR checkpoint trained now (two epochs, tiny) on decaying noise."""
    work = tmp_path_factory.mktemp("awssdr_run")
    rows = []
    for i, t60_s in enumerate((0.3, 0.5, 0.7, 0.9, 0.4, 0.8)):
        sf.write(work / f"u{i}.wav", reverberant_noise(t60_s, seed=i), 16000)
        rows.append({"path": work / f"u{i}.wav", "t60_s": t60_s})
    write_manifest(work / "train.csv", rows[:4])
    write_manifest(work / "valid.csv", rows[4:])
    cfg = AWSSDRConfig(name="tiny", checkpoint_dir=str(work), features=AWSSDR_FEATURES, model=AWSSDR_MODEL,
                       data=T60DataConfig(train=str(work / "train.csv"), valid=str(work / "valid.csv"),
                                          cache_dir=None),
                       train=TrainConfig(epochs=2, batch_size=2, accumulate_batches=1, progress=False))
    train_awssdr(cfg)
    return cfg.dnn_dir, cfg


@pytest.fixture(scope="module")
def tdanet_run(tmp_path_factory) -> tuple[Path, TDANetConfig]:
    """A TDANet checkpoint trained now (one epoch, tiny) on a fake Libri2Mix tree at 8 kHz."""
    work = tmp_path_factory.mktemp("tdanet_run")
    splits = separation_corpus(work / "libri2mix", "libri2mix") / "wav8k/min"
    cfg = TDANetConfig(name="tiny", checkpoint_dir=str(work), model=TDANetModelConfig(**TINY_TDANET),
                       data=SeparationDataConfig(train=str(splits / "train-100"), valid=str(splits / "dev"),
                                                 mixture_folder="mix_clean", sample_rate=8000, segment_s=0.25),
                       train=TrainConfig(epochs=1, batch_size=2, progress=False))
    train_tdanet(cfg)
    return cfg.dnn_dir, cfg


def copy_without(dnn_dir: Path, dest: Path, *, config: bool = True, spec: bool = True) -> Path:
    """A copy of `dnn_dir` without its config.yaml (config=False) or without the spec (spec=False)."""
    shutil.copytree(dnn_dir, dest)
    if not config:
        (dest / checkpoint.CONFIG).unlink()
    if not spec:
        info = json.loads((dest / checkpoint.INFO).read_text())
        del info["model"]
        (dest / checkpoint.INFO).write_text(json.dumps(info))
    return dest


def expected_t60_s(cfg: AWSSDRConfig, weights_file: Path, wave: np.ndarray) -> float:
    """The estimate of the network the config describes with these weights, built by hand."""
    model = awssdr_inference.build_model(cfg.model, cfg.features)
    model.load_state_dict(torch.load(weights_file, weights_only=True))
    estimator = awssdr_inference.Estimator(model.eval(), cfg.features, torch.device("cpu"))
    sdr, valid = masked_spectral_decay_rates(wave.astype(np.float64), cfg.features)
    return estimator.estimate_windows(torch.from_numpy(sdr).float(), torch.from_numpy(valid))


def expected_sources(cfg: TDANetConfig, weights_file: Path, mixture: torch.Tensor) -> torch.Tensor:
    model = tdanet_inference.build_model(cfg.model, cfg.data.sample_rate, len(cfg.data.source_folders))
    model.load_state_dict(torch.load(weights_file, weights_only=True))
    with torch.no_grad():
        return model.eval()(mixture)


@pytest.mark.parametrize("what", ["spec only (config.yaml deleted)", "config.yaml only (an older checkpoint)"])
def test_a_trained_awssdr_checkpoint_loads_from_its_spec_or_older_config(awssdr_run, tmp_path, what):
    dnn_dir, cfg = awssdr_run
    assert json.loads((dnn_dir / checkpoint.INFO).read_text())["model"]["kind"] == "awssdr"
    spec_only = what.startswith("spec")
    copy = copy_without(dnn_dir, tmp_path / "copy.dnn", config=not spec_only, spec=spec_only)
    estimator = awssdr_inference.load_estimator(copy, device="cpu")
    assert estimator.params == AWSSDR_FEATURES
    wave = reverberant_noise(0.6, seed=99)
    assert estimator.estimate_wave(wave, 16000) == expected_t60_s(cfg, dnn_dir / checkpoint.BEST_WEIGHTS, wave)


@pytest.mark.parametrize("what", ["spec only (config.yaml deleted)", "config.yaml only (an older checkpoint)"])
def test_a_trained_tdanet_checkpoint_loads_from_its_spec_or_older_config(tdanet_run, tmp_path, what):
    dnn_dir, cfg = tdanet_run
    assert json.loads((dnn_dir / checkpoint.INFO).read_text())["model"]["kind"] == "tdanet"
    spec_only = what.startswith("spec")
    copy = copy_without(dnn_dir, tmp_path / "copy.dnn", config=not spec_only, spec=spec_only)
    model = tdanet_inference.load_separator(copy, device="cpu")
    assert model.sample_rate == 8000
    mixture = torch.randn(1, 2400, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(model(mixture), expected_sources(cfg, dnn_dir / checkpoint.BEST_WEIGHTS, mixture))


def test_an_authors_awssdr_release_loads_with_the_authors_recipe(tmp_path):
    torch.manual_seed(0)
    weights = AWSSDR(n_mels=40).state_dict()  # the authors' network: 512 hidden channels, kernel 11
    (tmp_path / "Release.dnn").mkdir()
    torch.save(weights, tmp_path / "Release.dnn" / checkpoint.WEIGHTS)  # all the authors' .dnn hold
    estimator = awssdr_inference.load_estimator(tmp_path / "Release.dnn", device="cpu")
    assert estimator.params == SDRParams()
    for key, value in estimator.model.state_dict().items():
        assert torch.equal(value, weights[key]), key


def save_two_weights(kind: str, dnn_dir: Path) -> dict[str, dict]:
    """A checkpoint of `kind` with a spec and different latest and best weights; returns both state_dicts."""
    if kind == "awssdr":
        spec = awssdr_inference.model_spec(AWSSDR_MODEL, AWSSDR_FEATURES)
        build = lambda: AWSSDR(**spec["args"])  # noqa: E731
    else:
        spec = tdanet_inference.model_spec(TDANetModelConfig(**TINY_TDANET), 8000, 2)
        build = lambda: tdanet_inference.TDANet(**spec["args"])  # noqa: E731
    torch.manual_seed(1)
    latest = build().state_dict()
    torch.manual_seed(2)
    best = build().state_dict()
    checkpoint.save_checkpoint(dnn_dir, weights=latest, optim={}, trainer_state={}, config={},
                               info={"epoch": 2, "model": spec}, best_weights=best)
    return {checkpoint.WEIGHTS: latest, checkpoint.BEST_WEIGHTS: best}


def loaded_weights_file(kind: str, dnn_dir: Path, saved: dict[str, dict]) -> str:
    """Which of the saved files the model loader of `kind` loaded."""
    model = (awssdr_inference.load_estimator(dnn_dir, device="cpu").model if kind == "awssdr"
             else tdanet_inference.load_separator(dnn_dir, device="cpu"))
    state = model.state_dict()
    (name,) = [name for name, weights in saved.items() if all(torch.equal(state[k], v) for k, v in weights.items())]
    return name


def test_both_loaders_pick_the_best_weights_when_present_else_the_latest(tmp_path):
    saved = {kind: save_two_weights(kind, tmp_path / f"{kind}.dnn") for kind in ("awssdr", "tdanet")}
    for kind in saved:
        assert checkpoint.model_weights_file(tmp_path / f"{kind}.dnn").name == checkpoint.BEST_WEIGHTS
        assert loaded_weights_file(kind, tmp_path / f"{kind}.dnn", saved[kind]) == checkpoint.BEST_WEIGHTS
        (tmp_path / f"{kind}.dnn" / checkpoint.BEST_WEIGHTS).unlink()
        assert loaded_weights_file(kind, tmp_path / f"{kind}.dnn", saved[kind]) == checkpoint.WEIGHTS


def test_a_spec_of_the_other_model_is_an_error_naming_both_kinds(tmp_path):
    save_two_weights("awssdr", tmp_path / "awssdr.dnn")
    save_two_weights("tdanet", tmp_path / "tdanet.dnn")
    with pytest.raises(checkpoint.CheckpointError, match="records a model of kind 'tdanet', not 'awssdr'"):
        awssdr_inference.load_estimator(tmp_path / "tdanet.dnn", device="cpu")
    with pytest.raises(checkpoint.CheckpointError, match="records a model of kind 'awssdr', not 'tdanet'"):
        tdanet_inference.load_separator(tmp_path / "awssdr.dnn", device="cpu")
