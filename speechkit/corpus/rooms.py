"""Shoebox rooms simulated with pyroomacoustics, the T60 measured on their impulse responses, and RIR
augmentation.

The label of every room is the T60 MEASURED on its RIR (Schroeder decay, 30 dB fit), never the Sabine
target used to choose the wall absorption: the hybrid image-source + ray-tracing simulation decays
differently from Sabine's formula (short targets come out shorter, long ones up to ~0.4 s longer).
make_room tunes a uniform absorption to a wanted T60; random_room_rir puts a database material on every
surface and spreads its measured T60s uniformly over a range; augment_rir reshapes an RIR's decay and DRR.
"""
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pyroomacoustics as pra
import pyroomacoustics.simulation.rt as pra_rt

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


def _line_fit(values: np.ndarray) -> tuple[float, float]:
    """Slope per sample and R^2 of the least-squares line through `values` (closed form). Sums of products,
    not np.dot: BLAS threads in a DataLoader worker beside a busy training step ran this eight times slower."""
    index = np.arange(values.size) - (values.size - 1) / 2
    centred = values - values.mean()
    covariance = np.sum(index * centred)
    slope = covariance / np.sum(index * index)
    return float(slope), float(slope * covariance / np.sum(centred * centred))


def measure_t60(rir: np.ndarray, sample_rate: int, decay_db: float = 30) -> float:
    """T60 in seconds of an impulse response: a line fitted to its Schroeder decay from -5 dB down to
    -(5 + decay_db) dB, extrapolated to 60 dB: pyroomacoustics' measure_rt60 made strict, and eight times
    faster by fitting once in closed form (the same T60 to 1e-15 s on float64, 1e-6 s on float32 input,
    whose Schroeder integral pyroomacoustics sums in float32)."""
    rir = np.asarray(rir)
    if rir.ndim != 1 or not np.any(rir):
        raise T60MeasurementError(f"need a non-silent 1-D impulse response, got shape {rir.shape}")
    slope_db, r2 = _line_fit(_fit_range_db(rir, sample_rate, decay_db))
    if r2 < MIN_DECAY_FIT_R2:
        raise T60MeasurementError(
            f"the Schroeder decay between -5 and -{5 + decay_db:g} dB is not a straight line in dB "
            f"(R^2 {r2:.2f} < {MIN_DECAY_FIT_R2}): the signal does not decay exponentially (stationary noise, "
            f"a noise floor above -{5 + decay_db:g} dB, or not an impulse response)")
    t60_s = -60 / (slope_db * sample_rate)
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
    return _compute_rir(room, source_m, mic_m, seed)


def _compute_rir(room: pra.ShoeBox, source_m, mic_m, seed: int) -> np.ndarray:
    """The RIR from `source_m` to `mic_m` in `room`, as float32, with pyroomacoustics' random streams
    (ray directions, the stochastic tail) seeded right before computing it."""
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


# Random rooms: a different database material on every surface, labelled with the T60 measured on the RIR.

