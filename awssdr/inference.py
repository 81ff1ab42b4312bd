"""T60 estimation with a trained checkpoint (ours, or the authors' released `.dnn`) on recordings of any length.

A recording is read and turned into SDR windows piece by piece, so the audio is never in memory whole (the
SDR matrix is: 40 floats per 16 ms of audio, about 36 MB an hour; twice that with window levels). SDR
windows that touch a zero-energy frame are left out of the attentive pooling, as padding can be; see
`masked_spectral_decay_rates`.
"""
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import yaml

from speechkit import checkpoint
from speechkit.audio import AudioError, mono_wave, resample
from speechkit.config import build
from speechkit.denormals import set_flush_denormal
from speechkit.streaming import ResampledReader

from .config import ModelConfig
from .features import SDRParams, SilentInputError, masked_spectral_decay_rates
from .model import AWSSDR

# The model `estimate_t60.py` and `estimate_t60()` use when no checkpoint is given.
DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[1] / "checkpoints" / "shipped" / "awssdr.dnn"
PIECE_WINDOWS = 4096  # SDR windows computed from one piece of audio (about 65 s at 16 kHz)
CHUNK_WINDOWS = 4096  # SDR windows the attention network sees at once; longer inputs go in chunks with a halo


def model_args(cfg: ModelConfig, params: SDRParams) -> dict:
    """The AWSSDR constructor's arguments for a model config and the features it takes."""
    args = {"n_mels": params.n_mels, "hidden": cfg.hidden, "kernel_size": cfg.kernel_size, "pooling": cfg.pooling,
            "mask_padding": cfg.mask_padding}
    return {**args, "window_level": True} if params.window_level else args


def build_model(cfg: ModelConfig, params: SDRParams) -> AWSSDR:
    return AWSSDR(**model_args(cfg, params))


def model_spec(cfg: ModelConfig, params: SDRParams) -> dict:
    """What rebuilds a trained model without its experiment config (kept in checkpoint.json)."""
    return {"kind": "awssdr", "args": model_args(cfg, params), "features": params.record()}


@dataclass
class Segment:
    """The T60 estimate of one stretch of a recording (None when it holds no valid SDR window)."""
    start_s: float
    end_s: float
    t60_s: float | None


