"""AWSSDR ensembles (`model.members`): each network trains as it would alone; estimates are the networks' mean."""
import numpy as np
import pytest
import torch

from awssdr import inference as awssdr_inference
from awssdr.config import AWSSDRConfig, ModelConfig
from awssdr.ensemble import AWSSDREnsemble, build_network, networks
from awssdr.features import SDRParams
from awssdr.inference import Estimator, load_estimator
from awssdr.model import AWSSDR
from awssdr.recipe import train
from speechkit import checkpoint
from speechkit.config import ConfigError, load_config

from .test_awssdr_recipe import REPO, tiny_overrides

DEFAULT_CONFIG = REPO / "configs" / "awssdr" / "default.yaml"


def tiny_config(corpus, work, name: str, members: int) -> AWSSDRConfig:
    args = tiny_overrides(corpus, work)
    overrides = [value for flag, value in zip(args[::2], args[1::2])]
    overrides += [f"name={name}", f"model.members={members}", "features.window_level=true",
                  "model.mask_padding=true", "optim.weight_decay_by_prefix={estRT.: 0.0}", "train.epochs=3",
                  "optim.grad_clip_norm=0.01"]  # small enough to clip every step
    return load_config(DEFAULT_CONFIG, AWSSDRConfig, overrides)


def test_the_first_network_of_an_ensemble_trains_exactly_as_the_single_network_would(tiny_corpus, tmp_path):
    train(tiny_config(tiny_corpus, tmp_path, "single", 1))
    train(tiny_config(tiny_corpus, tmp_path, "pair", 2))
    # the last epoch's weights (the best epochs differ: the pair is validated on its mean estimate)
    single, pair = (torch.load(tmp_path / f"{name}.dnn" / checkpoint.WEIGHTS, weights_only=True)
                    for name in ("single", "pair"))
    assert set(pair) == {f"members.{i}.{key}" for i in (0, 1) for key in single}
    for key, value in single.items():  # same seed, same items, own loss, own clipping, own weight decay groups
        assert torch.equal(pair[f"members.0.{key}"], value), key
    assert not torch.equal(pair["members.1.estRT.0.weight"], single["estRT.0.weight"])  # its own initialisation
    assert int(pair["members.1.step"]) == int(single["step"]) == 3 * 2


def test_an_ensemble_checkpoint_loads_and_estimates_the_mean_of_its_networks(tiny_corpus, tmp_path):
    cfg = tiny_config(tiny_corpus, tmp_path, "trio", 3)
    cfg.model.uniform_start, cfg.train.epochs = True, 1  # each network from equal weights
    train(cfg)
    estimator = load_estimator(tmp_path / "trio.dnn")
    assert isinstance(estimator.model, AWSSDREnsemble) and len(networks(estimator.model)) == 3
    for network in networks(estimator.model):  # two Adam steps from zero (kaiming-normal starts near 0.1)
        assert network.est_weight[-2].weight.abs().max() < 0.005
    sdr = torch.randn(estimator.params.n_rows, 300, generator=torch.Generator().manual_seed(0))
    valid = torch.ones(300, dtype=torch.bool)
    valid[100:140] = False
    alone = [Estimator(network, estimator.params, estimator.device)(sdr, valid) for network in networks(estimator.model)]
    estimate, weight = estimator(sdr, valid)
    assert estimate == pytest.approx(np.mean([t60_s for t60_s, _ in alone]), abs=1e-6)
    assert torch.allclose(weight, torch.stack([w for _, w in alone]).mean(dim=0))
    assert len({round(t60_s, 6) for t60_s, _ in alone}) == 3  # three different networks


def test_long_inputs_pool_each_network_in_chunks_as_in_one_pass(monkeypatch):
    torch.manual_seed(0)
    params = SDRParams(window_level=True)
    model = build_network(members=2, hidden=32, window_level=True, mask_padding=True).eval()
    estimator = Estimator(model, params, torch.device("cpu"))
    sdr = torch.randn(params.n_rows, 500, generator=torch.Generator().manual_seed(1))
    valid = torch.ones(500, dtype=torch.bool)
    whole = estimator.estimate_windows(sdr, valid)
    monkeypatch.setattr(awssdr_inference, "CHUNK_WINDOWS", 64)
    assert estimator.estimate_windows(sdr, valid) == pytest.approx(whole, abs=1e-5)


def test_one_member_is_the_papers_network_and_fewer_is_an_error():
    assert type(build_network(members=1)) is AWSSDR
    assert type(build_network(members=2)) is AWSSDREnsemble
    with pytest.raises(ValueError, match="2 or more"):
        AWSSDREnsemble(1)
    with pytest.raises(ConfigError, match="model.members=0"):
        load_config(DEFAULT_CONFIG, AWSSDRConfig, ["model.members=0"])
    with pytest.raises(ConfigError, match="only for attentive pooling"):
        load_config(DEFAULT_CONFIG, AWSSDRConfig, ["model.uniform_start=true", "model.pooling=mean"])
    assert awssdr_inference.model_args(ModelConfig(), SDRParams()) == {  # the single network's spec is unchanged
        "n_mels": 40, "hidden": 512, "kernel_size": 11, "pooling": "attentive", "mask_padding": False}
