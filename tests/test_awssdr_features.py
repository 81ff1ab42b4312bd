"""Spectral decay rates: parity with the official fixtures, hand-checkable formulas, options and input errors."""
import inspect
from dataclasses import asdict, fields

import numpy as np
import pytest
import soundfile as sf
import torch

from awssdr.features import (SDRParams, SilentInputError, log_mel_spectrogram, mel_filterbank, sliding_slopes,
                             spectral_decay_rates)

UTTERANCES = ("utt1", "utt2", "utt3")
FS = 16000


@pytest.fixture(scope="module")
def parity_dir(reference_dir):
    return reference_dir / "awssdr" / "parity"


def read_fixture_wave(parity_dir, utt):
    """The fixture WAV as float32 upcast to float64, as the fixtures were made."""
    wave, rate = sf.read(parity_dir / f"{utt}.wav", dtype="float32")
    assert rate == FS
    return wave.astype(np.float64)


def noise(n_samples, seed=0, batch=None):
    shape = (n_samples,) if batch is None else (batch, n_samples)
    return np.random.default_rng(seed).standard_normal(shape)


def decaying_harmonics(decay_per_s, n_samples=8000):
    """Harmonics of 125 Hz (period 128 samples = hop) under exp(-decay t): every frame is the first one scaled
    by exp(-decay * hop / fs), so each log-mel band falls by exactly decay * hop / fs per frame."""
    t = np.arange(n_samples) / FS
    phases = np.random.default_rng(0).uniform(0, 2 * np.pi, 63)
    harmonics = sum(np.cos(2 * np.pi * 125 * k * t + phase) for k, phase in enumerate(phases, start=1))
    return np.exp(-decay_per_s * t) * harmonics


