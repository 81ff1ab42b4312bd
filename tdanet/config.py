"""The TDANet experiment config: corpus folders, network size and variant, loss, training recipe.

Defaults are the paper's recipe (Adam 1e-3, halve on a 15-epoch plateau, early stop after 30, up to 500
epochs, gradient clip 5, random 2 s training crops); `configs/tdanet/*.yaml` hold the experiments.
"""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from speechkit.drawn_data import MixtureDraw
from speechkit.optim import OptimConfig, ScheduleConfig
from speechkit.trainer import TrainConfig


@dataclass
class DataConfig:
    # split folders holding a mixture folder and one folder per source with identical file names:
    # LRS2-2Mix `tt/` (mix, s1, s2), Libri2Mix `wav8k/min/test/` (mix_clean, s1, s2), WHAM! `tt/` ...
    train: str | None = None
    valid: str | None = None
    test: str | None = None
    mixture_folder: str = "mix"  # "mix_clean" or "mix_both" for Libri2Mix and WHAM!
    source_folders: list[str] = field(default_factory=lambda: ["s1", "s2"])
    sample_rate: int = 16000
    segment_s: float = 2.0  # random training crop (3.0 for Libri2Mix and WHAM! in the paper)
    # Instead of `train`: mixtures drawn on the fly from the pools in this folder (speechkit.drawn_data)
    pools: str | None = None
    items_per_epoch: int = 2000
    draw: MixtureDraw = field(default_factory=MixtureDraw)


@dataclass
class ModelConfig:
    variant: Literal["paper", "official-release"] = "paper"
    enc_kernel_size_ms: int = 4  # 4 = TDANet, 2 = TDANet Large
    in_channels: int = 512
    out_channels: int = 128
    num_blocks: int = 16
    upsampling_depth: int = 5
    num_heads: int = 8
    dropout: float = 0.1
    drop_path: float = 0.1


@dataclass
class ShallowStart:
    """Not in the paper: for the first `epochs` epochs, train (and validate) with the shared block iterated
    only `num_blocks` times, then `model.num_blocks` times, as inference runs it. The block's weights are shared
    by its iterations, so the network is the same throughout: the early steps are cheaper (a run of a given
    length sees more mixtures), and the last epochs tune the weights to the deeper iteration. The shallow
    epochs' weights never become the best weights. epochs: 0 (the default) is off."""
    epochs: int = 0
    num_blocks: int = 4

    def __post_init__(self):
        if self.epochs < 0 or self.num_blocks < 1:
            raise ValueError(f"shallow_start: epochs must be >= 0 and num_blocks >= 1, got {self.epochs} and "
                             f"{self.num_blocks}")


@dataclass
class LossConfig:
    drop_below_db: float | None = None  # official recipe: -30 (skip items already above 30 dB SI-SNR)


@dataclass
class TestConfig:
    n_examples: int = 3  # separated test mixtures saved as WAV


@dataclass
class TDANetConfig:
    name: str  # the checkpoint is <checkpoint_dir>/<name>.dnn
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    shallow_start: ShallowStart = field(default_factory=ShallowStart)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(
        lr=1e-3, grad_clip_norm=5.0, schedule=ScheduleConfig(kind="plateau", factor=0.5, patience=15)))
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        epochs=500, batch_size=4, early_stop_patience=30))
    test: TestConfig = field(default_factory=TestConfig)
    precision: Literal["float32", "bf16"] = "float32"  # bf16 autocast on GPU (CPU always float32)
    compile: bool = False  # torch.compile the network
    checkpoint_dir: str = "checkpoints"

    @property
    def dnn_dir(self) -> Path:
        return Path(self.checkpoint_dir) / f"{self.name}.dnn"
