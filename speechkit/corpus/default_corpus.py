"""The built-in default corpus: synthetic speech, simulated rooms, T60 and two-speaker sets, no download.

Layout under `out_dir` (16 kHz mono WAV; manifest paths are relative to the manifest's folder):
  speech/{train,valid,test}/ID.wav + speech/{split}.csv   dry utterances: path, voice, engine, text, duration_s
  rirs/{split}/ID.wav + rirs/{split}.csv                  one RIR per room (24-bit WAV, peak 0.9), geometry, t60_s
  t60/{split}/ID.wav + t60/{split}.csv                    reverberant (+noisy) speech labelled with measured T60
  lrs2mix/{tr,cv,tt}/{mix,s1,s2}/ID.wav + lrs2mix/{tr,cv,tt}.csv   2 s two-speaker mixtures, mix = s1 + s2
                                                          (mix_path, s1_path, s2_path, voices, level_db)
  corpus.json                                             settings, counts and tool versions, written last

Every random draw comes from np.random.default_rng([seed, stage, split, index]), so the output is
byte-identical for a seed whatever the number of workers. A manifest is written only after all audio it
lists exists, and corpus.json only after every manifest: a folder without corpus.json is incomplete.
Reverberant speech is the dry utterance convolved with the RIR and truncated to the dry length, so the
estimator has to use the decays between words rather than one free decay after the last word.
"""
import json
import os
import platform
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyroomacoustics
import scipy
import soundfile
from scipy.signal import fftconvolve

from speechkit.audio import read_audio, write_audio
from speechkit.manifest import read_manifest, write_manifest
from speechkit.progress import progress
from speechkit.corpus.noise import BABBLE_TALKERS, NOISE_TYPES, babble, coloured_noise, mix_at_snr, tpdf_dither
from speechkit.corpus.rooms import RIR_BITS, T60_RANGE_S, make_room
from speechkit.corpus.sentences import random_sentence
from speechkit.corpus.synthesis import (SAMPLE_RATE, Prosody, Voice, engine_versions, require_engines,
                                        split_voices, synthesize, trim_silence)

SPLITS = ("train", "valid", "test")
MIXTURE_SPLITS = {"train": "tr", "valid": "cv", "test": "tt"}
STAGES = ("speech", "rooms", "t60", "mixtures")
OUTPUT_NAMES = ("speech", "rirs", "t60", "lrs2mix", "corpus.json")

UTTERANCE_RANGE_S = (1.5, 6.0)
UTTERANCE_TARGET_S = (2.0, 5.0)  # planned (estimated) duration, inside UTTERANCE_RANGE_S with margin
SECONDS_PER_WORD = 0.29  # all engines speak ~0.29 s per word at speed 1
PAUSE_RANGE_S = (0.15, 0.45)
SPEED_RANGE = (0.88, 1.12)
PITCH_RANGE = (30, 70)
ENGINE_CYCLE = ("espeak-ng", "flite", "espeak-ng", "festival")  # utterance i uses ENGINE_CYCLE[i % 4]
FESTIVAL_BATCH = 24  # utterances per festival process
SNR_CONDITIONS_DB = (None, 0, 10, 20)  # None: clean, as in the AWSSDR training sets
T60_PEAK_RANGE = (0.3, 0.9)
MIXTURE_DURATION_S = 2.0
MIXTURE_LEVEL_DB = (-5.0, 5.0)
MIXTURE_PEAK_RANGE = (0.5, 0.9)
CHUNK = 32  # items per pool task in the T60 and mixture stages


class SplitCounts(NamedTuple):
    train: int
    valid: int
    test: int


@dataclass(frozen=True)
class CorpusSizes:
    """Item counts per split: dry utterances, rooms (one RIR each), T60 examples and 2-speaker mixtures."""

    utterances: SplitCounts
    rooms: SplitCounts
    t60_examples: SplitCounts
    mixtures: SplitCounts


