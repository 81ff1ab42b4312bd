"""Separation with a trained TDANet: loading checkpoints, and files of any length in bounded memory."""
import os
from functools import lru_cache
from itertools import permutations
from math import ceil
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf
import torch
import yaml

from speechkit import checkpoint
from speechkit.audio import mono_wave, resample
from speechkit.config import build
from speechkit.denormals import set_flush_denormal
from speechkit.progress import progress as progress_bar
from speechkit.streaming import ResampledReader

from .config import ModelConfig
from .model import TDANet

# The model `separate.py` and `separate()` use when no checkpoint is given.
DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[1] / "checkpoints" / "shipped" / "tdanet.dnn"


def model_args(cfg: ModelConfig, sample_rate: int, num_sources: int) -> dict:
    """The TDANet constructor's arguments for a model config."""
    return {"variant": cfg.variant, "sample_rate": sample_rate, "enc_kernel_size_ms": cfg.enc_kernel_size_ms,
            "in_channels": cfg.in_channels, "out_channels": cfg.out_channels, "num_blocks": cfg.num_blocks,
            "upsampling_depth": cfg.upsampling_depth, "num_sources": num_sources, "num_heads": cfg.num_heads,
            "dropout": cfg.dropout, "drop_path": cfg.drop_path}


def build_model(cfg: ModelConfig, sample_rate: int, num_sources: int) -> TDANet:
    return TDANet(**model_args(cfg, sample_rate, num_sources))


def model_spec(cfg: ModelConfig, sample_rate: int, num_sources: int) -> dict:
    """What rebuilds a trained model without its experiment config (kept in checkpoint.json)."""
    return {"kind": "tdanet", "args": model_args(cfg, sample_rate, num_sources)}


def load_separator(path=None, variant: str | None = None, sample_rate: int | None = None,
                   enc_kernel_size_ms: int | None = None, device: str = "auto") -> TDANet:
    """An eval-mode TDANet from one of our `.dnn` directories (see `_from_dnn`) or an authors' file
    (default: the shipped model).

    The authors' bare state_dict carries no sample rate or variant; pass them (the variant is inferred
    from the keys when omitted, and the kernel size from the encoder's shape)."""
    path = default_checkpoint() if path is None else Path(path)
    if path.is_dir():
        model = _from_dnn(path)
    elif not path.exists():
        raise checkpoint.CheckpointError(f"checkpoint not found: {path}")
    else:
        extra = {k: v for k, v in (("sample_rate", sample_rate), ("enc_kernel_size_ms", enc_kernel_size_ms))
                 if v is not None}
        try:
            model = TDANet.from_official(path, variant=variant, **extra)
        except (ValueError, TypeError) as err:
            raise checkpoint.CheckpointError(f"{path}: cannot be used as a TDANet checkpoint: {err}") from err
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else torch.device(device)
    if device.type == "cpu":
        set_flush_denormal(True)  # denormal floats cost Intel CPUs several times the time
    return model.to(device).eval()


def default_checkpoint() -> Path:
    return checkpoint.shipped(DEFAULT_CHECKPOINT, "TDANet")


def _from_dnn(dnn_dir: Path) -> TDANet:
    """One of our `.dnn` directories, rebuilt from the spec in its checkpoint.json (see `_older_checkpoint_args`
    for checkpoints without one), with the weights `checkpoint.model_weights_file` picks."""
    spec = checkpoint.read_model_spec(dnn_dir, "tdanet")
    args = spec["args"] if spec is not None else _older_checkpoint_args(dnn_dir)
    try:
        model = TDANet(**args)
    except (TypeError, ValueError) as err:
        raise checkpoint.CheckpointError(f"{dnn_dir}: cannot rebuild the TDANet network from {args}: {err}") from err
    try:
        model.load_state_dict(checkpoint.load_model_weights(dnn_dir))
    except RuntimeError as err:
        raise checkpoint.CheckpointError(f"{dnn_dir}: weights do not fit the TDANet network: {err}") from err
    return model


def _older_checkpoint_args(dnn_dir: Path) -> dict:
    """Fallback for checkpoints whose checkpoint.json records no model (written before it did): the
    constructor arguments from their config.yaml."""
    config_file = dnn_dir / checkpoint.CONFIG
    if not config_file.is_file():
        raise checkpoint.CheckpointError(f"{dnn_dir}: neither a model in {checkpoint.INFO} nor a {checkpoint.CONFIG}; "
                                         "not a TDANet checkpoint of ours")
    config = yaml.safe_load(config_file.read_text()) or {}
    if "source_folders" not in (config.get("data") or {}):
        raise checkpoint.CheckpointError(f"{dnn_dir} is not a TDANet checkpoint (its {checkpoint.CONFIG} has no "
                                         "data.source_folders; an AWSSDR checkpoint?)")
    model_cfg = build(ModelConfig, config["model"], source=str(config_file), where="model")
    return model_args(model_cfg, config["data"]["sample_rate"], len(config["data"]["source_folders"]))