@dataclass
class Estimator:
    """A model in eval mode with the feature parameters it was trained with."""
    model: AWSSDR
    params: SDRParams
    device: torch.device

    @torch.no_grad()
    def __call__(self, sdr: torch.Tensor, valid: torch.Tensor | None = None) -> tuple[float, torch.Tensor]:
        """T60 in seconds and attention weights (frames, n_mels) for one SDR matrix (n_rows, frames),
        leaving out the windows that `valid` (frames,) marks False."""
        x = sdr.T[None].to(self.device, torch.float32)
        mask = None if valid is None or bool(valid.all()) else valid[None].to(self.device)
        # one recording has no padding, so its invalid windows are masked whatever mask_padding says
        weight, stat = self.model.est_weight(x, mask)
        return self.model.estRT(stat).item(), weight[0].cpu()

    def estimate_file(self, path, channel: int | None = None) -> float:
        """T60 in seconds of one audio file (any rate soundfile reads; resampled to the model's rate)."""
        return self.estimate_windows(*self.file_windows(path, channel))

    def track_file(self, path, segment_s: float, channel: int | None = None) -> tuple[float, list[Segment]]:
        """The whole-file T60 and one estimate per `segment_s` of the recording (by SDR window start)."""
        sdr, valid = self.file_windows(path, channel)
        return self.estimate_windows(sdr, valid), self.segments(sdr, valid, segment_s)

    def estimate_wave(self, wave: np.ndarray, sample_rate: int) -> float:
        """T60 in seconds of a mono waveform (samples,) at `sample_rate`."""
        wave = resample(mono_wave(wave), sample_rate, self.params.sample_rate)
        sdr, valid = masked_spectral_decay_rates(wave.astype(np.float64), self.params)
        return self.estimate_windows(torch.from_numpy(sdr).float(), torch.from_numpy(valid))

    def file_windows(self, path, channel: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """SDR windows (n_rows, n_sdr) float32 and their validity (n_sdr,) of a file, read in pieces."""
        p = self.params
        window_step = p.fit_hop * p.hop_length  # samples between the starts of neighbouring SDR windows
        with ResampledReader(path, p.sample_rate, channel) as reader:
            if reader.frames < p.min_samples:
                raise AudioError(f"{path}: input too short: {reader.frames} samples at {p.sample_rate} Hz, one "
                                 f"SDR window needs {p.min_samples}")
            n_sdr = (reader.frames - p.min_samples) // window_step + 1
            sdr, valid = torch.empty(p.n_rows, n_sdr), torch.empty(n_sdr, dtype=torch.bool)
            for first in range(0, n_sdr, PIECE_WINDOWS):
                last = min(first + PIECE_WINDOWS, n_sdr)
                wave = reader.read(first * window_step, (last - 1) * window_step + p.min_samples)
                piece_sdr, piece_valid = _masked_sdr(wave, p)
                sdr[:, first:last], valid[first:last] = torch.from_numpy(piece_sdr), torch.from_numpy(piece_valid)
        if not valid.any():
            raise SilentInputError(f"{path}: no SDR window is free of zero-energy frames (digital silence): "
                                   "there is nothing to estimate from")
        return sdr, valid

    @torch.no_grad()
    def estimate_windows(self, sdr: torch.Tensor, valid: torch.Tensor) -> float:
        """T60 in seconds pooled over all valid windows; long inputs pass the attention network in chunks."""
        if sdr.shape[-1] <= CHUNK_WINDOWS:
            return self(sdr, valid)[0]
        return self.model.estRT(self._chunked_pooling(sdr, valid)[None]).item()

    def segments(self, sdr: torch.Tensor, valid: torch.Tensor, segment_s: float) -> list[Segment]:
        """One estimate per `segment_s` stretch, from the windows that start in it."""
        step_s = self.params.fit_hop * self.params.hop_length / self.params.sample_rate
        segment_of_window = np.floor(np.arange(sdr.shape[-1]) * step_s / segment_s).astype(int)
        track = []
        for k in range(segment_of_window[-1] + 1):
            part = torch.from_numpy(segment_of_window == k)
            t60_s = self(sdr[:, part], valid[part])[0] if valid[part].any() else None
            track.append(Segment(k * segment_s, min((k + 1) * segment_s, sdr.shape[-1] * step_s), t60_s))
        return track

    def _chunked_pooling(self, sdr: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """The pooled SDR vector (n_mels,) of a long input, as the attention would pool it in one pass.

        Chunks are extended on both sides by the network's receptive radius, so their central logits equal
        those of one pass; the softmax over time is accumulated chunk by chunk (a running maximum rescales
        the running sums), so neither the logits nor the weights of the whole input are ever held. Window
        levels are centred on the whole input's mean, then chunk by chunk."""
        halo, n_mels, pooling = self._receptive_radius(), self.model.n_mels, self.model.est_weight
        features, valid_on_device = sdr[None].to(self.device), valid[None].to(self.device)
        level_mean = pooling.level_mean(features, valid_on_device)
        top = torch.full((n_mels,), float("-inf"), device=self.device)
        weighted, total = torch.zeros_like(top), torch.zeros_like(top)
        for first in range(0, sdr.shape[-1], CHUNK_WINDOWS):
            if not valid[first:first + CHUNK_WINDOWS].any():
                continue  # digital silence throughout: nothing to pool
            lo, hi = max(0, first - halo), min(sdr.shape[-1], first + CHUNK_WINDOWS + halo)
            mask = valid_on_device[:, lo:hi]
            inputs = pooling.inputs(features[..., lo:hi], mask, level_mean)
            logits = pooling.logits(inputs, mask)[0, :, first - lo:first - lo + CHUNK_WINDOWS]
            new_top = torch.maximum(top, logits.amax(dim=-1))
            scale, weight = torch.exp(top - new_top), torch.exp(logits - new_top[:, None])
            chunk_sdr = features[0, :n_mels, first:first + CHUNK_WINDOWS]
            weighted = weighted * scale + (weight * chunk_sdr).sum(dim=-1)
            total, top = total * scale + weight.sum(dim=-1), new_top
        return weighted / total

    def _receptive_radius(self) -> int:
        convs = [m for m in self.model.est_weight.modules() if isinstance(m, torch.nn.Conv1d)]
        return sum(conv.kernel_size[0] // 2 for conv in convs)


def _masked_sdr(wave: np.ndarray, params: SDRParams) -> tuple[np.ndarray, np.ndarray]:
    """`masked_spectral_decay_rates` of one piece of a file; a piece without valid windows is kept, all invalid."""
    try:
        return masked_spectral_decay_rates(wave.astype(np.float64), params)
    except SilentInputError:
        pass
    frames = (len(wave) - params.n_fft) // params.hop_length + 1
    n_sdr = (frames - params.fit_len) // params.fit_hop + 1
    return np.zeros((params.n_rows, n_sdr)), np.zeros(n_sdr, dtype=bool)


def load_estimator(dnn_dir=None, device: str = "auto") -> Estimator:
    """Load `dnn_dir` (default: the shipped model) with the weights `checkpoint.model_weights_file` picks.
    The network and its features are rebuilt from the spec in checkpoint.json; see `_older_checkpoint`
    for checkpoints without one."""
    dnn_dir = default_checkpoint() if dnn_dir is None else Path(dnn_dir)
    spec = checkpoint.read_model_spec(dnn_dir, "awssdr")
    model, params = _from_spec(spec, dnn_dir) if spec is not None else _older_checkpoint(dnn_dir)
    state = checkpoint.load_model_weights(dnn_dir)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise checkpoint.CheckpointError(f"{dnn_dir}: weights do not fit the AWSSDR network: {err}") from err
    device = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                          "cpu" if device == "auto" else device)
    if device.type == "cpu":
        set_flush_denormal(True)  # denormal attention weights cost Intel CPUs several times the time
    return Estimator(model.to(device).eval(), params, device)


def _from_spec(spec: dict, dnn_dir: Path) -> tuple[AWSSDR, SDRParams]:
    """The network and feature parameters that checkpoint.json records."""
    source = str(dnn_dir / checkpoint.INFO)
    if not isinstance(spec.get("features"), dict):
        raise checkpoint.CheckpointError(f"{source}: the AWSSDR model spec has no features mapping")
    params = build(SDRParams, spec["features"], source=source, where="model.features")
    try:
        return AWSSDR(**spec["args"]), params
    except (TypeError, ValueError) as err:
        raise checkpoint.CheckpointError(f"{source}: cannot rebuild the AWSSDR network from {spec['args']}: "
                                         f"{err}") from err


def _older_checkpoint(dnn_dir: Path) -> tuple[AWSSDR, SDRParams]:
    """Fallback for checkpoints whose checkpoint.json records no model (written before it did): the network
    and features from config.yaml, or without one (the authors' released .dnn) the authors' recipe."""
    config_file = dnn_dir / checkpoint.CONFIG
    params, model_cfg = SDRParams(), ModelConfig()
    if config_file.is_file():
        config = yaml.safe_load(config_file.read_text()) or {}
        if "features" not in config:
            raise checkpoint.CheckpointError(f"{dnn_dir} is not an AWSSDR checkpoint (its {checkpoint.CONFIG} has "
                                             "no features section; a TDANet checkpoint?)")
        params = build(SDRParams, config["features"], source=str(config_file), where="features")
        model_cfg = build(ModelConfig, config.get("model", {}), source=str(config_file), where="model")
    return build_model(model_cfg, params), params


def default_checkpoint() -> Path:
    return checkpoint.shipped(DEFAULT_CHECKPOINT, "AWSSDR")


@lru_cache(maxsize=4)
def _cached_estimator(dnn_dir: str | None) -> Estimator:
    return load_estimator(dnn_dir)


def estimate_t60(wave, sample_rate: int, checkpoint=None) -> float:
    """T60 in seconds of a mono recording (samples,) at any `sample_rate`, with `checkpoint` (a `.dnn`
    directory; default: the shipped model). The model is loaded once per checkpoint and kept."""
    return _cached_estimator(None if checkpoint is None else str(checkpoint)).estimate_wave(wave, sample_rate)