# Each dry utterance is reused by several T60 examples (with other rooms and noises) and mixtures.
#          utterances         rooms              t60_examples          mixtures (tr, cv, tt)
# tiny     8 / 4 / 4          6 / 6 / 6          24 / 8 / 8            12 / 4 / 4       test fixture, ~4 s
# small    500 / 80 / 160     200 / 40 / 80      1500 / 200 / 400      500 / 100 / 100  quickstart, < 5 min on 2 cores
# full     5000 / 800 / 1600  2000 / 400 / 800   15000 / 2000 / 4000   5000 / 1000 / 1000  for a GPU run
SCALES = {
    "tiny": CorpusSizes(SplitCounts(8, 4, 4), SplitCounts(6, 6, 6), SplitCounts(24, 8, 8), SplitCounts(12, 4, 4)),
    "small": CorpusSizes(SplitCounts(500, 80, 160), SplitCounts(200, 40, 80), SplitCounts(1500, 200, 400),
                         SplitCounts(500, 100, 100)),
    "full": CorpusSizes(SplitCounts(5000, 800, 1600), SplitCounts(2000, 400, 800),
                        SplitCounts(15000, 2000, 4000), SplitCounts(5000, 1000, 1000)),
}


@dataclass(frozen=True)
class UtterancePlan:
    """What one dry utterance says and how: sentences joined by pauses (one per sentence; the last
    is used only if the utterance must be repeated to reach the minimum duration)."""

    id: str
    voice: Voice
    prosody: Prosody
    sentences: tuple[str, ...]
    pauses_s: tuple[float, ...]


def _rng(seed: int, stage: str, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, STAGES.index(stage), SPLITS.index(split), index])


def utterance_id(split: str, index: int) -> str:
    return f"{split}_utt{index:05d}"


def room_id(split: str, index: int) -> str:
    return f"{split}_room{index:04d}"


# ---------------------------------------------------------------- speech
def plan_utterance(seed: int, split: str, index: int) -> UtterancePlan:
    """Voice, prosody and sentences of utterance `index`, sized to land in UTTERANCE_RANGE_S."""
    rng = _rng(seed, "speech", split, index)
    voices = split_voices(split)[ENGINE_CYCLE[index % len(ENGINE_CYCLE)]]
    voice = voices[rng.integers(len(voices))]
    prosody = Prosody(speed=float(rng.uniform(*SPEED_RANGE)), pitch=int(rng.integers(*PITCH_RANGE)))
    target_s = rng.uniform(*UTTERANCE_TARGET_S)
    seconds_per_word = SECONDS_PER_WORD / prosody.speed
    sentences, words = [], 0
    while words * seconds_per_word < target_s:
        candidate = random_sentence(rng)
        if (words + len(candidate.split())) * seconds_per_word <= UTTERANCE_TARGET_S[1]:
            sentences.append(candidate)
            words += len(candidate.split())
        elif words * seconds_per_word >= UTTERANCE_TARGET_S[0]:
            break
    pauses_s = tuple(float(p) for p in rng.uniform(*PAUSE_RANGE_S, size=len(sentences)))
    return UtterancePlan(utterance_id(split, index), voice, prosody, tuple(sentences), pauses_s)


def _join(waves: list[np.ndarray], pauses_s: tuple[float, ...]) -> np.ndarray:
    parts = []
    for wave, pause_s in zip(waves, pauses_s):
        parts += [wave, np.zeros(round(pause_s * SAMPLE_RATE), np.float32)]
    return np.concatenate(parts[:-1])


def fit_duration(waves: list[np.ndarray], plan: UtterancePlan) -> tuple[np.ndarray, str]:
    """Join the sentence waves into one utterance within UTTERANCE_RANGE_S; returns (wave, text).

    The plan's estimate almost always fits; otherwise trailing sentences are dropped, a single
    over-long sentence is cut with a 20 ms fade, and a too short utterance is said twice.
    """
    min_len, max_len = (round(s * SAMPLE_RATE) for s in UTTERANCE_RANGE_S)
    count = len(waves)
    while count > 1 and len(_join(waves[:count], plan.pauses_s)) > max_len:
        count -= 1
    waves, sentences = waves[:count], list(plan.sentences[:count])
    pauses_s = plan.pauses_s[:count]
    if len(_join(waves, pauses_s)) < min_len:
        waves, sentences, pauses_s = waves * 2, sentences * 2, pauses_s * 2
    wave = _join(waves, pauses_s)[:max_len].copy()
    if len(wave) == max_len:
        fade = round(0.02 * SAMPLE_RATE)
        wave[-fade:] *= np.linspace(1, 0, fade, dtype=np.float32)
    return wave, " ".join(sentences)


