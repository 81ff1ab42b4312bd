"""Training data drawn on the fly: determinism per (seed, epoch, index), other items on other ranks and
epochs, measured T60 labels, speaker-disjoint pools, and a resumed training run equal to an uninterrupted one."""
import dataclasses
import json

import numpy as np
import pytest
import torch

from awssdr.dataset import drawn_t60_set
from awssdr.features import SDRParams
from speechkit.audio import write_audio
from speechkit.corpus.fixed_sets import write_t60_set
from speechkit.corpus.rooms import measure_t60
from speechkit.drawn_data import (MixtureDraw, PoolError, Pools, Speaker, T60Draw, draw_mixture, draw_speech_at_speed,
                                  draw_speaker, draw_t60_item, drawn_mixture_set)
from speechkit.manifest import write_manifest

from .script_runner import run_script

RATE = 16000
SPEAKERS = {"train": [("tts:a", "tts"), ("tts:b", "tts"), ("rec:c", "recorded"), ("rec:d", "recorded")],
            "valid": [("tts:e", "tts"), ("rec:f", "recorded")], "test": [("tts:g", "tts"), ("rec:h", "recorded")]}


def _syllables(rng, pitch_hz: float, seconds: float) -> np.ndarray:
    """Harmonic bursts with pauses: a stand-in for speech with decays between 'words'."""
    t = np.arange(round(seconds * RATE)) / RATE
    voiced = sum(np.sin(2 * np.pi * k * pitch_hz * t) / k for k in range(1, 12))
    envelope = (np.sin(2 * np.pi * rng.uniform(2, 4) * t) > 0.2).astype(float)
    return (0.3 * voiced * envelope).astype(np.float32)


def _rir(rng, t60_s: float) -> np.ndarray:
    t = np.arange(round(1.2 * t60_s * RATE + 800)) / RATE
    rir = rng.standard_normal(len(t)) * 10 ** (-3 * t / t60_s)
    rir[0] = 1.0
    return (0.9 * rir / np.abs(rir).max()).astype(np.float32)


@pytest.fixture(scope="module")
def pools_dir(tmp_path_factory):
    """Tiny pools in the default corpus's layout: 2-4 speakers and 5 rooms per split, a noise clip."""
    root = tmp_path_factory.mktemp("pools")
    rng = np.random.default_rng(0)
    for split, speakers in SPEAKERS.items():
        rows = {"speech": [], "recorded": []}
        for s, (voice, kind) in enumerate(speakers):
            folder = "speech" if kind == "tts" else "recorded"
            for u in range(3):
                path = root / folder / split / f"{s}_{u}.wav"
                write_audio(path, _syllables(rng, 100 + 40 * s, rng.uniform(1.0, 2.0)), RATE)
                rows[folder].append({"path": path, "voice": voice, "kind": kind})
        for folder, folder_rows in rows.items():
            write_manifest(root / folder / f"{split}.csv", folder_rows)
        rir_rows = []
        for r, t60_s in enumerate(np.linspace(0.2, 1.2, 5)):
            path = root / "rirs" / split / f"{split}_room{r}.wav"
            rir = _rir(rng, t60_s)
            write_audio(path, rir, RATE, subtype="PCM_24")
            rir_rows.append({"path": path, "room": f"{split}_room{r}", "t60_s": f"{measure_t60(rir, RATE):.6f}"})
        write_manifest(root / "rirs" / f"{split}.csv", rir_rows)
        write_audio(root / "noise" / split / "hum.wav", 0.1 * rng.standard_normal(RATE).astype(np.float32), RATE)
        write_manifest(root / "noise" / f"{split}.csv", [{"path": root / "noise" / split / "hum.wav"}])
    return root


def _equal(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b))


def test_an_item_is_a_function_of_seed_epoch_and_index(pools_dir):
    first = drawn_t60_set(pools_dir, T60Draw(), SDRParams(), items_per_epoch=6, seed=3)
    again = drawn_t60_set(pools_dir, T60Draw(), SDRParams(), items_per_epoch=6, seed=3)
    assert _equal(first[2], again[2])
    assert not _equal(first[2], first[3])
    item = first[2]
    first.set_epoch(1)
    assert not torch.equal(first[2][0], item[0])  # a new epoch draws new items
    other_seed = drawn_t60_set(pools_dir, T60Draw(), SDRParams(), items_per_epoch=6, seed=4)
    assert not torch.equal(other_seed[2][0], item[0])


