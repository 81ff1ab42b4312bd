"""Config loading: schema validation with errors that name the key and the file, and overrides."""
from dataclasses import dataclass, field
from typing import Literal

import pytest

from speechkit.config import ConfigError, load_config, save_config


@dataclass
class Optim:
    lr: float = 1e-3
    clip: float | None = None
    kind: Literal["adam", "sgd"] = "adam"


@dataclass
class Experiment:
    name: str
    epochs: int = 10
    layers: list[int] = field(default_factory=lambda: [1, 2])
    optim: Optim = field(default_factory=Optim)


def write(tmp_path, text):
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return path


def test_builds_nested_config_with_defaults(tmp_path):
    cfg = load_config(write(tmp_path, "name: a\noptim:\n  lr: 1\n"), Experiment)
    assert cfg == Experiment(name="a", optim=Optim(lr=1.0))
    assert isinstance(cfg.optim.lr, float)


def test_overrides_parse_values_as_yaml(tmp_path):
    cfg = load_config(write(tmp_path, "name: a\n"), Experiment,
                      ["optim.lr=5e-4", "optim.clip=null", "layers=[3, 4]", "optim.kind=sgd"])
    assert cfg.optim.lr == 5e-4 and cfg.optim.clip is None and cfg.layers == [3, 4] and cfg.optim.kind == "sgd"


@pytest.mark.parametrize("text, overrides, message", [
    ("name: a\noptim:\n  lrr: 1\n", [], r"unknown key 'optim.lrr'"),
    ("name: a\n", ["optim.momentum=0.9"], r"unknown key 'optim.momentum'"),
    ("name: a\nepochs: ten\n", [], r"epochs must be of type int, got 'ten'"),
    ("name: a\nepochs: true\n", [], r"epochs must be of type int"),
    ("name: a\noptim:\n  kind: rmsprop\n", [], r"optim.kind must be one of \['adam', 'sgd'\]"),
    ("name: a\nlayers: [1, x]\n", [], r"layers\[1\] must be of type int"),
    ("epochs: 3\n", [], r"missing required key 'name'"),
    ("name: a\noptim: 3\n", [], r"optim must be a mapping"),
])
def test_invalid_config_names_key_and_file(tmp_path, text, overrides, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as err:
        load_config(path, Experiment, overrides)
    assert str(path) in str(err.value)


def test_malformed_override_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="section.key=value"):
        load_config(write(tmp_path, "name: a\n"), Experiment, ["optim.lr"])
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml", Experiment)


def test_saved_config_loads_back_identically(tmp_path):
    cfg = Experiment(name="b", epochs=3, optim=Optim(clip=5.0))
    save_config(cfg, tmp_path / "saved.yaml")
    assert load_config(tmp_path / "saved.yaml", Experiment) == cfg