def _speak_group(context: tuple, plans: list[UtterancePlan]) -> list[dict]:
    """Synthesize plans sharing one voice (one engine call batch), write the WAVs, return manifest rows."""
    out_dir, split = context
    requests = [(sentence, plan.prosody) for plan in plans for sentence in plan.sentences]
    pieces = iter(synthesize(plans[0].voice, requests))
    rows = []
    for plan in plans:
        wave, text = fit_duration([trim_silence(next(pieces)) for _ in plan.sentences], plan)
        write_audio(out_dir / "speech" / split / f"{plan.id}.wav", wave, SAMPLE_RATE)
        rows.append({"path": f"{split}/{plan.id}.wav", "voice": plan.voice.id, "engine": plan.voice.engine,
                     "text": text, "duration_s": f"{len(wave) / SAMPLE_RATE:.4f}"})
    return rows


def _speech_groups(plans: list[UtterancePlan]) -> list[list[UtterancePlan]]:
    """Festival utterances batched per voice (one process per batch, slowest tasks first), then one group
    per espeak-ng/flite utterance."""
    groups = []
    for voice in sorted({plan.voice for plan in plans if plan.voice.engine == "festival"}, key=str):
        same_voice = [plan for plan in plans if plan.voice == voice]
        groups += [same_voice[i:i + FESTIVAL_BATCH] for i in range(0, len(same_voice), FESTIVAL_BATCH)]
    return groups + [[plan] for plan in plans if plan.voice.engine != "festival"]


# ---------------------------------------------------------------- rooms
def _simulate_room(context: tuple, indices: range) -> list[dict]:
    """Rooms `indices` of a split: wanted measured T60s are stratified over T60_RANGE_S."""
    out_dir, seed, split, num_rooms = context
    low_s, high_s = T60_RANGE_S
    rows = []
    for index in indices:
        jitter = _rng(seed, "rooms", split, index).random()
        t60_wanted_s = low_s + (high_s - low_s) * (index + jitter) / num_rooms
        room, rir = make_room([seed, STAGES.index("rooms"), SPLITS.index(split), index], t60_wanted_s,
                              SAMPLE_RATE)
        name = room_id(split, index)
        write_audio(out_dir / "rirs" / split / f"{name}.wav", rir, SAMPLE_RATE, subtype=f"PCM_{RIR_BITS}")
        rows.append({"path": f"{split}/{name}.wav", "room": name,
                     **{f"{axis}_m": f"{v:.4f}" for axis, v in zip(("length", "width", "height"), room.dims_m)},
                     "absorption": f"{room.absorption:.6f}",
                     **{f"source_{axis}_m": f"{v:.4f}" for axis, v in zip("xyz", room.source_m)},
                     **{f"mic_{axis}_m": f"{v:.4f}" for axis, v in zip("xyz", room.mic_m)},
                     "t60_target_s": f"{room.t60_target_s:.6f}", "t60_s": f"{room.t60_s:.6f}"})
    return rows


# ---------------------------------------------------------------- T60 examples
@dataclass(frozen=True)
class SplitSources:
    """What a T60 or mixture worker needs to know about a split's dry utterances and rooms."""

    out_dir: Path
    seed: int
    split: str
    voices: tuple[str, ...]  # voice id per utterance index
    room_t60_s: tuple[str, ...]  # measured T60 per room index, as written in rirs/{split}.csv

    def utterance(self, index: int) -> np.ndarray:
        return read_audio(self.out_dir / "speech" / self.split / f"{utterance_id(self.split, index)}.wav")[0]

    def reverberate(self, dry: np.ndarray, room_index: int) -> np.ndarray:
        """`dry` convolved with room `room_index`'s RIR, truncated to the dry length."""
        rir = read_audio(self.out_dir / "rirs" / self.split / f"{room_id(self.split, room_index)}.wav")[0]
        return fftconvolve(dry, rir)[: len(dry)].astype(np.float32)


def _add_noise(sources: SplitSources, wave: np.ndarray, utterance: int, rng: np.random.Generator):
    """Draw a noise condition and apply it; returns (wave, noise type, snr_db or None)."""
    snr_db = SNR_CONDITIONS_DB[rng.integers(len(SNR_CONDITIONS_DB))]
    if snr_db is None:
        return wave, "none", None
    noise_type = NOISE_TYPES[rng.integers(len(NOISE_TYPES))]
    if noise_type == "babble":
        others = [i for i in range(len(sources.voices)) if i != utterance]
        count = int(rng.integers(BABBLE_TALKERS[0], BABBLE_TALKERS[1] + 1))
        talkers = rng.choice(others, size=count, replace=count > len(others))
        noise = babble([sources.utterance(int(i)) for i in talkers], len(wave), rng)
    else:
        noise = coloured_noise(len(wave), noise_type, rng, SAMPLE_RATE)
    return mix_at_snr(wave, noise, snr_db), noise_type, snr_db