WALLS = ("west", "east", "south", "north", "floor", "ceiling")  # pra.ShoeBox's surface names
OCTAVE_CENTERS_HZ = (125, 250, 500, 1000, 2000, 4000, 8000)  # pyroomacoustics' bands at 16 kHz
RANDOM_T60_RANGE_S = (0.15, 1.5)
RANDOM_DIMS_M = ((3.0, 3.0, 2.5), (25.0, 18.0, 8.0))  # a small office to a hall
DIMS_JITTER = 0.25  # each side is the common size times exp(U(-0.25, 0.25)), clipped to RANDOM_DIMS_M
SOURCE_MIC_RANGE_M = (0.5, 4.0)
SCATTERING_RANGE = (0.1, 0.7)
N_RAYS = 5000
RECEIVER_RADIUS_M = 0.5
MAX_RIR_S = 2.0
RIR_T60S_KEPT = 1.2  # an RIR is cut 1.2 measured T60s (72 dB of decay) + RIR_MARGIN_S after its direct sound
RIR_MARGIN_S = 0.1
WANTED_T60_STRETCH = (0.8, 1.15)  # the wanted T60 is drawn a little beyond the range (see random_room_rir)
WANTED_T60_SKEW = 1.3  # wanted = low + (high - low) u^1.3: short rooms are rejected more often (see MAX_LOW_TO_MID_T60)
# log(measured / predicted T60) = a + b log(predicted T60 in s), fitted on 160 rooms (residual std 0.14):
# the simulation decays more slowly than Eyring's diffuse field in short rooms.
PREDICTION_CALIBRATION = (0.04, -0.09)
MATERIAL_CANDIDATES = 32
# Most database materials absorb little at 125-250 Hz, so rooms drawn freely ring there for up to twice the
# speech bands' T60, and the broadband T60 (the label) then follows a decay speech hardly excites: over 80
# such rooms it correlated 0.97 with the 100-300 Hz T60 and 0.74 with the 500-2000 Hz one. Designs whose
# predicted low-band T60 exceeds the 500-1000 Hz one by more than this factor are penalised, as in
# furnished rooms, whose low bands ring only somewhat longer.
MAX_LOW_TO_MID_T60 = 1.3
MATERIAL_SPREAD = 0.7  # std of log(material absorption / absorption the wanted T60 needs) when proposing
PREDICTION_TOLERANCE = 0.05  # |log(predicted / wanted T60)| under which a design is simulated at once
GEOMETRY_DRAWS = 20
RANDOM_ROOM_ATTEMPTS = 20


def _database_materials() -> tuple[tuple[str, ...], np.ndarray]:
    """Names and (materials, bands) energy absorption at OCTAVE_CENTERS_HZ of pyroomacoustics' material
    database, 6-band entries extended to 8 kHz by repeating their 4 kHz value (pyroomacoustics itself would
    extrapolate linearly, up to 1 or down to 0); the perfect absorber 'anechoic' is left out."""
    names, absorption = [], []
    for name, entry in pra.materials_absorption_table.items():
        coeffs = list(entry["coeffs"])
        if name == "anechoic":
            continue
        if list(entry["center_freqs"]) != list(OCTAVE_CENTERS_HZ[:len(coeffs)]):
            raise ValueError(f"material {name!r} has bands {entry['center_freqs']}, expected a prefix of "
                             f"{OCTAVE_CENTERS_HZ}: this pyroomacoustics version is not supported")
        names.append(name)
        absorption.append(coeffs + coeffs[-1:] * (len(OCTAVE_CENTERS_HZ) - len(coeffs)))
    return tuple(names), np.array(absorption)


MATERIAL_NAMES, MATERIAL_ABSORPTION = _database_materials()
# Proposals favour materials near the absorption a wanted T60 needs; the broadband T60 follows the slow low bands.
_MATERIAL_LEVEL = MATERIAL_ABSORPTION[:, :4].mean(axis=1)


def _surface_areas_m2(dims_m) -> np.ndarray:
    x, y, z = dims_m
    return np.array([y * z, y * z, x * z, x * z, x * y, x * y])  # in WALLS order


def _band_t60_s(dims_m, absorption: np.ndarray) -> np.ndarray:
    """Eyring T60 per band, with pyroomacoustics' air absorption: (..., walls, bands) -> (..., bands)."""
    areas, volume = _surface_areas_m2(dims_m), float(np.prod(dims_m))
    mean_absorption = np.einsum("w,...wb->...b", areas, absorption) / areas.sum()
    air = np.asarray(pra.parameters.Physics().get_air_absorption()["coeffs"])
    return (24 * np.log(10) / pra.constants.get("c") * volume
            / (-areas.sum() * np.log1p(-np.minimum(mean_absorption, 0.99)) + 4 * air * volume))


def _bandwidths_hz(sample_rate: int) -> np.ndarray:
    """Widths of pyroomacoustics' octave bands below Nyquist (the lowest band reaches down to DC)."""
    centers = np.asarray(OCTAVE_CENTERS_HZ, dtype=float)
    lower, upper = np.r_[0.0, centers[1:] / np.sqrt(2)], centers * np.sqrt(2)
    return np.clip(np.minimum(upper, sample_rate / 2) - lower, 0.0, None)


