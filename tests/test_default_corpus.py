"""The built-in default corpus: sentence grammar, T60 measurement, noise, and tiny generated corpora."""
import csv
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from speechkit.audio import read_audio
from speechkit.manifest import read_manifest
from speechkit.corpus.default_corpus import SPLITS, make_default_corpus
from speechkit.corpus.fixed_sets import MIXTURE_SPLITS, MIXTURE_TYPES, TEST_SNRS_DB
from speechkit.corpus.noise import coloured_noise, mix_at_snr
from speechkit.corpus.rooms import T60MeasurementError, measure_t60
from speechkit.corpus.sentences import random_sentence
from speechkit.corpus.synthesis import SynthesisError, require_engines

MISSING_ENGINES = [name for name in ("espeak-ng", "flite", "festival") if shutil.which(name) is None]
needs_tts = pytest.mark.skipif(bool(MISSING_ENGINES), reason=f"TTS engines not installed: {MISSING_ENGINES}")
POOLS = ("speech", "recorded", "noise", "rirs")
FIXED_SPLITS = ("valid", "test")
PCM_STEP = 1 / 32768


@pytest.fixture(scope="module")
def tiny(tiny_corpus) -> Path:
    return tiny_corpus


def file_hashes(root: Path) -> dict[str, str]:
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*")) if path.is_file()}