def _make_t60_examples(sources: SplitSources, indices: range) -> list[dict]:
    """T60 examples `indices`: room index % rooms (balanced), a random utterance, noise and peak level."""
    rows = []
    for index in indices:
        rng = _rng(sources.seed, "t60", sources.split, index)
        room_index = index % len(sources.room_t60_s)
        utterance = int(rng.integers(len(sources.voices)))
        wet = sources.reverberate(sources.utterance(utterance), room_index)
        wave, noise_type, snr_db = _add_noise(sources, wet, utterance, rng)
        wave *= rng.uniform(*T60_PEAK_RANGE) / np.max(np.abs(wave))
        wave += tpdf_dither(len(wave), rng)
        name = f"{sources.split}_rev{index:05d}"
        write_audio(sources.out_dir / "t60" / sources.split / f"{name}.wav", wave, SAMPLE_RATE)
        rows.append({"path": f"{sources.split}/{name}.wav", "t60_s": sources.room_t60_s[room_index],
                     "snr_db": "" if snr_db is None else str(snr_db), "noise": noise_type,
                     "voice": sources.voices[utterance], "room": room_id(sources.split, room_index),
                     "duration_s": f"{len(wave) / SAMPLE_RATE:.4f}"})
    return rows


# ---------------------------------------------------------------- two-speaker mixtures
def _crop(wave: np.ndarray, num_samples: int, rng: np.random.Generator) -> np.ndarray:
    """A random `num_samples` crop, zero-padded at the end when `wave` is shorter."""
    if len(wave) > num_samples:
        start = rng.integers(len(wave) - num_samples + 1)
        return wave[start:start + num_samples]
    return np.pad(wave, (0, num_samples - len(wave)))


def _mixture_source(sources: SplitSources, utterance: int, room_index, num_samples: int,
                    rng: np.random.Generator) -> np.ndarray:
    """Utterance `utterance` (reverberated when `room_index` is not None), cropped, at unit RMS."""
    wave = sources.utterance(utterance)
    if room_index is not None:
        wave = sources.reverberate(wave, int(room_index))
    wave = _crop(wave, num_samples, rng)
    return wave / np.sqrt(np.mean(wave**2))


def _make_mixtures(context: tuple, indices: range) -> list[dict]:
    """Mixtures `indices`: two utterances of different voices at a relative level, mix = s1 + s2."""
    sources, reverberant = context
    folder = sources.out_dir / "lrs2mix" / MIXTURE_SPLITS[sources.split]
    num_samples = round(MIXTURE_DURATION_S * SAMPLE_RATE)
    rows = []
    for index in indices:
        rng = _rng(sources.seed, "mixtures", sources.split, index)
        first = int(rng.integers(len(sources.voices)))
        second = int(rng.integers(len(sources.voices)))
        while sources.voices[second] == sources.voices[first]:
            second = int(rng.integers(len(sources.voices)))
        level_db = rng.uniform(*MIXTURE_LEVEL_DB)
        rooms = rng.integers(len(sources.room_t60_s), size=2) if reverberant else (None, None)
        s1, s2 = (_mixture_source(sources, utterance, room_index, num_samples, rng)
                  for utterance, room_index in zip((first, second), rooms))
        s1 = s1 * 10 ** (level_db / 20)
        scale = rng.uniform(*MIXTURE_PEAK_RANGE) / np.max(np.abs([s1, s2, s1 + s2]))
        name = f"{MIXTURE_SPLITS[sources.split]}_mix{index:05d}"
        for part, wave in (("mix", (s1 + s2) * scale), ("s1", s1 * scale), ("s2", s2 * scale)):
            write_audio(folder / part / f"{name}.wav", wave, SAMPLE_RATE)
        split_dir = MIXTURE_SPLITS[sources.split]  # paths relative to the manifest, lrs2mix/{split}.csv
        rows.append({"mix_path": f"{split_dir}/mix/{name}.wav", "s1_path": f"{split_dir}/s1/{name}.wav",
                     "s2_path": f"{split_dir}/s2/{name}.wav",
                     "s1_utterance": utterance_id(sources.split, first),
                     "s2_utterance": utterance_id(sources.split, second),
                     "s1_voice": sources.voices[first], "s2_voice": sources.voices[second],
                     "level_db": f"{level_db:.4f}",
                     "s1_room": "" if rooms[0] is None else room_id(sources.split, int(rooms[0])),
                     "s2_room": "" if rooms[1] is None else room_id(sources.split, int(rooms[1]))})
    return rows