def _broadband_t60_s(band_t60_s: np.ndarray, bandwidths_hz: np.ndarray) -> np.ndarray:
    """The T60 measure_t60 would give for bands decaying exponentially with equal initial energy per hertz
    (Schroeder integral of band b proportional to width_b T60_b exp(-13.8 t / T60_b)), from the times the
    summed decay crosses -5 and -35 dB: (..., bands) -> (...)."""
    # The sum is never slower than its slowest band, which reaches -35 dB at 35/60 of its T60.
    t_s = band_t60_s.max(axis=-1, keepdims=True) * np.linspace(0.0, 0.6, 600)
    decay = np.sum(bandwidths_hz * band_t60_s[..., None, :]
                   * np.exp(-6 * np.log(10) * t_s[..., None] / band_t60_s[..., None, :]), axis=-1)
    decay_db = 10 * np.log10(decay / decay[..., :1])
    crossing_s = [np.take_along_axis(t_s, np.argmax(decay_db < level, axis=-1)[..., None], -1)[..., 0]
                  for level in (-5.0, -35.0)]
    return 2 * (crossing_s[1] - crossing_s[0])


def _draw_dims(rng: np.random.Generator) -> np.ndarray:
    low, high = np.array(RANDOM_DIMS_M)
    size = low * (high / low) ** rng.uniform()
    return np.clip(size * np.exp(rng.uniform(-DIMS_JITTER, DIMS_JITTER, size=3)), low, high)


def _predicted_t60_s(dims_m, absorption: np.ndarray, sample_rate: int) -> np.ndarray:
    """The T60 measure_t60 is expected to give for walls of `absorption`: (..., walls, bands) -> (...)."""
    predicted_s = _broadband_t60_s(_band_t60_s(dims_m, absorption), _bandwidths_hz(sample_rate))
    offset, slope = PREDICTION_CALIBRATION
    return predicted_s * np.exp(offset + slope * np.log(predicted_s))


def _draw_materials(rng: np.random.Generator, dims_m, t60_wanted_s: float, sample_rate: int):
    """Material indices (a different one per wall) among MATERIAL_CANDIDATES proposals whose predicted T60
    is closest to the wanted one, penalising rooms whose low bands ring much longer than the speech bands;
    returns them, that prediction and the score (0 is a perfect design)."""
    areas = _surface_areas_m2(dims_m)
    needed = 1 - np.exp(-24 * np.log(10) / pra.constants.get("c") * np.prod(dims_m) / (areas.sum() * t60_wanted_s))
    weights = np.exp(-0.5 * (np.log(_MATERIAL_LEVEL / needed) / MATERIAL_SPREAD) ** 2)
    # Weighted draws without replacement: the largest log(weight) + Gumbel noise (the Gumbel top-k trick).
    keys = np.log(weights) + rng.gumbel(size=(MATERIAL_CANDIDATES, len(MATERIAL_NAMES)))
    candidates = np.argsort(-keys, axis=1)[:, :len(WALLS)]
    absorption = MATERIAL_ABSORPTION[candidates]
    predicted_s = _predicted_t60_s(dims_m, absorption, sample_rate)
    band_s = _band_t60_s(dims_m, absorption)
    low_to_mid = band_s[:, :2].max(axis=1) / band_s[:, 2:4].mean(axis=1)  # 125-250 Hz over 500-1000 Hz
    score = np.abs(np.log(predicted_s / t60_wanted_s)) + np.maximum(np.log(low_to_mid / MAX_LOW_TO_MID_T60), 0)
    best = np.argmin(score)
    return candidates[best], float(predicted_s[best]), float(score[best])


