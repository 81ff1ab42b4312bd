"""Audio files in and out: mono float32 arrays, resampled with scipy's polyphase filter."""
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from .errors import UserError

# What counts as an audio file when a folder tree is searched (by extension, any case). TIMIT's NIST
# SPHERE files are named .WAV and read like any other; everything here is readable by soundfile.
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".sph", ".nist", ".aif", ".aiff", ".au", ".caf", ".w64", ".rf64")


class AudioError(UserError, ValueError):
    """A file that cannot be used as audio input; the message names the file and the problem."""


def find_audio_files(folder, suffixes=AUDIO_SUFFIXES) -> list[Path]:
    """Audio files anywhere under `folder`, sorted by their path relative to it (the same order on every
    machine). An empty list when there are none; FileNotFoundError when `folder` is not a folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"not a folder: {folder}")
    found = (p for p in folder.rglob("*") if p.suffix.lower() in suffixes and p.is_file())
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def mono_wave(wave) -> np.ndarray:
    """A waveform given in Python as a float32 (samples,) array; AudioError for several channels, no
    samples, or non-finite samples."""
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim != 1 or len(wave) == 0:
        raise AudioError(f"expected a non-empty mono waveform of shape (samples,), got {wave.shape}; "
                         "pick one channel")
    if not np.isfinite(wave).all():
        raise AudioError("the waveform contains NaN or infinite samples")
    return wave


def input_audio_files(inputs) -> list[Path]:
    """The command-line inputs as audio files: files as given, folders as the audio files below them
    (sorted), each file once, in the order given. A missing path or a folder without audio is an error."""
    files = {}
    for item in map(Path, inputs):
        if not item.exists():
            raise FileNotFoundError(f"{item}: no such file or folder")
        found = find_audio_files(item) if item.is_dir() else [item]
        if not found:
            raise FileNotFoundError(f"{item}: no audio files ({', '.join(AUDIO_SUFFIXES)}) in this folder tree")
        files.update((path.resolve(), path) for path in found)
    return list(files.values())


def resample(wave: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample along the last axis with a polyphase filter (exact rational ratio)."""
    if from_rate == to_rate:
        return wave
    g = gcd(int(from_rate), int(to_rate))
    return resample_poly(wave, to_rate // g, from_rate // g, axis=-1).astype(wave.dtype, copy=False)


def read_audio(path, sample_rate: int | None = None, channel: int | None = None) -> tuple[np.ndarray, int]:
    """Read `path` as a mono float32 array, resampled to `sample_rate` when given.

    Multi-channel files need `channel` (0-based); unreadable, empty or non-finite files raise AudioError.
    Returns (wave, rate) with rate = `sample_rate` or the file's own rate.
    """
    path = Path(path)
    try:
        wave, rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise AudioError(f"{path}: cannot read as audio ({err})") from err
    if wave.shape[0] == 0:
        raise AudioError(f"{path}: the file holds no samples")
    channels = wave.shape[1]
    if channels > 1 and channel is None:
        raise AudioError(f"{path}: {channels} channels; choose one (channel=0..{channels - 1}, "
                         "--channel N on the command line)")
    if channel is not None and not 0 <= channel < channels:
        raise AudioError(f"{path}: channel {channel} requested, but the file has {channels} channel(s)")
    wave = wave[:, channel or 0]
    if not np.isfinite(wave).all():
        raise AudioError(f"{path}: contains NaN or infinite samples")
    wave = np.ascontiguousarray(wave)
    if sample_rate is not None:
        wave, rate = resample(wave, rate, sample_rate), sample_rate
    return wave, rate


def write_audio(path, wave: np.ndarray, sample_rate: int, subtype: str = "PCM_16") -> None:
    """Write a mono (samples,) or multi-channel (channels, samples) array; creates parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wave = np.asarray(wave, dtype=np.float32)
    sf.write(path, wave.T if wave.ndim == 2 else wave, sample_rate, subtype=subtype)