# ---------------------------------------------------------------- orchestration
def _run_stage(pool, worker, tasks: list[tuple], desc: str) -> dict[str, list[dict]]:
    """worker(context, group) for every (split, context, group) task, in a process pool when given.

    Tasks start in the given order (put the slowest first); returns each split's rows sorted by file path.
    """
    mapper = pool.map if pool is not None else map
    rows = {split: [] for split, _, _ in tasks}
    with progress(total=sum(len(group) for _, _, group in tasks), desc=desc, unit="item") as bar:
        results = mapper(worker, [context for _, context, _ in tasks], [group for _, _, group in tasks])
        for (split, _, _), group_rows in zip(tasks, results):
            rows[split] += group_rows
            bar.update(len(group_rows))
    first_column = lambda row: next(iter(row.values()))  # noqa: E731 - the file path, "path" or "mix_path"
    return {split: sorted(split_rows, key=first_column) for split, split_rows in rows.items()}


def _chunks(count: int, size: int = CHUNK) -> list[range]:
    return [range(start, min(start + size, count)) for start in range(0, count, size)]


def _settings(scale: str, seed: int, reverberant_mixtures: bool) -> dict:
    if scale not in SCALES:
        raise ValueError(f"unknown corpus scale {scale!r}; choose one of {', '.join(SCALES)}")
    return {"scale": scale, "seed": seed, "sizes": {k: v._asdict() for k, v in asdict(SCALES[scale]).items()},
            "options": {"sample_rate": SAMPLE_RATE, "reverberant_mixtures": reverberant_mixtures,
                        "utterance_range_s": UTTERANCE_RANGE_S, "t60_range_s": T60_RANGE_S,
                        "snr_conditions_db": SNR_CONDITIONS_DB, "noise_types": NOISE_TYPES,
                        "mixture_duration_s": MIXTURE_DURATION_S, "mixture_level_db": MIXTURE_LEVEL_DB}}


def _prepare_folder(out_dir: Path, settings: dict, overwrite: bool) -> bool:
    """True when `out_dir` already holds this exact corpus; clears an old or partial one if allowed."""
    record = out_dir / "corpus.json"
    if record.is_file() and not overwrite:
        previous = json.loads(record.read_text())
        if {key: previous.get(key) for key in settings} == json.loads(json.dumps(settings)):
            return True
    existing = [name for name in OUTPUT_NAMES if (out_dir / name).exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{out_dir} already holds {', '.join(existing)} from another or an interrupted "
                              f"run; pass overwrite=True (--overwrite) to replace them, or choose another folder")
    for name in existing:
        if (out_dir / name).is_dir():
            shutil.rmtree(out_dir / name)
        else:
            (out_dir / name).unlink()
    return False


def _versions() -> dict:
    return {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
            "pyroomacoustics": pyroomacoustics.__version__, "soundfile": soundfile.__version__,
            **engine_versions()}


def _write_manifests(out_dir: Path, folder: str, rows: dict[str, list[dict]]) -> None:
    for split, split_rows in rows.items():
        name = MIXTURE_SPLITS[split] if folder == "lrs2mix" else split
        write_manifest(out_dir / folder / f"{name}.csv", split_rows)


def _speech_tasks(out_dir: Path, seed: int, sizes: CorpusSizes) -> list[tuple]:
    tasks = []
    for split in SPLITS:
        plans = [plan_utterance(seed, split, i) for i in range(getattr(sizes.utterances, split))]
        tasks += [(split, (out_dir, split), group) for group in _speech_groups(plans)]
    return tasks


def _room_tasks(out_dir: Path, seed: int, sizes: CorpusSizes) -> list[tuple]:
    """One task per room; high room indices have long T60s and simulate slowest, so they go first."""
    rooms = [(split, index, getattr(sizes.rooms, split)) for split in SPLITS
             for index in range(getattr(sizes.rooms, split))]
    rooms.sort(key=lambda room: -room[1] / room[2])
    return [(split, (out_dir, seed, split, count), range(index, index + 1)) for split, index, count in rooms]