def _draw_positions(rng: np.random.Generator, dims_m) -> tuple[np.ndarray, np.ndarray]:
    """Source anywhere WALL_MARGIN_M inside the walls, microphone SOURCE_MIC_RANGE_M away in a random direction."""
    low, high = WALL_MARGIN_M, np.asarray(dims_m) - WALL_MARGIN_M
    for _ in range(1000):
        source_m = rng.uniform(low, high)
        direction = rng.normal(size=3)
        mic_m = source_m + rng.uniform(*SOURCE_MIC_RANGE_M) * direction / np.linalg.norm(direction)
        if np.all(mic_m >= low) and np.all(mic_m <= high):
            return source_m, mic_m
    raise RuntimeError(f"no microphone position fits a {dims_m} m room")  # unreachable for RANDOM_DIMS_M


def _design_room(rng: np.random.Generator, t60_range_s, sample_rate: int) -> dict:
    """A wanted T60 and a geometry and materials predicted to give it (the best of GEOMETRY_DRAWS)."""
    low_s, high_s = t60_range_s[0] * WANTED_T60_STRETCH[0], t60_range_s[1] * WANTED_T60_STRETCH[1]
    t60_wanted_s = low_s + (high_s - low_s) * rng.uniform() ** WANTED_T60_SKEW
    best = None
    for _ in range(GEOMETRY_DRAWS):
        dims_m = _draw_dims(rng)
        materials, predicted_s, error = _draw_materials(rng, dims_m, t60_wanted_s, sample_rate)
        if best is None or error < best[0]:
            best = error, dims_m, materials, predicted_s
        if error <= PREDICTION_TOLERANCE:
            break
    _, dims_m, materials, predicted_s = best
    source_m, mic_m = _draw_positions(rng, dims_m)
    return dict(dims_m=dims_m, materials=materials, scattering=float(rng.uniform(*SCATTERING_RANGE)),
                source_m=source_m, mic_m=mic_m, t60_wanted_s=float(t60_wanted_s), t60_predicted_s=predicted_s)


def _poisson_sequence(volume, duration, c, max_rate=10000, t0=None):
    """pyroomacoustics' reflection times for the ray-traced tail, rate min(4 pi c^3 (t0 + t)^2 / volume,
    max_rate) for t from t0 to t0 + duration, drawn by thinning a max_rate process.

    pyroomacoustics 0.10.1 (simulation/rt.py) holds each gap's starting rate for the whole gap; the first
    one starts at a few per second, so its tails begin with a silent gap of random length, mean
    volume / (16 pi c distance^2) s: 0.2 s in a 1,500 m^3 hall at 0.7 m, hundreds of ms by chance,
    which makes the measured T60 of big rooms jump with the seed (0.2 s or 0.9 s for one room).
    """
    rng = pra.random.get_rng()
    if t0 is None:
        t0 = (2 * np.log(2) * volume / (4 * np.pi * c**3)) ** (1 / 3)
    times = t0 + np.sort(rng.uniform(0, duration, size=rng.poisson(max_rate * duration)))
    rate = np.minimum(4 * np.pi * c**3 / volume * (t0 + times) ** 2, max_rate)
    # Like pyroomacoustics': a first delta at t0, the last one at or after t0 + duration.
    return t0, np.r_[t0, times[rng.uniform(size=times.size) * max_rate < rate], t0 + duration]


@contextmanager
def _gapless_tails():
    """pyroomacoustics' ray-traced tails drawn with _poisson_sequence while inside (one thread at a time)."""
    original = pra_rt.poisson_sequence
    pra_rt.poisson_sequence = _poisson_sequence
    try:
        yield
    finally:
        pra_rt.poisson_sequence = original


def _simulate_design(design: dict, sample_rate: int, seed: int) -> np.ndarray:
    """Hybrid image-source (order 3) + ray-tracing RIR with air absorption; rays stop after 1.5 predicted
    T60s (MAX_RIR_S at most), which bounds the cost of long rooms."""
    materials = {wall: pra.Material({"coeffs": list(MATERIAL_ABSORPTION[index]),
                                     "center_freqs": list(OCTAVE_CENTERS_HZ)}, design["scattering"])
                 for wall, index in zip(WALLS, design["materials"])}
    room = pra.ShoeBox(design["dims_m"], fs=sample_rate, materials=materials, max_order=3, air_absorption=True)
    room.set_ray_tracing(n_rays=N_RAYS, receiver_radius=RECEIVER_RADIUS_M,
                         time_thres=min(MAX_RIR_S, 1.5 * design["t60_predicted_s"] + RIR_MARGIN_S))
    with _gapless_tails():
        return _compute_rir(room, design["source_m"], design["mic_m"], seed)


