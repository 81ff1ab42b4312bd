"""Separation with a trained TDANet: loading checkpoints, and files of any length in bounded memory."""
import os
from itertools import permutations
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import yaml

from speechkit import checkpoint
from speechkit.config import build
from speechkit.streaming import ResampledReader

from .config import ModelConfig
from .model import TDANet


def build_model(cfg: ModelConfig, sample_rate: int, num_sources: int) -> TDANet:
    return TDANet(variant=cfg.variant, sample_rate=sample_rate, enc_kernel_size_ms=cfg.enc_kernel_size_ms,
                  in_channels=cfg.in_channels, out_channels=cfg.out_channels, num_blocks=cfg.num_blocks,
                  upsampling_depth=cfg.upsampling_depth, num_sources=num_sources, num_heads=cfg.num_heads,
                  dropout=cfg.dropout, drop_path=cfg.drop_path)


def load_separator(path, variant: str | None = None, sample_rate: int | None = None,
                   enc_kernel_size_ms: int | None = None, device: str = "auto") -> TDANet:
    """An eval-mode TDANet from one of our `.dnn` directories (its best weights) or an authors' file.

    The authors' bare state_dict carries no sample rate or variant; pass them (the variant is inferred
    from the keys when omitted, and the kernel size from the encoder's shape)."""
    path = Path(path)
    if path.is_dir():
        model = _from_dnn(path)
    else:
        extra = {k: v for k, v in (("sample_rate", sample_rate), ("enc_kernel_size_ms", enc_kernel_size_ms))
                 if v is not None}
        model = TDANet.from_official(path, variant=variant, **extra)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else torch.device(device)
    return model.to(device).eval()


def _from_dnn(dnn_dir: Path) -> TDANet:
    config_file = dnn_dir / checkpoint.CONFIG
    if not config_file.is_file():
        raise checkpoint.CheckpointError(f"{dnn_dir}: no {checkpoint.CONFIG}; not a TDANet checkpoint of ours")
    config = yaml.safe_load(config_file.read_text())
    model_cfg = build(ModelConfig, config["model"], source=str(config_file), where="model")
    model = build_model(model_cfg, config["data"]["sample_rate"], len(config["data"]["source_folders"]))
    which = "best" if (dnn_dir / checkpoint.BEST_WEIGHTS).is_file() else "latest"
    model.load_state_dict(checkpoint.load_weights(dnn_dir, which))
    return model


@torch.no_grad()
def separate_file(model: TDANet, path, out_paths: list[Path], chunk_s: float = 10.0, overlap_s: float = 1.0,
                  channel: int | None = None) -> None:
    """Separate an audio file of any length into `out_paths` (one per source) at the file's own rate.

    The recording is read, separated and written chunk by chunk: chunks of `chunk_s` overlap by
    `overlap_s`, each chunk's sources are reordered to match the previous chunk in the overlap (so a
    speaker keeps its output file), and overlaps are cross-faded. Memory does not grow with the length.
    """
    with ResampledReader(path, model.sample_rate, channel) as reader:
        file_rate = reader.file_rate
        direct = file_rate == model.sample_rate
        stage = out_paths if direct else [p.with_name(f".{p.stem}.{model.sample_rate}hz.wav") for p in out_paths]
        _separate_stream(model, reader, [p.with_name(p.name + ".part") for p in stage], chunk_s, overlap_s)
        for p in stage:
            os.replace(p.with_name(p.name + ".part"), p)
    if not direct:  # back to the input's rate, again piece by piece
        for tmp, final in zip(stage, out_paths):
            _resample_file(tmp, final, file_rate)
            tmp.unlink()


def _separate_stream(model, reader: ResampledReader, out_paths, chunk_s: float, overlap_s: float) -> None:
    rate, device = model.sample_rate, next(model.parameters()).device
    chunk, overlap = int(chunk_s * rate), int(overlap_s * rate)
    if not 0 < overlap < chunk // 2:
        raise ValueError(f"overlap_s={overlap_s} must be positive (it aligns the speakers of neighbouring "
                         f"chunks) and under half of chunk_s={chunk_s}")
    fade_in = np.linspace(0.0, 1.0, overlap + 2, dtype=np.float32)[1:-1]
    writers = [sf.SoundFile(p, "w", rate, 1, subtype="FLOAT", format="WAV") for p in out_paths]
    try:
        tail, start = None, 0
        while start < reader.frames:
            stop = min(start + chunk, reader.frames)
            x = torch.from_numpy(reader.read(start, stop)).to(device)
            est = model(x[None])[0].float().cpu().numpy()  # (n_src, samples)
            if tail is not None:
                est = est[_best_order(tail, est[:, :overlap])]
                est[:, :overlap] = tail * (1 - fade_in) + est[:, :overlap] * fade_in
            last = stop == reader.frames
            keep = est.shape[1] if last else est.shape[1] - overlap
            for writer, source in zip(writers, est[:, :keep]):
                writer.write(source)
            tail, start = est[:, keep:], stop - overlap
            if last:
                break
    finally:
        for writer in writers:
            writer.close()


def _best_order(previous: np.ndarray, current: np.ndarray) -> list[int]:
    """Order of `current`'s sources that best matches `previous` (normalised correlation in the overlap)."""
    def corr(a, b):
        return float(a @ b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-8)
    n = len(previous)
    return list(max(permutations(range(n)), key=lambda p: sum(corr(previous[i], current[p[i]]) for i in range(n))))


def _resample_file(src: Path, dst: Path, rate: int, block_s: float = 30.0) -> None:
    part = dst.with_name(dst.name + ".part")
    with ResampledReader(src, rate) as reader, sf.SoundFile(part, "w", rate, 1, subtype="FLOAT", format="WAV") as out:
        block = int(block_s * rate)
        for start in range(0, reader.frames, block):
            out.write(reader.read(start, min(start + block, reader.frames)))
    os.replace(part, dst)
