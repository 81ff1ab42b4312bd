"""Waveform helpers for the corpora: coloured (white / pink / brown) and babble noise, mixing at a power SNR,
random crops, and scaling to a drawn peak with TPDF dither."""
import numpy as np
import scipy.fft

# Power spectral density ~ 1 / f**exponent.
COLOUR_EXPONENTS = {"white": 0.0, "pink": 1.0, "brown": 2.0}
NOISE_TYPES = (*COLOUR_EXPONENTS, "babble")
BABBLE_TALKERS = (4, 8)


def coloured_noise(num_samples: int, colour: str, rng: np.random.Generator, sample_rate: int = 16000,
                   floor_hz: float = 20.0) -> np.ndarray:
    """Unit-RMS Gaussian noise with a 1/f**exponent power spectrum ('white', 'pink' or 'brown').

    The slope stops at `floor_hz` (flat below, zero at DC) so brown noise is not an inaudible drift. The noise
    is shaped at the next FFT-friendly length and cropped: an FFT of a length with a large prime factor is
    ten times slower, and the crop of stationary noise is the same noise.
    """
    length = scipy.fft.next_fast_len(num_samples, real=True)
    spectrum = np.fft.rfft(rng.standard_normal(length))
    freqs_hz = np.maximum(np.fft.rfftfreq(length, 1 / sample_rate), floor_hz)
    spectrum *= freqs_hz ** (-COLOUR_EXPONENTS[colour] / 2)
    spectrum[0] = 0
    noise = np.fft.irfft(spectrum, length)[:num_samples]
    return (noise / np.sqrt(np.mean(noise**2))).astype(np.float32)


def babble(talkers: list[np.ndarray], num_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Sum of `talkers` (each looped from a random offset to `num_samples`, unit RMS, +-3 dB), unit RMS."""
    total = np.zeros(num_samples)
    for talker in talkers:
        looped = np.roll(np.resize(talker, num_samples), rng.integers(num_samples))
        gain = 10 ** (rng.uniform(-3, 3) / 20)
        total += gain * looped / np.sqrt(np.mean(talker**2))
    return (total / np.sqrt(np.mean(total**2))).astype(np.float32)


def mix_at_snr(signal: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """`signal` plus `noise` scaled so that whole-signal power SNR is `snr_db`."""
    signal_power, noise_power = np.mean(signal**2), np.mean(noise**2)
    gain = np.sqrt(signal_power / (noise_power * 10 ** (snr_db / 10)))
    return (signal + gain * noise).astype(np.float32)


def tpdf_dither(num_samples: int, rng: np.random.Generator) -> np.ndarray:
    """TPDF dither of one 16-bit step: quantising without it leaves digital silence (e.g. before the direct
    sound of a clean example), where a real recording always has a noise floor and log-mel features exist."""
    return (rng.random(num_samples) - rng.random(num_samples)) / 2 ** 15


def normalise_and_dither(wave: np.ndarray, peak_range, rng: np.random.Generator) -> np.ndarray:
    """`wave` scaled to a peak drawn uniformly from `peak_range`, plus TPDF dither of one 16-bit step, as float32."""
    wave = wave * rng.uniform(*peak_range) / max(np.max(np.abs(wave)), 1e-8) + tpdf_dither(len(wave), rng)
    return wave.astype(np.float32)


def random_crop(wave: np.ndarray, num_samples: int, rng: np.random.Generator, loop: bool = False) -> np.ndarray:
    """A random `num_samples` stretch of `wave` along its last axis. A shorter wave is looped first with
    `loop`, else zero-padded at the end (no draw then)."""
    missing = num_samples - wave.shape[-1]
    if missing > 0 and not loop:
        return np.pad(wave, [(0, 0)] * (wave.ndim - 1) + [(0, missing)])
    if missing > 0:
        wave = np.tile(wave, num_samples // wave.shape[-1] + 1)
    start = int(rng.integers(wave.shape[-1] - num_samples + 1))
    return wave[..., start:start + num_samples]
