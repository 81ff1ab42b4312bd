"""Reverberant-speech sets for T60 estimation: manifest rows with their SDR features, computed once and cached."""
import hashlib
from dataclasses import asdict
from pathlib import Path

import torch

from speechkit.audio import AudioError, read_audio
from speechkit.manifest import read_manifest
from speechkit.progress import progress as progress_bar

from .features import SDRParams, spectral_decay_rates
from .model import pad_sdr_batch


class T60Dataset(torch.utils.data.Dataset):
    """Items are (sdr (n_mels, frames) float32, t60_s); `rows` keeps the manifest's other columns."""

    def __init__(self, manifest, params: SDRParams, cache_dir=None, progress: bool = True):
        self.rows = read_manifest(manifest, required=("path", "t60_s"))
        self.t60_s = torch.tensor([float(row["t60_s"]) for row in self.rows])
        self.features = _cached_features(Path(manifest), self.rows, params, cache_dir, progress)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int):
        return self.features[index], self.t60_s[index]

    @property
    def lengths(self) -> list[int]:
        return [f.shape[-1] for f in self.features]


def collate(items):
    """(sdr, t60) pairs -> zero-padded SDRs (batch, frames, n_mels), valid-frame mask, targets (batch,)."""
    sdr, mask = pad_sdr_batch([sdr for sdr, _ in items])
    return sdr, mask, torch.stack([t60 for _, t60 in items])


def features_of_file(path, params: SDRParams) -> torch.Tensor:
    """SDR matrix (n_mels, frames) of an audio file at any rate, as float32; errors name the file."""
    wave, _ = read_audio(path, sample_rate=params.sample_rate)
    try:
        sdr = spectral_decay_rates(wave.astype("float64"), **asdict(params))
    except ValueError as err:
        raise AudioError(f"{path}: {err}") from err
    return torch.from_numpy(sdr).float()


def _cached_features(manifest: Path, rows, params: SDRParams, cache_dir, progress: bool) -> list[torch.Tensor]:
    """Features of every row, from `cache_dir` when an entry for this manifest and these parameters exists."""
    cache = None
    if cache_dir is not None:
        stamp = hashlib.sha1(manifest.read_bytes()).hexdigest()[:12]
        cache = Path(cache_dir) / f"{manifest.stem}-{stamp}-{params.cache_key()}.pt"
        if cache.is_file():
            return torch.load(cache, weights_only=True)
    features = [features_of_file(row["path"], params)
                for row in progress_bar(rows, f"SDR features of {manifest.name}", enabled=progress)]
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(cache.name + ".tmp")
        torch.save(features, tmp)
        tmp.replace(cache)
    return features