def _generate(pool, out_dir: Path, settings: dict) -> dict:
    """The four stages, each over all splits; a stage's manifests are written after all of its audio."""
    seed, sizes = settings["seed"], SCALES[settings["scale"]]
    speech = _run_stage(pool, _speak_group, _speech_tasks(out_dir, seed, sizes), "speech")
    _write_manifests(out_dir, "speech", speech)
    rirs = _run_stage(pool, _simulate_room, _room_tasks(out_dir, seed, sizes), "rirs")
    _write_manifests(out_dir, "rirs", rirs)
    sources = {split: SplitSources(out_dir, seed, split, tuple(row["voice"] for row in speech[split]),
                                   tuple(row["t60_s"] for row in rirs[split])) for split in SPLITS}
    t60_tasks = [(split, sources[split], chunk) for split in SPLITS
                 for chunk in _chunks(getattr(sizes.t60_examples, split))]
    _write_manifests(out_dir, "t60", _run_stage(pool, _make_t60_examples, t60_tasks, "t60"))
    reverberant = settings["options"]["reverberant_mixtures"]
    mixture_tasks = [(split, (sources[split], reverberant), chunk) for split in SPLITS
                     for chunk in _chunks(getattr(sizes.mixtures, split))]
    _write_manifests(out_dir, "lrs2mix", _run_stage(pool, _make_mixtures, mixture_tasks, "lrs2mix"))
    return {split: {"utterances": len(speech[split]), "voices": len(set(sources[split].voices)),
                    "rooms": len(rirs[split]), "t60_examples": getattr(sizes.t60_examples, split),
                    "mixtures": getattr(sizes.mixtures, split)} for split in SPLITS}


def make_default_corpus(out_dir="data/default", scale: str = "small", seed: int = 0, workers: int | None = None,
                        reverberant_mixtures: bool = False, overwrite: bool = False) -> dict:
    """Synthesize the default corpus into `out_dir` and return its corpus.json record.

    `scale` is a key of SCALES; `workers` processes (default: all CPUs) never change the output. An
    existing complete corpus with the same settings is kept as is (skipped) unless `overwrite`; anything
    else already in `out_dir` raises FileExistsError unless `overwrite`, which regenerates in any case.
    """
    out_dir = Path(out_dir)
    settings = _settings(scale, seed, reverberant_mixtures)
    if _prepare_folder(out_dir, settings, overwrite):
        return json.loads((out_dir / "corpus.json").read_text())
    require_engines()
    workers = workers or os.cpu_count() or 1
    pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn")) if workers > 1 else None
    try:
        counts = _generate(pool, out_dir, settings)
    finally:
        if pool is not None:
            pool.shutdown()
    record = {**settings, "counts": counts, "versions": _versions()}
    (out_dir / "corpus.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def t60_histogram(t60_s: list[float], bin_s: float = 0.1, width: int = 40) -> str:
    """Text histogram of T60 values over T60_RANGE_S in `bin_s` bins, one line per bin."""
    low_s, high_s = T60_RANGE_S
    edges = np.linspace(low_s, high_s, round((high_s - low_s) / bin_s) + 1)
    counts, _ = np.histogram(t60_s, bins=edges)
    scale = width / max(counts.max(), 1)
    return "\n".join(f"  {lo:.1f}-{hi:.1f} s |{'#' * round(c * scale):<{width}}| {c}"
                     for lo, hi, c in zip(edges[:-1], edges[1:], counts))


def describe_corpus(out_dir) -> str:
    """Counts per split and the measured-T60 histogram of each split's T60 examples, as text."""
    out_dir = Path(out_dir)
    record = json.loads((out_dir / "corpus.json").read_text())
    lines = [f"default corpus in {out_dir}: scale {record['scale']}, seed {record['seed']}"]
    for split in SPLITS:
        counts = record["counts"][split]
        t60_s = [float(row["t60_s"]) for row in read_manifest(out_dir / "t60" / f"{split}.csv")]
        lines.append(f"{split}: {counts['utterances']} utterances from {counts['voices']} voices, "
                     f"{counts['rooms']} rooms, {counts['t60_examples']} T60 examples "
                     f"(T60 {min(t60_s):.3f}-{max(t60_s):.3f} s), "
                     f"{counts['mixtures']} mixtures in lrs2mix/{MIXTURE_SPLITS[split]}")
        lines.append(t60_histogram(t60_s))
    return "\n".join(lines)