def test_mel_filterbank_matches_librosa_default(parity_dir):
    expected = np.load(parity_dir / "mel_fb.npy")
    np.testing.assert_allclose(mel_filterbank(22050, 256, 40), expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("utt", UTTERANCES)
def test_log_mel_matches_fixture(parity_dir, utt):
    log_mel = log_mel_spectrogram(read_fixture_wave(parity_dir, utt))
    np.testing.assert_allclose(log_mel, np.load(parity_dir / f"{utt}.lmfe.npy"), rtol=0, atol=1e-6)


@pytest.mark.parametrize("utt", UTTERANCES)
def test_sdr_matches_fixture(parity_dir, utt):
    sdr = spectral_decay_rates(read_fixture_wave(parity_dir, utt))
    assert isinstance(sdr, np.ndarray) and sdr.dtype == np.float64
    np.testing.assert_allclose(sdr, np.load(parity_dir / f"{utt}.sdr.npy"), rtol=0, atol=1e-5)


def test_batched_call_equals_per_item_calls():
    waves = torch.from_numpy(noise(9000, batch=3))
    batched = spectral_decay_rates(waves)
    assert batched.shape == (3, 40, 15)
    for wave, sdr in zip(waves, batched):
        torch.testing.assert_close(sdr, spectral_decay_rates(wave), rtol=0, atol=1e-12)


def test_tensor_keeps_its_dtype():
    wave = torch.from_numpy(noise(6000)).float()
    sdr = spectral_decay_rates(wave)
    assert isinstance(sdr, torch.Tensor) and sdr.dtype == torch.float32


@pytest.mark.parametrize("n_samples", [5248, 5375, 5376, 5503, 5504, 24037, 48091])
def test_frame_count_formula(n_samples):
    n_frames = 1 + (n_samples - 256) // 128
    assert spectral_decay_rates(noise(n_samples)).shape == (40, (n_frames - 40 + 2) // 2)


def test_sliding_slopes_by_hand():
    # windows (0, 1, 4) and (1, 4, 9) at t = 0, 0.5, 1: slopes (4 - 0) / 1 = 4 and (9 - 1) / 1 = 8
    series = torch.tensor([0.0, 1.0, 4.0, 9.0], dtype=torch.float64)
    torch.testing.assert_close(sliding_slopes(series, 3, 1, 0.5), torch.tensor([4.0, 8.0], dtype=torch.float64))


def test_exponential_decay_gives_known_slope():
    # ln-magnitude falls 3 per second; the authors' window-length time step reports half of it
    sdr = spectral_decay_rates(decaying_harmonics(3.0))
    np.testing.assert_allclose(sdr, -1.5, rtol=0, atol=1e-9)


def test_hop_time_step_gives_exactly_twice_the_slopes():
    wave = noise(9000)
    np.testing.assert_array_equal(spectral_decay_rates(wave, time_step="hop"), 2 * spectral_decay_rates(wave))


def test_power_spectrum_doubles_the_decay():
    sdr = spectral_decay_rates(decaying_harmonics(3.0), spectrum_power=2.0)
    np.testing.assert_allclose(sdr, -3.0, rtol=0, atol=1e-9)


def test_true_rate_filterbank_moves_a_tone_to_its_band():
    # a 2 kHz tone sits on STFT bin 32; the loudest band is the filter weighting that bin most
    tone = np.sin(2 * np.pi * 2000 * np.arange(8000) / FS)
    loudest = {rate: log_mel_spectrogram(tone, SDRParams(mel_sample_rate=rate)).mean(axis=1).argmax()
               for rate in (22050, None)}
    assert loudest[22050] == mel_filterbank(22050, 256, 40)[:, 32].argmax()
    assert loudest[None] == mel_filterbank(FS, 256, 40)[:, 32].argmax()
    assert loudest[22050] != loudest[None]


def test_too_short_input_names_both_lengths():
    assert spectral_decay_rates(noise(5248)).shape == (40, 1)
    with pytest.raises(ValueError, match=r"5247 samples given.*at least 5248"):
        spectral_decay_rates(noise(5247))


def test_digital_silence_raises():
    with pytest.raises(SilentInputError, match="log_floor"):
        spectral_decay_rates(np.zeros(8000))
    gap = noise(12000)
    gap[4000:8000] = 0.0
    with pytest.raises(SilentInputError):
        spectral_decay_rates(gap)


def test_log_floor_makes_silence_finite():
    sdr = spectral_decay_rates(np.zeros(8000), log_floor=1e-10)
    np.testing.assert_allclose(sdr, 0.0, rtol=0, atol=1e-12)


def test_non_finite_input_raises():
    wave = noise(8000)
    wave[100] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        spectral_decay_rates(wave)


def test_params_cache_key_is_stable_and_distinguishes_settings():
    assert SDRParams().cache_key() == "sdr-792406b53a8112ef"
    assert SDRParams(spectrum_power=1).cache_key() == SDRParams().cache_key()
    assert SDRParams(fit_len=30).cache_key() != SDRParams().cache_key()
    assert SDRParams(window_level=True).cache_key() != SDRParams().cache_key()


def test_window_levels_are_each_windows_mean_log_mel_below_the_unchanged_slopes():
    wave, params = noise(9000), SDRParams(window_level=True)
    features, log_mel = spectral_decay_rates(wave, params), log_mel_spectrogram(wave)
    assert params.n_rows == 80 and features.shape == (80, spectral_decay_rates(wave).shape[1])
    np.testing.assert_array_equal(features[:40], spectral_decay_rates(wave))
    np.testing.assert_allclose(features[40:, 0], log_mel[:, :40].mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(features[40:, 3], log_mel[:, 6:46].mean(axis=1), rtol=1e-12)
    with pytest.raises(ValueError, match="window_level"):
        SDRParams(window_level="yes")


def test_params_reject_bad_values_by_name():
    with pytest.raises(ValueError, match="time_step"):
        SDRParams(time_step="frame")
    with pytest.raises(ValueError, match="hop_length"):
        SDRParams(hop_length=0)


def test_keyword_options_build_the_same_params_as_sdrparams_and_restate_none_of_its_defaults():
    wave = noise(9000)
    authors = dict(sample_rate=16000, n_fft=256, hop_length=128, win_length=256, n_mels=40, fit_len=40, fit_hop=2,
                   mel_sample_rate=22050, spectrum_power=1.0, time_step="window", log_floor=None, window_level=False)
    assert asdict(SDRParams()) == authors
    np.testing.assert_array_equal(spectral_decay_rates(wave, **authors), spectral_decay_rates(wave, SDRParams()))
    clean = dict(sample_rate=8000, n_fft=128, hop_length=64, win_length=128, n_mels=20, fit_len=30, fit_hop=3,
                 mel_sample_rate=None, spectrum_power=2.0, time_step="hop", log_floor=1e-10)
    np.testing.assert_array_equal(spectral_decay_rates(wave, **clean), spectral_decay_rates(wave, SDRParams(**clean)))
    assert spectral_decay_rates(wave, **clean).shape == (20, (1 + (9000 - 128) // 64 - 30) // 3 + 1)
    assert not set(inspect.signature(spectral_decay_rates).parameters) & {f.name for f in fields(SDRParams)}


def test_params_and_keyword_options_together_or_positional_options_are_refused():
    with pytest.raises(TypeError, match="not both"):
        spectral_decay_rates(noise(9000), SDRParams(), n_mels=20)
    with pytest.raises(TypeError, match="keyword arguments"):
        spectral_decay_rates(noise(9000), 16000)
    with pytest.raises(TypeError, match="n_melz"):
        spectral_decay_rates(noise(9000), n_melz=20)