def _cut_rir(rir: np.ndarray, sample_rate: int) -> np.ndarray:
    """`rir` cut RIR_T60S_KEPT measured T60s + RIR_MARGIN_S after its direct sound, and MAX_RIR_S at most."""
    onset_s = np.argmax(np.abs(rir)) / sample_rate
    kept_s = min(MAX_RIR_S, onset_s + RIR_T60S_KEPT * measure_t60(rir, sample_rate) + RIR_MARGIN_S)
    return rir[:int(round(kept_s * sample_rate))]


def random_room_rir(seed_words: list[int], sample_rate: int = 16000,
                    t60_range_s: tuple[float, float] = RANDOM_T60_RANGE_S) -> tuple[dict, np.ndarray]:
    """A shoebox room with a random database material on each surface, and its storable RIR, whose
    measured T60 (the label, `metadata['t60_s']`) lies in `t60_range_s`; over many seeds the labels spread
    roughly uniformly over the range.

    Each attempt draws a wanted T60 from `t60_range_s` stretched by WANTED_T60_STRETCH (skewed towards short
    rooms by WANTED_T60_SKEW), a room predicted to reach it whose low bands ring at most MAX_LOW_TO_MID_T60
    times as long as the speech bands, simulates it and keeps it if its measured T60 is in range:
    predictions are ~14% off, so drawing a little beyond the range keeps the density of measured T60s
    roughly flat up to its ends (~17% of attempts are rejected, mostly above the range). The metadata lists the materials in WALLS
    order, the wanted and predicted T60s (for diagnosis only) and the number of attempts.
    All randomness derives from `seed_words` (e.g. [seed, split, index]) and the attempt number.
    """
    for attempt in range(RANDOM_ROOM_ATTEMPTS):
        rng = np.random.default_rng([*seed_words, attempt])
        design = _design_room(rng, t60_range_s, sample_rate)
        try:
            rir = storable_rir(_cut_rir(_simulate_design(design, sample_rate, int(rng.integers(2**32))),
                                        sample_rate))
            t60_s = measure_t60(rir, sample_rate)
        except T60MeasurementError:
            continue
        if t60_range_s[0] <= t60_s <= t60_range_s[1]:
            return _metadata(design, t60_s, attempt + 1), rir
    raise RuntimeError(f"no room had a measurable T60 within {t60_range_s} s in {RANDOM_ROOM_ATTEMPTS} "
                       f"attempts (seed words {seed_words})")


def _metadata(design: dict, t60_s: float, attempts: int) -> dict:
    return dict(
        dims_m=[float(v) for v in design["dims_m"]],
        materials=[MATERIAL_NAMES[index] for index in design["materials"]],  # in WALLS order
        scattering=design["scattering"],
        source_m=[float(v) for v in design["source_m"]],
        mic_m=[float(v) for v in design["mic_m"]],
        distance_m=float(np.linalg.norm(design["source_m"] - design["mic_m"])),
        t60_s=t60_s,
        t60_wanted_s=design["t60_wanted_s"],
        t60_predicted_s=design["t60_predicted_s"],
        attempts=attempts,
    )


# Augmentation of existing RIRs (Bryan, "Impulse response data augmentation and deep neural networks for
# blind room acoustic parameter estimation", ICASSP 2020).

AUGMENT_T60_FACTOR_RANGE = (0.6, 1.6)
AUGMENT_DRR_CHANGE_DB = (-6.0, 6.0)
DIRECT_HALF_WINDOW_S = 0.0025  # the direct path: +-2.5 ms around the RIR's peak, under a Hann window


