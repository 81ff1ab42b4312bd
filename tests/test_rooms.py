"""Random rooms with per-surface materials, labelled with their measured T60, and RIR augmentation."""
import numpy as np
import pyroomacoustics as pra
import pytest
from pyroomacoustics.experimental import measure_rt60

from speechkit.corpus.rooms import (MATERIAL_NAMES, RANDOM_DIMS_M, WALL_MARGIN_M, WALLS, T60MeasurementError,
                                    _broadband_t60_s, _poisson_sequence, augment_rir, measure_t60, random_room_rir)

SAMPLE_RATE = 16000
SHORT_T60_RANGE_S = (0.15, 0.6)  # short rooms simulate fast


@pytest.fixture(scope="module")
def room():
    return random_room_rir([0, 1], SAMPLE_RATE, SHORT_T60_RANGE_S)


def test_same_seed_words_give_the_same_room_bit_for_bit(room):
    metadata, rir = room
    again_metadata, again_rir = random_room_rir([0, 1], SAMPLE_RATE, SHORT_T60_RANGE_S)
    assert again_metadata == metadata
    assert again_rir.dtype == rir.dtype and np.array_equal(again_rir, rir)
    _, other_rir = random_room_rir([0, 2], SAMPLE_RATE, SHORT_T60_RANGE_S)
    assert other_rir.shape != rir.shape or not np.array_equal(other_rir, rir)


def test_label_is_the_t60_measured_on_the_returned_rir(room):
    metadata, rir = room
    assert metadata["t60_s"] == measure_t60(rir, SAMPLE_RATE)
    assert SHORT_T60_RANGE_S[0] <= metadata["t60_s"] <= SHORT_T60_RANGE_S[1]


def test_each_surface_gets_its_own_database_material(room):
    metadata, _ = room
    materials = metadata["materials"]
    assert len(materials) == len(WALLS) == len(set(materials))
    assert set(materials) <= set(MATERIAL_NAMES)


def test_geometry_stays_within_the_drawn_ranges(room):
    metadata, _ = room
    dims_m = np.array(metadata["dims_m"])
    assert np.all(dims_m >= RANDOM_DIMS_M[0]) and np.all(dims_m <= RANDOM_DIMS_M[1])
    for position in (np.array(metadata["source_m"]), np.array(metadata["mic_m"])):
        assert np.all(position >= WALL_MARGIN_M) and np.all(position <= dims_m - WALL_MARGIN_M)
    distance_m = np.linalg.norm(np.subtract(metadata["source_m"], metadata["mic_m"]))
    assert metadata["distance_m"] == pytest.approx(distance_m) and 0.5 <= distance_m <= 4.0


def test_broadband_prediction_of_one_exponential_decay_is_its_t60():
    bands_t60_s = np.full((2, 7), [[0.4], [1.2]])
    assert _broadband_t60_s(bands_t60_s, np.ones(7)) == pytest.approx([0.4, 1.2], rel=0.01)


def test_ray_traced_tail_has_no_silent_gap():
    # pyroomacoustics 0.10.1's own sequence leaves a mean 0.2 s gap after the first delta here (1,500 m^3, 0.7 m).
    for seed in range(20):
        pra.random.seed(numpy=seed)
        t0, times = _poisson_sequence(1500.0, 1.0, 343.0, t0=0.7 / 343.0)
        assert times[0] == t0 and times[-1] >= t0 + 1.0 and np.all(np.diff(times) >= 0)
        assert np.max(np.diff(times)) < 0.03


@pytest.mark.parametrize("factor_range, direction", [((1.4, 1.5), 1), ((0.6, 0.65), -1)])
def test_augment_rir_moves_the_measured_t60_toward_its_draw(room, factor_range, direction):
    metadata, rir = room
    augmented = augment_rir(rir, np.random.default_rng(3), SAMPLE_RATE, t60_range_s=(0.1, 2.0),
                            t60_factor_range=factor_range)
    ratio = measure_t60(augmented, SAMPLE_RATE) / metadata["t60_s"]
    assert (ratio > 1.2) if direction > 0 else (ratio < 0.8)


def test_augment_rir_is_deterministic_and_keeps_the_direct_path_loudest(room):
    _, rir = room
    first, second = (augment_rir(rir, np.random.default_rng(7), SAMPLE_RATE) for _ in range(2))
    assert np.array_equal(first, second) and not np.array_equal(first, rir)
    assert np.argmax(np.abs(first)) == np.argmax(np.abs(rir))


def test_augment_rir_refuses_an_unmeasurable_rir():
    with pytest.raises(T60MeasurementError):
        augment_rir(np.random.default_rng(0).normal(size=SAMPLE_RATE), np.random.default_rng(0), SAMPLE_RATE)


def test_measure_t60_matches_pyroomacoustics(room):
    _, rir = room
    rir = rir.astype(np.float64)
    assert measure_t60(rir, SAMPLE_RATE) == pytest.approx(measure_rt60(rir, SAMPLE_RATE, decay_db=30), rel=1e-9)