def manifest(root: Path, folder: str, split: str) -> list[dict]:
    """The raw rows of a manifest as written (paths as stored, relative)."""
    name = MIXTURE_SPLITS[split] if folder == "lrs2mix" else split
    with open(root / folder / f"{name}.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_sentences_are_varied_and_reproducible():
    sentences = [random_sentence(np.random.default_rng([7, i])) for i in range(300)]
    assert len(set(sentences)) >= 290
    assert len({s.split()[0] for s in sentences}) >= 20
    assert all(s[0].isupper() and s[-1] in ".?" and 4 <= len(s.split()) <= 12 for s in sentences)
    assert sentences[:5] == [random_sentence(np.random.default_rng([7, i])) for i in range(5)]


def test_measure_t60_recovers_an_exponential_decay():
    sample_rate, t60_s = 16000, 0.6
    time_s = np.arange(int(1.5 * sample_rate)) / sample_rate
    rir = np.random.default_rng(0).standard_normal(time_s.size) * 10 ** (-3 * time_s / t60_s)
    assert measure_t60(rir, sample_rate) == pytest.approx(t60_s, rel=0.05)


@pytest.mark.parametrize("rir", [np.random.default_rng(0).standard_normal(4000), np.ones(4000), np.zeros(4000)],
                         ids=["stationary noise", "constant", "silent"])
def test_measure_t60_rejects_impulse_responses_that_do_not_decay(rir):
    with pytest.raises(T60MeasurementError):
        measure_t60(rir, 16000)


def test_mix_at_snr_reaches_the_requested_power_ratio():
    rng = np.random.default_rng(0)
    speech, noise = rng.standard_normal(16000), coloured_noise(16000, "pink", rng)
    mixed = mix_at_snr(speech, noise, 10.0)
    assert 10 * np.log10(np.mean(speech**2) / np.mean((mixed - speech) ** 2)) == pytest.approx(10.0, abs=1e-3)


@pytest.mark.parametrize("num_samples", [16000, 63997])  # 63997 is prime: shaped longer, then cropped
def test_coloured_noise_has_the_asked_length_and_unit_rms(num_samples):
    noise = coloured_noise(num_samples, "brown", np.random.default_rng(0))
    assert noise.shape == (num_samples,) and np.sqrt(np.mean(noise.astype(np.float64) ** 2)) == pytest.approx(1.0)


def test_brown_noise_is_darker_than_pink_than_white():
    rng = np.random.default_rng(0)
    low_share = {}
    for colour in ("white", "pink", "brown"):
        power = np.abs(np.fft.rfft(coloured_noise(32000, colour, rng))) ** 2
        low_share[colour] = power[: power.size // 8].sum() / power.sum()  # below 1 kHz
    assert low_share["white"] < low_share["pink"] < low_share["brown"]


def test_missing_engine_names_the_apt_packages(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "flite" else f"/usr/bin/{name}")
    with pytest.raises(SynthesisError, match="apt-get install .*flite"):
        require_engines()


@needs_tts
def test_tiny_corpus_has_the_documented_layout(tiny):
    assert (tiny / "corpus.json").is_file()
    for folder in POOLS:
        for split in SPLITS:
            for row in manifest(tiny, folder, split):
                assert not Path(row["path"]).is_absolute() and (tiny / folder / row["path"]).is_file()
    for split in SPLITS:
        for row in manifest(tiny, "speech", split):
            wave, rate = read_audio(tiny / "speech" / row["path"])
            assert rate == 16000 and 1.5 <= len(wave) / rate <= 6.0 and row["kind"] == "tts"
            assert float(row["duration_s"]) == pytest.approx(len(wave) / rate, abs=1e-4)
        assert {row["kind"] for row in manifest(tiny, "recorded", split)} == {"recorded"}
    assert not (tiny / "t60" / "train.csv").exists() and not (tiny / "lrs2mix" / "tr").exists()  # drawn on the fly


@needs_tts
def test_rirs_are_labelled_with_their_measured_t60(tiny):
    for split in SPLITS:
        for row in manifest(tiny, "rirs", split):
            rir, rate = read_audio(tiny / "rirs" / row["path"])
            assert measure_t60(rir, rate) == pytest.approx(float(row["t60_s"]), abs=1e-5)
            assert 0.5 <= float(row["distance_m"]) <= 4.0 and len(set(row["materials"].split())) > 1


@needs_tts
def test_fixed_t60_sets_balance_snr_and_speech_kind(tiny):
    for split in FIXED_SPLITS:
        rows = manifest(tiny, "t60", split)
        assert [r["snr_db"] for r in rows[:4]] == ["" if s is None else f"{s:g}" for s in TEST_SNRS_DB]
        assert {r["kind"] for r in rows} == {"tts", "recorded"}
        rooms = {r["room"] for r in manifest(tiny, "rirs", split)}
        for row in rows:
            assert row["room"] in rooms and 0.1 <= float(row["t60_s"]) <= 2.0
            assert (row["snr_db"] == "") == (row["noise"] == "none")
            wave, _ = read_audio(tiny / "t60" / row["path"])
            frames = wave[: len(wave) // 256 * 256].reshape(-1, 256)
            assert (np.abs(frames).max(axis=1) > 0).all(), f"{row['path']}: digital silence (no noise floor)"


@needs_tts
def test_speakers_and_rooms_are_disjoint_across_splits(tiny):
    voices = {split: {row["voice"] for folder in ("speech", "recorded") for row in manifest(tiny, folder, split)}
              for split in SPLITS}
    rooms = {split: {(row["dims_m"], row["source_m"], row["mic_m"]) for row in manifest(tiny, "rirs", split)}
             for split in SPLITS}
    for first, second in [("train", "valid"), ("train", "test"), ("valid", "test")]:
        assert not voices[first] & voices[second]
        assert not rooms[first] & rooms[second]
    for split in FIXED_SPLITS:  # the fixed sets use their own split's speakers, real ones included
        used = {r["voice"] for r in manifest(tiny, "t60", split)}
        used |= {r[f"{s}_voice"] for r in manifest(tiny, "lrs2mix", split) for s in ("s1", "s2")}
        assert used <= voices[split] and any(":" in v and not v.startswith(("espeak", "flite", "festival"))
                                             for v in used)


@needs_tts
def test_tiny_mixtures_sum_their_sources(tiny):
    for split in FIXED_SPLITS:
        folder = tiny / "lrs2mix" / MIXTURE_SPLITS[split]
        names = {part: sorted(p.name for p in (folder / part).iterdir()) for part in ("mix", "s1", "s2")}
        assert names["mix"] == names["s1"] == names["s2"]
        rows = read_manifest(folder.with_suffix(".csv"), required=("mix_path", "s1_path", "s2_path"))
        assert len(rows) == len(names["mix"]) == len(MIXTURE_TYPES)  # one of each type
        assert len({row["type"] for row in rows}) == len(MIXTURE_TYPES)
        for row in manifest(tiny, "lrs2mix", split):
            mix, s1, s2 = (read_audio(tiny / "lrs2mix" / row[f"{part}_path"])[0] for part in ("mix", "s1", "s2"))
            assert len(mix) == len(s1) == len(s2) == 48000
            assert np.max(np.abs(mix - s1 - s2)) <= 2 * PCM_STEP
            assert row["s1_voice"] != row["s2_voice"]


@needs_tts
def test_same_seed_is_byte_identical_whatever_the_workers_and_other_seeds_differ(tiny, tmp_path):
    make_default_corpus(tmp_path / "seed0_workers1", scale="tiny", seed=0, workers=1)
    assert file_hashes(tmp_path / "seed0_workers1") == file_hashes(tiny)
    make_default_corpus(tmp_path / "seed1", scale="tiny", seed=1, workers=2)
    other = file_hashes(tmp_path / "seed1")
    assert other["t60/test.csv"] != file_hashes(tiny)["t60/test.csv"]
    assert other["rirs/train.csv"] != file_hashes(tiny)["rirs/train.csv"]


@needs_tts
def test_rerun_skips_a_complete_corpus_and_refuses_to_mix_settings(tiny):
    record = json.loads((tiny / "corpus.json").read_text())["options"]
    # options that are off make nothing, so they are not recorded: adding one must not orphan older corpora
    assert None not in [*record["t60_draw"].values(), *record["mixture_draw"].values()]
    written = (tiny / "corpus.json").read_text()
    older = json.loads(written)
    older["options"]["t60_draw"]["speed"] = None  # as recorded between that option's arrival and this rule
    (tiny / "corpus.json").write_text(json.dumps(older))
    before = {path: path.stat().st_mtime_ns for path in tiny.rglob("*")}
    try:
        make_default_corpus(tiny, scale="tiny", seed=0, workers=2)
        assert {path: path.stat().st_mtime_ns for path in tiny.rglob("*")} == before
    finally:
        (tiny / "corpus.json").write_text(written)
    with pytest.raises(FileExistsError, match="overwrite"):
        make_default_corpus(tiny, scale="tiny", seed=5, workers=2)