def test_distributed_ranks_draw_different_items(pools_dir):
    """Each rank reads other indices from the sampler, so under torchrun no two ranks train on one item."""
    from speechkit.sampler import LengthBucketSampler

    dataset = drawn_mixture_set(pools_dir, MixtureDraw(), RATE, 0.5, items_per_epoch=8, seed=0)
    ranks = [[i for batch in LengthBucketSampler(dataset.lengths, 2, seed=0, rank=r, world_size=2) for i in batch]
             for r in (0, 1)]
    assert not set(ranks[0]) & set(ranks[1])
    assert not torch.equal(dataset[ranks[0][0]][0], dataset[ranks[1][0]][0])


def test_t60_labels_are_measured_on_the_rir_used(pools_dir):
    pools = Pools.load(pools_dir, "train")
    augmented = 0
    for index in range(12):
        wave, t60_s, info = draw_t60_item(pools, np.random.default_rng([0, index]), RATE * 2,
                                          T60Draw(augment_probability=0.5))
        stored = {room: t for room, t in zip(pools.rir_rooms, pools.rir_t60_s)}
        assert wave.shape == (RATE * 2,) and 0.05 < t60_s < 3.0
        augmented += not np.isclose(t60_s, stored[info["room"]])  # reshaped RIR: measured anew
    assert augmented > 0