def augment_rir(rir: np.ndarray, rng: np.random.Generator, sample_rate: int = 16000,
                t60_range_s: tuple[float, float] = RANDOM_T60_RANGE_S,
                t60_factor_range: tuple[float, float] = AUGMENT_T60_FACTOR_RANGE,
                drr_change_db_range: tuple[float, float] = AUGMENT_DRR_CHANGE_DB) -> np.ndarray:
    """`rir` with a new decay rate and direct-to-reverberant ratio, as a storable RIR (Bryan 2020), whose
    measured T60 lies in `t60_range_s`.

    (b) Everything after the direct sound is multiplied by exp(-delta t) so that the measured T60 moves to
    one drawn uniformly from `t60_factor_range` times the input's, within `t60_range_s`: bands of different
    slopes make one step miss (lengthened decays overshoot by ~13%), so delta is corrected once by the
    miss. (a) The direct path is then rescaled under a Hann window to change the DRR by a uniform draw from
    `drr_change_db_range`, never so far down that a later arrival would outgrow it.
    The tail is neither extended nor denoised: this suits simulated RIRs, which decay to silence (a
    measured RIR's noise floor would rise with a lengthened decay), and a lengthened tail ends where the
    input's did. The drawn T60 is not the label: the caller measures the result (measure_t60).
    Raises T60MeasurementError when the input's or the result's T60 cannot be measured or the result's is
    outside `t60_range_s` (~1 in 10 reshapings); never returns None.
    """
    rir = np.asarray(rir, dtype=np.float64)
    t60_s = measure_t60(rir, sample_rate)
    low_s, high_s = max(t60_range_s[0], t60_factor_range[0] * t60_s), min(t60_range_s[1], t60_factor_range[1] * t60_s)
    if low_s > high_s:
        raise ValueError(f"this RIR's T60 of {t60_s:.3f} s is too far outside t60_range_s {t60_range_s} to "
                         f"reach it with a factor in {t60_factor_range}")
    target_s, drr_change_db = rng.uniform(low_s, high_s), rng.uniform(*drr_change_db_range)
    onset = int(np.argmax(np.abs(rir)))
    t_s = np.maximum(np.arange(rir.size) - onset, 0) / sample_rate
    delta = 3 * np.log(10) * (1 / target_s - 1 / t60_s)  # amplitude decays as 10^(-3 t / T60)
    delta += 3 * np.log(10) * (1 / target_s - 1 / measure_t60(rir * np.exp(-delta * t_s), sample_rate))
    augmented = storable_rir(_change_drr(rir * np.exp(-delta * t_s), onset, drr_change_db, sample_rate))
    augmented_t60_s = measure_t60(augmented, sample_rate)
    if not t60_range_s[0] <= augmented_t60_s <= t60_range_s[1]:
        raise T60MeasurementError(f"the reshaped RIR's T60 of {augmented_t60_s:.3f} s is outside {t60_range_s} s")
    return augmented


def _change_drr(rir: np.ndarray, onset: int, change_db: float, sample_rate: int) -> np.ndarray:
    """`rir` with its direct path (window w around `onset`) replaced by (alpha w + 1 - w) times itself,
    alpha solving the quadratic that changes the DRR by `change_db` (Bryan 2020, Sec. 3.1)."""
    half = int(round(DIRECT_HALF_WINDOW_S * sample_rate))
    start, stop = max(onset - half, 0), min(onset + half + 1, rir.size)
    window = np.hanning(2 * half + 1)[start - onset + half:stop - onset + half]
    direct = rir[start:stop]
    a, b = np.sum((window * direct) ** 2), 2 * np.sum(window * (1 - window) * direct**2)
    c = np.sum(((1 - window) * direct) ** 2) - np.sum(direct**2) * 10 ** (change_db / 10)
    alpha = (-b + np.sqrt(max(b**2 - 4 * a * c, 0.0))) / (2 * a)
    # The direct path stays the loudest arrival, as it is in any room without an obstacle.
    later_peak = max(np.max(np.abs(rir[:start]), initial=0.0), np.max(np.abs(rir[stop:]), initial=0.0))
    out = rir.copy()
    out[start:stop] = direct * (max(alpha, later_peak / abs(rir[onset])) * window + 1 - window)
    return out