@torch.no_grad()
def separate_file(model: TDANet, path, out_paths: list[Path], chunk_s: float = 10.0, overlap_s: float = 1.0,
                  channel: int | None = None, progress: bool = True) -> None:
    """Separate an audio file of any length into `out_paths` (one per source) at the file's own rate.

    The recording is read, separated and written chunk by chunk (see `_separate_stream`), so memory does
    not grow with its length. Outputs appear only when complete: on any failure nothing is left behind.
    """
    with ResampledReader(path, model.sample_rate, channel) as reader:
        file_rate = reader.file_rate
        direct = file_rate == model.sample_rate
        stage = out_paths if direct else [p.with_name(f".{p.stem}.{model.sample_rate}hz.wav") for p in out_paths]
        parts = [p.with_name(p.name + ".part") for p in stage]
        try:
            writers = [sf.SoundFile(p, "w", model.sample_rate, 1, subtype="FLOAT", format="WAV") for p in parts]
            try:
                _separate_stream(model, reader, lambda block: [w.write(s) for w, s in zip(writers, block)],
                                 chunk_s, overlap_s, progress_label=Path(path).name if progress else None)
            finally:
                for writer in writers:
                    writer.close()
            if not direct:  # back to the input's rate, again piece by piece
                for part, final in zip(parts, out_paths):
                    _resample_file(part, final, file_rate)
            else:
                for part, final in zip(parts, out_paths):
                    os.replace(part, final)
        finally:
            for part in parts:
                part.unlink(missing_ok=True)


@torch.no_grad()
def separate_wave(model: TDANet, wave: np.ndarray, sample_rate: int, chunk_s: float = 10.0,
                  overlap_s: float = 1.0) -> np.ndarray:
    """Sources (num_sources, samples) of a mono waveform (samples,) at `sample_rate`, at that same rate."""
    wave = mono_wave(wave)
    blocks = []
    _separate_stream(model, ArrayReader(resample(wave, sample_rate, model.sample_rate)), blocks.append,
                     chunk_s, overlap_s)
    sources = np.concatenate(blocks, axis=1)
    return resample(sources, model.sample_rate, sample_rate)[:, :len(wave)]


class ArrayReader:
    """An in-memory waveform with the `frames` / `read(start, stop)` interface of `ResampledReader`."""

    def __init__(self, wave: np.ndarray):
        self.wave, self.frames = wave, len(wave)

    def read(self, start: int, stop: int) -> np.ndarray:
        return self.wave[start:stop]


@lru_cache(maxsize=4)
def _cached_separator(path: str | None) -> TDANet:
    return load_separator(path)


def separate(wave, sample_rate: int, checkpoint=None) -> np.ndarray:
    """Separate a mono recording (samples,) at any `sample_rate` into (num_sources, samples) at that rate,
    with `checkpoint` (one of our `.dnn` directories; default: the shipped model), loaded once and kept."""
    return separate_wave(_cached_separator(None if checkpoint is None else str(checkpoint)), wave, sample_rate)


def _separate_stream(model, reader, write: Callable[[np.ndarray], None], chunk_s: float, overlap_s: float,
                     progress_label: str | None = None) -> None:
    """Separate `reader`'s samples chunk by chunk, handing each finished block (num_sources, n) to `write`.

    Chunks of `chunk_s` overlap by `overlap_s`; each chunk's sources are reordered to match the previous
    chunk in the overlap (so a speaker keeps its output), and overlaps are cross-faded."""
    rate, device = model.sample_rate, next(model.parameters()).device
    chunk, overlap = int(chunk_s * rate), int(overlap_s * rate)
    if not 0 < overlap < chunk // 2:
        raise ValueError(f"overlap_s={overlap_s} must be positive (it aligns the speakers of neighbouring "
                         f"chunks) and under half of chunk_s={chunk_s}")
    fade_in = np.linspace(0.0, 1.0, overlap + 2, dtype=np.float32)[1:-1]
    n_chunks = 1 + max(0, ceil((reader.frames - chunk) / (chunk - overlap)))
    tail, start, last = None, 0, False
    bar = progress_bar(total=n_chunks, desc=f"separating {progress_label}", enabled=progress_label is not None)
    while not last:
        stop = min(start + chunk, reader.frames)
        x = torch.from_numpy(np.ascontiguousarray(reader.read(start, stop))).to(device)
        est = model(x[None])[0].float().cpu().numpy()  # (n_src, samples)
        if tail is not None:
            est = est[_best_order(tail, est[:, :overlap])]
            est[:, :overlap] = tail * (1 - fade_in) + est[:, :overlap] * fade_in
        last = stop == reader.frames
        keep = est.shape[1] if last else est.shape[1] - overlap
        write(est[:, :keep])
        tail, start = est[:, keep:], stop - overlap
        bar.update()
    bar.close()


def _best_order(previous: np.ndarray, current: np.ndarray) -> list[int]:
    """Order of `current`'s sources that best matches `previous` (normalised correlation in the overlap)."""
    def corr(a, b):
        return float(a @ b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-8)
    n = len(previous)
    return list(max(permutations(range(n)), key=lambda p: sum(corr(previous[i], current[p[i]]) for i in range(n))))


def _resample_file(src: Path, dst: Path, rate: int, block_s: float = 30.0) -> None:
    part = dst.with_name(dst.name + ".part")
    try:
        with ResampledReader(src, rate) as reader, \
                sf.SoundFile(part, "w", rate, 1, subtype="FLOAT", format="WAV") as out:
            block = int(block_s * rate)
            for start in range(0, reader.frames, block):
                out.write(reader.read(start, min(start + block, reader.frames)))
        os.replace(part, dst)
    finally:
        part.unlink(missing_ok=True)
