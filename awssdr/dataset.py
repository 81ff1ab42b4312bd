"""Reverberant-speech sets for T60 estimation: manifest rows with their SDR features, computed once and cached."""
import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from speechkit.audio import AudioError, read_audio
from speechkit.drawn_data import DrawnSet, Pools, T60Draw, draw_t60_item, item_lengths
from speechkit.manifest import read_manifest
from speechkit.progress import progress as progress_bar

from .features import SDRParams, spectral_decay_rates
from .model import pad_sdr_batch


class T60Dataset(torch.utils.data.Dataset):
    """Items are (sdr (n_mels, frames) float32, t60_s); `rows` keeps the manifest's other columns."""

    def __init__(self, manifest, params: SDRParams, cache_dir=None, progress: bool = True):
        cache = feature_cache_file(Path(manifest), params, cache_dir)
        cached = cache is not None and cache.is_file()  # then the audio itself is not needed
        if not cached:
            _require_audio_of_features_only_set(Path(manifest), cache)
        self.rows = read_manifest(manifest, required=("path", "t60_s"), check_files=not cached)
        self.t60_s = torch.tensor([float(row["t60_s"]) for row in self.rows])
        self.features = (torch.load(cache, weights_only=True) if cached
                         else _computed_features(Path(manifest).name, self.rows, params, cache, progress))

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int):
        return self.features[index], self.t60_s[index]

    @property
    def lengths(self) -> list[int]:
        return [f.shape[-1] for f in self.features]


class DrawnT60Items:
    """Makes training item `index` from an rng: a drawn reverberant utterance's SDRs and its measured T60."""

    def __init__(self, pools: Pools, draw: T60Draw, params: SDRParams, num_samples: list[int]):
        self.pools, self.draw, self.params, self.num_samples = pools, draw, params, num_samples

    def __call__(self, rng: np.random.Generator, index: int):
        wave, t60_s, _ = draw_t60_item(self.pools, rng, self.num_samples[index], self.draw)
        sdr = spectral_decay_rates(torch.from_numpy(wave.astype(np.float64)), self.params)
        return sdr.float(), torch.tensor(t60_s, dtype=torch.float32)


def drawn_t60_set(pools_dir, draw: T60Draw, params: SDRParams, items_per_epoch: int, seed: int,
                  recorded_highpass_hz: float | None = None) -> DrawnSet:
    """Training items drawn on the fly from the train pools of `pools_dir` (see speechkit.drawn_data)."""
    pools = Pools.load(pools_dir, "train", params.sample_rate, recorded_highpass_hz=recorded_highpass_hz)
    num_samples = item_lengths(items_per_epoch, draw.duration_s, params.sample_rate, seed)
    return DrawnSet(DrawnT60Items(pools, draw, params, num_samples), items_per_epoch, num_samples, seed)


def _require_audio_of_features_only_set(manifest: Path, cache: Path | None) -> None:
    """A set prepared with --features-only has no audio: without its cache, say why instead of 'file not found'."""
    record = manifest.parent / "prepare.json"
    summary = json.loads(record.read_text()) if record.is_file() else {}
    if summary.get("features_only"):
        prepared = summary["feature_cache"]
        raise FileNotFoundError(
            f"{manifest} was prepared without audio (--features-only) and its feature cache is not at {cache}: "
            f"it was written to {prepared['dir']} for the features {prepared['params']}. Use that data.cache_dir "
            f"and those features, or prepare the set again without --features-only")


def collate(items):
    """(sdr, t60) pairs -> zero-padded SDRs (batch, frames, n_mels), valid-frame mask, targets (batch,)."""
    sdr, mask = pad_sdr_batch([sdr for sdr, _ in items])
    return sdr, mask, torch.stack([t60 for _, t60 in items])


def features_of_file(path, params: SDRParams) -> torch.Tensor:
    """SDR matrix (n_mels, frames) of an audio file at any rate, as float32; errors name the file."""
    wave, _ = read_audio(path, sample_rate=params.sample_rate)
    try:
        sdr = spectral_decay_rates(wave.astype("float64"), params)
    except ValueError as err:
        raise AudioError(f"{path}: {err}") from err
    return torch.from_numpy(sdr).float()


def feature_cache_file(manifest: Path, params: SDRParams, cache_dir, stem: str | None = None) -> Path | None:
    """Where the features of this manifest and these parameters are cached, if anywhere. The name holds a
    digest of the manifest's bytes and of each listed file's size and modification time (a missing file, as
    in a set prepared --features-only, counts as missing), so audio rewritten under an unchanged manifest
    (a corpus made again) is not served stale features. `stem` names the manifest when `manifest` is a
    staged copy of it."""
    if cache_dir is None:
        return None
    digest = hashlib.sha1(manifest.read_bytes())
    for row in read_manifest(manifest, check_files=False):
        stat = row["path"].stat() if row["path"].is_file() else None
        digest.update(f"{stat.st_size}:{stat.st_mtime_ns}\n".encode() if stat else b"missing\n")
    return Path(cache_dir) / f"{stem or manifest.stem}-{digest.hexdigest()[:12]}-{params.cache_key()}.pt"


def save_features(features: list[torch.Tensor], cache: Path) -> None:
    """Write a feature cache atomically (temporary file, then rename)."""
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(cache.name + ".tmp")
    torch.save(features, tmp)
    tmp.replace(cache)


def _computed_features(name: str, rows, params: SDRParams, cache: Path | None, progress: bool) -> list[torch.Tensor]:
    """Features of every row, saved atomically to `cache` when given."""
    features = [features_of_file(row["path"], params)
                for row in progress_bar(rows, f"SDR features of {name}", enabled=progress)]
    if cache is not None:
        save_features(features, cache)
    return features
