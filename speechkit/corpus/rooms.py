"""Shoebox rooms simulated with pyroomacoustics, and the T60 measured on their impulse responses.

The label of every room is the T60 MEASURED on its RIR (Schroeder decay, 30 dB fit), never the Sabine
target used to choose the wall absorption: the hybrid image-source + ray-tracing simulation decays
differently from Sabine's formula (short targets come out shorter, long ones up to ~0.4 s longer).
"""
from dataclasses import dataclass

import numpy as np
import pyroomacoustics as pra
from pyroomacoustics.experimental import measure_rt60

from speechkit.errors import UserError

T60_RANGE_S = (0.1, 1.5)
DIMS_LOW_M, DIMS_HIGH_M = (3.0, 3.0, 2.5), (10.0, 10.0, 4.0)
WALL_MARGIN_M = 0.5
MIN_SOURCE_MIC_M = 1.0
MAX_ABSORPTION = 0.95
MIN_DECAY_FIT_R2 = 0.9  # real RIRs fit a line with R^2 > 0.95; stationary noise gives ~0.75
RIR_PEAK = 0.9
RIR_BITS = 24
T60_TOLERANCE_S = 0.05
SEARCH_ATTEMPTS = 20
CORRECTION_STEPS = 3


class T60MeasurementError(UserError, ValueError):
    """An impulse response whose T60 cannot be measured (too short, not decaying, silent)."""


@dataclass(frozen=True)
class Room:
    """A simulated shoebox room with one source and one microphone, labelled with its measured T60."""

    dims_m: tuple[float, float, float]
    absorption: float
    source_m: tuple[float, float, float]
    mic_m: tuple[float, float, float]
    t60_target_s: float
    t60_s: float


def schroeder_decay_db(rir: np.ndarray) -> np.ndarray:
    """Backward-integrated energy of `rir` in dB relative to its total energy (0 dB at sample 0)."""
    energy = np.cumsum(np.asarray(rir, dtype=np.float64)[::-1] ** 2)[::-1]
    energy = energy[energy > 0]
    return 10 * np.log10(energy / energy[0])


def _fit_range_db(rir: np.ndarray, sample_rate: int, decay_db: float) -> np.ndarray:
    """The Schroeder decay from -5 dB down to `decay_db` further, where measure_rt60 fits its line."""
    decay = schroeder_decay_db(rir)
    below_5db = np.flatnonzero(decay < -5.0)
    # measure_rt60 would silently shorten the fit range (or return 0) here; refuse instead.
    if below_5db.size == 0 or decay.min() >= decay[below_5db[0]] - decay_db:
        raise T60MeasurementError(
            f"the energy decay of this {len(rir) / sample_rate:.3f} s impulse response only reaches "
            f"{decay.min():.1f} dB, short of the -5 to -{5 + decay_db:g} dB fit range; use a longer RIR "
            f"or a smaller decay_db")
    start = below_5db[0]
    return decay[start:start + np.flatnonzero(decay[start:] < decay[start] - decay_db)[0]]


def _line_fit_r2(values: np.ndarray) -> float:
    index = np.arange(values.size)
    residual = values - np.polyval(np.polyfit(index, values, 1), index)
    return 1 - np.sum(residual**2) / np.sum((values - values.mean()) ** 2)


def measure_t60(rir: np.ndarray, sample_rate: int, decay_db: float = 30) -> float:
    """T60 in seconds of an impulse response: a line fitted to its Schroeder decay from -5 dB down to
    -(5 + decay_db) dB, extrapolated to 60 dB (pyroomacoustics' measure_rt60, made strict)."""
    rir = np.asarray(rir)
    if rir.ndim != 1 or not np.any(rir):
        raise T60MeasurementError(f"need a non-silent 1-D impulse response, got shape {rir.shape}")
    r2 = _line_fit_r2(_fit_range_db(rir, sample_rate, decay_db))
    if r2 < MIN_DECAY_FIT_R2:
        raise T60MeasurementError(
            f"the Schroeder decay between -5 and -{5 + decay_db:g} dB is not a straight line in dB "
            f"(R^2 {r2:.2f} < {MIN_DECAY_FIT_R2}): the signal does not decay exponentially (stationary noise, "
            f"a noise floor above -{5 + decay_db:g} dB, or not an impulse response)")
    t60_s = float(measure_rt60(rir, sample_rate, decay_db=decay_db))
    if not np.isfinite(t60_s) or t60_s <= 0:
        raise T60MeasurementError(f"the decay fit gave a T60 of {t60_s} s, not a positive finite number")
    return t60_s


