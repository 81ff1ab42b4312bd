"""T60 estimation with a trained checkpoint: ours (with its config) or the authors' released `.dnn`."""
from dataclasses import dataclass
from pathlib import Path

import torch
import yaml

from speechkit import checkpoint
from speechkit.config import build

from .config import ModelConfig
from .dataset import features_of_file
from .features import SDRParams
from .model import AWSSDR


def build_model(cfg: ModelConfig, n_mels: int) -> AWSSDR:
    return AWSSDR(n_mels=n_mels, hidden=cfg.hidden, kernel_size=cfg.kernel_size, pooling=cfg.pooling,
                  mask_padding=cfg.mask_padding)


@dataclass
class Estimator:
    """A model in eval mode with the feature parameters it was trained with."""
    model: AWSSDR
    params: SDRParams
    device: torch.device

    @torch.no_grad()
    def __call__(self, sdr: torch.Tensor) -> tuple[float, torch.Tensor]:
        """T60 in seconds and attention weights (frames, n_mels) for one SDR matrix (n_mels, frames)."""
        t60_s, weight, _ = self.model(sdr.T[None].to(self.device, torch.float32))
        return t60_s.item(), weight[0].cpu()

    def estimate_file(self, path) -> float:
        """T60 in seconds of one audio file (any rate soundfile reads; resampled to the model's rate)."""
        return self(features_of_file(path, self.params))[0]


def load_estimator(dnn_dir, device: str = "auto", which: str = "latest") -> Estimator:
    """Load `dnn_dir`; a directory without config.yaml (the authors' release) gets the authors' recipe."""
    dnn_dir = Path(dnn_dir)
    config_file = dnn_dir / checkpoint.CONFIG
    params, model_cfg = SDRParams(), ModelConfig()
    if config_file.is_file():
        config = yaml.safe_load(config_file.read_text())
        params = build(SDRParams, config.get("features", {}), source=str(config_file), where="features")
        model_cfg = build(ModelConfig, config.get("model", {}), source=str(config_file), where="model")
    model = build_model(model_cfg, params.n_mels)
    state = checkpoint.load_weights(dnn_dir, which)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise checkpoint.CheckpointError(f"{dnn_dir}: weights do not fit the AWSSDR network: {err}") from err
    device = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                          "cpu" if device == "auto" else device)
    return Estimator(model.to(device).eval(), params, device)

