"""Reading long audio files piece by piece, resampled on the fly, in memory independent of their length."""
from math import ceil, gcd
from pathlib import Path

import numpy as np
import soundfile as sf

from .audio import AudioError, resample


class ResampledReader:
    """Random access to a (mono or chosen-channel) audio file as if it had been resampled whole.

    `read(start, stop)` returns samples [start, stop) of the file resampled to `sample_rate`. Each read
    resamples a window of the file that starts on a sample where the rate ratio is exact and reaches
    `margin` samples beyond both ends, so the result matches resampling the whole file (to ~1e-6) while
    only the requested piece is ever in memory.
    """

    def __init__(self, path, sample_rate: int, channel: int | None = None, margin_s: float = 0.05):
        self.path = Path(path)
        try:
            self.file = sf.SoundFile(self.path)
        except (sf.LibsndfileError, RuntimeError, OSError) as err:
            raise AudioError(f"{self.path}: cannot read as audio ({err})") from err
        if self.file.frames == 0:
            raise AudioError(f"{self.path}: the file holds no samples")
        channels = self.file.channels
        if channels > 1 and channel is None:
            self.file.close()
            raise AudioError(f"{self.path}: {channels} channels; choose one (channel=0..{channels - 1}, "
                             "--channel N on the command line)")
        if channel is not None and not 0 <= channel < channels:
            self.file.close()
            raise AudioError(f"{self.path}: channel {channel} requested, but the file has {channels} channel(s) "
                             f"(0..{channels - 1})")
        self.channel = channel or 0
        self.file_rate, self.sample_rate = self.file.samplerate, sample_rate
        g = gcd(self.file_rate, sample_rate)
        self.up, self.down = sample_rate // g, self.file_rate // g
        self.margin = ceil(margin_s * self.file_rate / self.down) * self.down if self.up != self.down else 0
        self.frames = ceil(self.file.frames * self.up / self.down)

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples [start, stop) at `sample_rate`, float32; zeros beyond the end of the file."""
        stop = min(stop, self.frames)
        first_in = (start * self.down // self.up) // self.down * self.down  # exact-ratio input sample
        lo = max(0, first_in - self.margin)
        hi = min(self.file.frames, ceil(stop * self.down / self.up) + self.margin + self.down)
        self.file.seek(lo)
        wave = self.file.read(hi - lo, dtype="float32", always_2d=True)[:, self.channel]
        if not np.isfinite(wave).all():
            raise AudioError(f"{self.path}: contains NaN or infinite samples")
        offset = lo * self.up // self.down  # output index of the window's first sample
        out = resample(wave, self.file_rate, self.sample_rate)[start - offset:stop - offset]
        return np.pad(out, (0, max(0, stop - start - len(out))))

    def close(self) -> None:
        self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
