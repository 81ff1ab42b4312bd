"""Times the batched torch `spectral_decay_rates` against a plain NumPy loop over frames, bands and windows.

Run from the repository root: `python bench/bench_sdr_features.py`.
"""
import time

import numpy as np
import torch

from awssdr.features import SDRParams, mel_filterbank, spectral_decay_rates

N_UTTERANCES = 100
DURATION_S = 4.0


def synthetic_utterances(params: SDRParams, seed: int = 0) -> np.ndarray:
    """Noise bursts with exponential decays of random T60 over a noise floor, (N_UTTERANCES, samples) float64."""
    rng = np.random.default_rng(seed)
    n_samples = int(DURATION_S * params.sample_rate)
    t = np.arange(n_samples) / params.sample_rate
    waves = np.empty((N_UTTERANCES, n_samples))
    for wave in waves:
        t60_s = rng.uniform(0.2, 1.5)
        burst_start_s = rng.uniform(0.0, 1.0, size=4).cumsum()
        envelope = sum(np.where(t >= start, np.exp(-6.9 * (t - start) / t60_s), 0.0) for start in burst_start_s)
        wave[:] = envelope * rng.standard_normal(n_samples) + 1e-3 * rng.standard_normal(n_samples)
    return waves


def sdr_loop(wave: np.ndarray, params: SDRParams) -> np.ndarray:
    """The same SDR formula written plainly: one rFFT per frame, one least-squares fit per band and window."""
    window = 0.54 - 0.46 * np.cos(2 * np.pi * np.arange(params.win_length) / params.win_length)
    filterbank = mel_filterbank(params.mel_sample_rate, params.n_fft, params.n_mels)
    n_frames = 1 + (len(wave) - params.n_fft) // params.hop_length
    log_mel = np.empty((params.n_mels, n_frames))
    for frame in range(n_frames):
        start = frame * params.hop_length
        magnitude = np.abs(np.fft.rfft(window * wave[start:start + params.n_fft]))
        log_mel[:, frame] = np.log(filterbank @ magnitude)
    t = np.arange(1, params.fit_len + 1) * params.win_length / params.sample_rate
    n_sdr = (n_frames - params.fit_len + params.fit_hop) // params.fit_hop
    sdr = np.empty((params.n_mels, n_sdr))
    for band in range(params.n_mels):
        for k in range(n_sdr):
            y = log_mel[band, k * params.fit_hop:k * params.fit_hop + params.fit_len]
            sdr[band, k] = np.sum((t - t.mean()) * (y - y.mean())) / np.sum((t - t.mean()) ** 2)
    return sdr


def timed(fn, repeats=1):
    """Result of `fn` and its median wall time over `repeats` calls, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, float(np.median(times))


def main():
    params = SDRParams()
    waves = synthetic_utterances(params)
    print(f"{N_UTTERANCES} utterances x {DURATION_S} s at {params.sample_rate} Hz, "
          f"torch {torch.__version__} on CPU with {torch.get_num_threads()} threads")
    batch = torch.from_numpy(waves)
    spectral_decay_rates(batch)  # warm-up: first-call allocations
    torch_sdr, torch_s = timed(lambda: spectral_decay_rates(batch).numpy(), repeats=5)
    batch32 = batch.float()
    _, torch32_s = timed(lambda: spectral_decay_rates(batch32), repeats=5)
    loop_sdr, loop_s = timed(lambda: np.stack([sdr_loop(wave, params) for wave in waves]))
    max_diff = np.abs(torch_sdr - loop_sdr).max()
    print(f"torch batched (float64): {torch_s:.3f} s (median of 5)")
    print(f"torch batched (float32): {torch32_s:.3f} s (median of 5, not compared)")
    print(f"numpy loop    (float64): {loop_s:.3f} s")
    print(f"max |difference|: {max_diff:.2e}   speed-up: {loop_s / torch_s:.0f}x")
    assert max_diff < 1e-6, f"torch and loop SDRs differ by {max_diff:.2e}"


if __name__ == "__main__":
    main()