def _absorption(t60_target_s: float, dims_m) -> float | None:
    """Inverse-Sabine wall absorption for the target, or None when above MAX_ABSORPTION (room too large)."""
    try:
        absorption, _ = pra.inverse_sabine(t60_target_s, dims_m)
    except ValueError:  # absorption above 1
        return None
    return absorption if absorption <= MAX_ABSORPTION else None


def _draw_geometry(rng: np.random.Generator, t60_target_s: float):
    """Room size and source/mic positions (MIN_SOURCE_MIC_M apart) for which inverse Sabine reaches the target."""
    while True:
        dims_m = rng.uniform(DIMS_LOW_M, DIMS_HIGH_M)
        source_m, mic_m = rng.uniform(WALL_MARGIN_M, dims_m - WALL_MARGIN_M, size=(2, 3))
        if np.linalg.norm(source_m - mic_m) >= MIN_SOURCE_MIC_M and _absorption(t60_target_s, dims_m) is not None:
            return dims_m, source_m, mic_m


def simulate_rir(dims_m, absorption: float, source_m, mic_m, sample_rate: int, seed: int) -> np.ndarray:
    """Hybrid image-source (order 3) + ray-tracing RIR with air absorption, as float32.

    Ray tracing draws random rays; seeding pyroomacoustics right before computing makes it reproducible.
    """
    room = pra.ShoeBox(dims_m, fs=sample_rate, materials=pra.Material(float(absorption)), max_order=3,
                       ray_tracing=True, air_absorption=True)
    room.add_source(np.asarray(source_m))
    room.add_microphone(np.asarray(mic_m))
    pra.random.seed(numpy=seed, libroom=seed)
    room.compute_rir()
    return np.asarray(room.rir[0][0], dtype=np.float32)


def storable_rir(rir: np.ndarray) -> np.ndarray:
    """`rir` peak-normalised to RIR_PEAK and rounded to the 24-bit PCM grid, so that a PCM_24 WAV stores
    it losslessly (float WAVs carry a time-stamped PEAK chunk that breaks byte-identical reruns).

    The absolute gain is dropped: every signal built from these RIRs is level-normalised afterwards.
    """
    scaled = RIR_PEAK * np.asarray(rir, dtype=np.float64) / np.max(np.abs(rir))
    return (np.round(scaled * 2 ** (RIR_BITS - 1)) / 2 ** (RIR_BITS - 1)).astype(np.float32)


def _tune_room(seed_words: list[int], geometry, t60_wanted_s: float, sample_rate: int):
    """Rescale the Sabine target by wanted/measured T60 until the measured T60 is within T60_TOLERANCE_S;
    returns (Room, RIR), or None when CORRECTION_STEPS do not get there."""
    dims_m, source_m, mic_m = geometry
    target_s = t60_wanted_s
    for step in range(CORRECTION_STEPS):
        absorption = _absorption(target_s, dims_m)
        if absorption is None:
            return None
        seed = int(np.random.SeedSequence([*seed_words, step]).generate_state(1)[0])
        rir = storable_rir(simulate_rir(dims_m, absorption, source_m, mic_m, sample_rate, seed))
        try:
            t60_s = measure_t60(rir, sample_rate)
        except T60MeasurementError:
            return None
        if abs(t60_s - t60_wanted_s) <= T60_TOLERANCE_S and T60_RANGE_S[0] <= t60_s <= T60_RANGE_S[1]:
            return Room(tuple(map(float, dims_m)), float(absorption), tuple(map(float, source_m)),
                        tuple(map(float, mic_m)), float(target_s), t60_s), rir
        target_s *= t60_wanted_s / t60_s
    return None


def make_room(seed_words: list[int], t60_wanted_s: float, sample_rate: int) -> tuple[Room, np.ndarray]:
    """A room whose measured T60 is within T60_TOLERANCE_S of `t60_wanted_s`, and its storable RIR.

    Each attempt draws a new geometry; all randomness derives from `seed_words` (e.g. [seed, split, index]).
    """
    for attempt in range(SEARCH_ATTEMPTS):
        geometry = _draw_geometry(np.random.default_rng([*seed_words, attempt]), t60_wanted_s)
        found = _tune_room([*seed_words, attempt], geometry, t60_wanted_s, sample_rate)
        if found is not None:
            return found
    raise RuntimeError(f"no room reached a measured T60 of {t60_wanted_s:.3f} s in {SEARCH_ATTEMPTS} attempts "
                       f"(seed words {seed_words})")