@pytest.mark.parametrize("speed", [0.85, 1.0, 1.15])
def test_speech_at_speed_moves_the_pitch_by_the_drawn_factor(speed):
    tone = (0.5 * np.sin(2 * np.pi * 200 * np.arange(RATE) / RATE) * 32767).astype(np.int16)
    wave = draw_speech_at_speed(Speaker("tone", "tts", (tone,)), RATE, np.random.default_rng(0), RATE,
                                [speed, speed])
    spectrum = np.abs(np.fft.rfft(wave[:RATE // 2] * np.hanning(RATE // 2)))
    assert wave.shape == (RATE,) and wave.dtype == np.float32
    assert np.argmax(spectrum) * 2 == pytest.approx(200 * speed, abs=2)  # 2 Hz bins


def test_speed_perturbation_changes_t60_items_deterministically(pools_dir):
    pools = Pools.load(pools_dir, "train")
    draw = lambda draw_cfg: draw_t60_item(pools, np.random.default_rng([5, 1]), RATE * 2, draw_cfg)  # noqa: E731
    plain, fast = draw(T60Draw()), draw(T60Draw(speed=[1.1, 1.1]))
    assert fast[0].shape == plain[0].shape and not np.array_equal(fast[0], plain[0])
    assert fast[2]["voice"] == plain[2]["voice"]  # the same draw otherwise: speaker first, then the speed
    assert np.array_equal(draw(T60Draw(speed=[1.1, 1.1]))[0], fast[0])


@pytest.mark.parametrize("speed", [[1.2, 0.8], [0.0, 1.0], [1.0]])
def test_a_speed_range_that_cannot_be_drawn_is_refused(speed):
    with pytest.raises(ValueError, match="speed"):
        T60Draw(speed=speed)


def test_mixtures_sum_their_sources_and_pair_two_speakers(pools_dir):
    pools = Pools.load(pools_dir, "train")
    for index in range(6):
        mixture, sources, info = draw_mixture(pools, np.random.default_rng(index), RATE, MixtureDraw())
        assert info["s1_voice"] != info["s2_voice"]
        np.testing.assert_allclose(mixture, sources.sum(0), atol=1e-6)
    _, _, info = draw_mixture(pools, np.random.default_rng(0), RATE, MixtureDraw(), kinds=("recorded", "recorded"),
                              reverberant=True)
    assert info["s1_kind"] == info["s2_kind"] == "recorded" and info["reverberant"]


def test_t60_items_skip_reverberant_voices_and_mixtures_keep_them(pools_dir):
    pools = Pools.load(pools_dir, "train")
    voices = lambda draw: {draw(np.random.default_rng([7, i]))[2]["voice"] for i in range(40)}  # noqa: E731
    assert voices(lambda rng: draw_t60_item(pools, rng, RATE, T60Draw(reverberant_voices=[]))) == \
        {"tts:a", "tts:b", "rec:c", "rec:d"}
    assert voices(lambda rng: draw_t60_item(pools, rng, RATE, T60Draw(reverberant_voices=["rec:c"]))) == \
        {"tts:a", "tts:b", "rec:d"}
    mixture_voices = set()
    for i in range(40):
        info = draw_mixture(pools, np.random.default_rng([7, i]), RATE, MixtureDraw())[2]
        mixture_voices |= {info["s1_voice"], info["s2_voice"]}
    assert "rec:c" in mixture_voices
    with pytest.raises(ValueError, match="quote them"):
        T60Draw(reverberant_voices=[{"rec": None}])  # YAML's reading of an unquoted [rec:]
    with pytest.raises(PoolError, match="no speaker left"):
        draw_t60_item(pools, np.random.default_rng(0), RATE, T60Draw(reverberant_voices=["tts:", "rec:"]))
    alone = dataclasses.replace(pools, speakers=pools.speakers[:1])
    with pytest.raises(PoolError, match=r"speakers is tts:a, already drawn$"):  # no empty skip list named
        draw_speaker(alone, np.random.default_rng(0), 0.5, exclude=alone.speakers[0])
    with pytest.raises(PoolError, match="the pools hold no speakers"):
        draw_speaker(dataclasses.replace(pools, speakers=[]), np.random.default_rng(0), 0.5)


def test_pools_of_each_split_hold_only_that_splits_speakers(pools_dir):
    voices = {split: {s.name for s in Pools.load(pools_dir, split).speakers} for split in SPEAKERS}
    assert voices == {split: {v for v, _ in speakers} for split, speakers in SPEAKERS.items()}


def test_a_baseline_that_steps_with_recorded_speech_is_high_passed_away_as_the_pools_load(tmp_path):
    t = np.arange(2 * RATE) / RATE
    speaking = np.sin(2 * np.pi * 3 * t) > 0.2
    voiced = sum(np.sin(2 * np.pi * k * 150 * t) / k for k in range(1, 12))
    wave = (0.3 * voiced + 0.05) * speaking - 0.0125  # a -26 dBFS step at each onset and offset, as KLettres nds's
    for folder, voice in (("recorded", "rec:stepped"), ("speech", "tts:stepped")):
        write_audio(tmp_path / folder / "0.wav", (wave - wave.mean()).astype(np.float32), RATE)
        write_manifest(tmp_path / folder / "train.csv", [{"path": tmp_path / folder / "0.wav", "voice": voice}])
    write_audio(tmp_path / "rirs" / "0.wav", _rir(np.random.default_rng(0), 0.5), RATE)
    write_manifest(tmp_path / "rirs" / "train.csv", [{"path": tmp_path / "rirs" / "0.wav", "t60_s": "0.5"}])

    def step(utterance):  # mean level under the speech less that of the pauses, away from the edges
        inner = np.convolve(speaking, np.ones(800), "same") == 800
        outer = np.convolve(~speaking, np.ones(800), "same") == 800
        return (utterance[inner].mean() - utterance[outer].mean()) / 32767

    plain = {s.name: s.utterances[0] for s in Pools.load(tmp_path, "train", RATE).speakers}
    filtered = {s.name: s.utterances[0] for s in Pools.load(tmp_path, "train", RATE, recorded_highpass_hz=60).speakers}
    assert step(plain["rec:stepped"]) == pytest.approx(0.05, abs=0.002)
    assert abs(step(filtered["rec:stepped"])) < 0.002
    assert filtered["rec:stepped"].dtype == np.int16
    assert np.array_equal(filtered["tts:stepped"], plain["tts:stepped"])  # synthetic speech is left as it is
    with pytest.raises(PoolError, match=r"recorded_highpass_hz=8000: choose a frequency between 0 and 8000 Hz"):
        Pools.load(tmp_path, "train", RATE, recorded_highpass_hz=8000)


def test_resumed_training_on_drawn_items_ends_with_the_same_weights(pools_dir, tmp_path):
    write_t60_set(Pools.load(pools_dir, "valid"), tmp_path, "valid", 4, [0])
    for name, stop in (("straight", 3), ("resumed", 1)):
        settings = {"name": name, "data.pools": pools_dir, "data.items_per_epoch": 8,
                    "data.valid": tmp_path / "t60" / "valid.csv", "model.hidden": 16, "train.epochs": stop,
                    "train.progress": False, "checkpoint_dir": tmp_path}
        args = [a for k, v in settings.items() for a in ("--set", f"{k}={v}")]
        run_script("1_train_default.py", *args)
        if name == "resumed":
            args[args.index("train.epochs=1")] = "train.epochs=3"
            run_script("1_train_default.py", *args)
    straight, resumed = (torch.load(tmp_path / f"{n}.dnn" / "latest_weights.pyt", weights_only=True)
                         for n in ("straight", "resumed"))
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    history = json.loads((tmp_path / "resumed.dnn" / "checkpoint.json").read_text())["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3]
