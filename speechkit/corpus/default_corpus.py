"""The built-in default corpus: pools of dry speech, rooms and noise, and fixed validation and test sets.

Training draws its items from the pools on the fly (speechkit.drawn_data); the fixed sets are drawn once
from the valid / test pools by the same code (speechkit.corpus.fixed_sets). Layout under `out_dir` (16 kHz
mono WAV; manifest paths are relative to the manifest's folder), one stage each:
  speech/{split}/ID.wav + speech/{split}.csv       synthetic utterances (Debian TTS voices): path, voice, kind, ...
  recorded/{split}/ID.wav + recorded/{split}.csv   real recorded speech from Debian packages: path, voice, kind, source
  noise/{split}/ID.wav + noise/{split}.csv         real recorded noise clips (a disjoint part of each clip per split)
  rirs/{split}/ID.wav + rirs/{split}.csv           simulated rooms' RIRs (24-bit WAV) labelled with the measured t60_s
  t60/{valid,test}/ + t60/{valid,test}.csv         reverberant (+noisy) speech: path, t60_s, snr_db, noise, voice, kind
  lrs2mix/{cv,tt}/{mix,s1,s2}/ + lrs2mix/{cv,tt}.csv   two-speaker mixtures (LRS2-2Mix layout), type per mixture
  corpus.json                                      settings, counts and tool versions, written last

Speakers (voices) and rooms are disjoint between splits. Every random draw comes from
np.random.default_rng([seed, stage, split, index]), so the output is byte-identical for a seed whatever the
number of workers. A manifest is written only after all audio it lists exists, and corpus.json only after
every manifest: a folder without corpus.json is incomplete.
"""
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyroomacoustics
import scipy
import soundfile

from speechkit.audio import AudioError, read_audio, write_audio
from speechkit.drawn_data import MixtureDraw, Pools, T60Draw
from speechkit.manifest import read_manifest, write_manifest
from speechkit.corpus.building import chunks, clear_output, process_pool, run_chunks, software_versions
from speechkit.corpus.fixed_sets import MIXTURE_SPLITS, write_mixture_set, write_t60_set
from speechkit.corpus.recorded import find_noise_clips, find_recorded_speech, load_recorded, split_of_speaker
from speechkit.corpus.rooms import RIR_BITS, T60_RANGE_S, random_room_rir
from speechkit.corpus.synthesis import SAMPLE_RATE, engine_versions, require_engines
from speechkit.corpus.utterances import plan_utterance, speak_group, speech_groups

SPLITS = ("train", "valid", "test")
STAGES = ("speech", "rooms", "t60", "mixtures", "recorded", "noise")
OUTPUT_NAMES = ("speech", "recorded", "noise", "rirs", "t60", "lrs2mix", "corpus.json")
NOISE_SPLIT_FRACTIONS = (0.6, 0.2, 0.2)  # of each recorded noise clip, in time order
TEST_MIXTURE_S = 3.0


class SplitCounts(NamedTuple):
    train: int
    valid: int
    test: int


@dataclass(frozen=True)
class CorpusSizes:
    """Counts per split: synthetic utterances, recorded utterances per speaker (at most), rooms, fixed T60
    items and fixed mixtures (the train counts of the last two are unused: training draws its items)."""

    utterances: SplitCounts
    recorded_per_speaker: int
    rooms: SplitCounts
    t60_examples: SplitCounts
    mixtures: SplitCounts


#          utterances        recorded  rooms               t60 (valid, test)  mixtures (cv, tt)
# tiny     8 / 4 / 4         3         6 / 6 / 6           8 / 8              6 / 6          test fixture
# small    300 / 60 / 120    30        200 / 40 / 80       80 / 240           48 / 96        quickstart
# large    500 / 80 / 160    all       2000 / 150 / 300    240 / 480          120 / 240      the shipped models
SCALES = {
    "tiny": CorpusSizes(SplitCounts(8, 4, 4), 3, SplitCounts(6, 6, 6), SplitCounts(0, 8, 8), SplitCounts(0, 6, 6)),
    "small": CorpusSizes(SplitCounts(300, 60, 120), 30, SplitCounts(200, 40, 80), SplitCounts(0, 80, 240),
                         SplitCounts(0, 48, 96)),
    "large": CorpusSizes(SplitCounts(500, 80, 160), 100000, SplitCounts(2000, 150, 300), SplitCounts(0, 240, 480),
                         SplitCounts(0, 120, 240)),
}


def _seed_words(seed: int, stage: str, split: str) -> list[int]:
    return [seed, STAGES.index(stage), SPLITS.index(split)]


# ---------------------------------------------------------------- recorded speech and noise
def _convert_recorded(out_dir: Path, utterances: list) -> list[dict]:
    """Recorded utterances resampled to the corpus rate and written to recorded/{split}/; manifest rows."""
    rows = []
    for utterance, split, name in utterances:
        try:
            wave = load_recorded(utterance, SAMPLE_RATE)
        except AudioError:  # unreadable, silent or under MIN_SPEECH_S once trimmed: not speech to draw from
            continue
        write_audio(out_dir / "recorded" / split / f"{name}.wav", wave, SAMPLE_RATE)
        rows.append({"path": f"{split}/{name}.wav", "voice": utterance.speaker, "kind": "recorded",
                     "source": utterance.source, "duration_s": f"{len(wave) / SAMPLE_RATE:.4f}"})
    return rows


def _recorded_tasks(out_dir: Path, per_speaker: int) -> list[tuple]:
    """Up to `per_speaker` utterances of each recorded speaker (the first in sorted order), in chunks."""
    chosen, counts = [], {}
    for utterance in find_recorded_speech():
        counts[utterance.speaker] = counts.get(utterance.speaker, 0) + 1
        if counts[utterance.speaker] <= per_speaker:
            split = split_of_speaker(utterance.speaker)
            chosen.append((split, utterance))
    tasks = []
    for split in SPLITS:
        items = [(u, split, f"{split}_rec{i:05d}") for i, (s, u) in enumerate(x for x in chosen if x[0] == split)]
        tasks += [(split, out_dir, chunk) for chunk in chunks(items, 64)]
    return tasks


def _write_noise(out_dir: Path) -> dict[str, list[dict]]:
    """Each recorded noise clip cut in time into disjoint train / valid / test parts."""
    rows = {split: [] for split in SPLITS}
    for index, clip in enumerate(find_noise_clips()):
        wave = read_audio(clip, SAMPLE_RATE, channel=0)[0]
        edges = np.round(np.cumsum([0, *NOISE_SPLIT_FRACTIONS]) * len(wave)).astype(int)
        for split, start, stop in zip(SPLITS, edges[:-1], edges[1:]):
            name = f"{split}_noise{index:03d}"
            write_audio(out_dir / "noise" / split / f"{name}.wav", wave[start:stop], SAMPLE_RATE)
            rows[split].append({"path": f"{split}/{name}.wav", "source": clip.name,
                                "duration_s": f"{(stop - start) / SAMPLE_RATE:.4f}"})
    return rows


# ---------------------------------------------------------------- rooms
def room_id(split: str, index: int) -> str:
    return f"{split}_room{index:05d}"


def _simulate_rooms(context: tuple, indices: range) -> list[dict]:
    out_dir, seed, split = context
    rows = []
    for index in indices:
        room, rir = random_room_rir([*_seed_words(seed, "rooms", split), index], SAMPLE_RATE)
        name = room_id(split, index)
        write_audio(out_dir / "rirs" / split / f"{name}.wav", rir, SAMPLE_RATE, subtype=f"PCM_{RIR_BITS}")
        rows.append({"path": f"{split}/{name}.wav", "room": name, "t60_s": f"{room['t60_s']:.6f}",
                     **{k: _text(v) for k, v in room.items() if k not in ("t60_s", "t60_wanted_s", "t60_predicted_s")}})
    return rows


def _text(value) -> str:
    if isinstance(value, (list, tuple)):
        return " ".join(_text(v) for v in value)
    return f"{value:.4f}" if isinstance(value, float) else str(value)


# ---------------------------------------------------------------- orchestration
def _run_stage(pool, worker, tasks: list[tuple], desc: str) -> dict[str, list[dict]]:
    """worker(context, group) for every (split, context, group) task (slowest first); each split's rows
    sorted by file path."""
    rows = {split: [] for split, _, _ in tasks}
    for (split, _, _), group_rows in zip(tasks, run_chunks(pool, worker, [task[1:] for task in tasks], desc)):
        rows[split] += group_rows
    return {split: sorted(split_rows, key=lambda row: row["path"]) for split, split_rows in rows.items()}


def _settings(scale: str, seed: int) -> dict:
    if scale not in SCALES:
        raise ValueError(f"unknown corpus scale {scale!r}; choose one of {', '.join(SCALES)}")
    sizes = SCALES[scale]
    return _without_off_options({
        "scale": scale, "seed": seed,
        "sizes": {k: (v._asdict() if isinstance(v, tuple) else v) for k, v in asdict(sizes).items()},
        "options": {"sample_rate": SAMPLE_RATE, "t60_range_s": T60_RANGE_S, "test_mixture_s": TEST_MIXTURE_S,
                    "t60_draw": asdict(T60Draw()), "mixture_draw": asdict(MixtureDraw())}})


def _without_off_options(value):
    """`value` without its dict entries that are None, at any depth: an option that is off makes nothing, so
    one added later does not make older corpora look different (nor do records that list it as off)."""
    if isinstance(value, dict):
        return {key: _without_off_options(item) for key, item in value.items() if item is not None}
    return value


def _is_made(out_dir: Path, settings: dict) -> bool:
    """True when `out_dir` holds a complete corpus made with these settings."""
    record = out_dir / "corpus.json"
    if not record.is_file():
        return False
    stored = _without_off_options(json.loads(record.read_text()))
    return {key: stored.get(key) for key in settings} == json.loads(json.dumps(settings))


def _write_manifests(out_dir: Path, folder: str, rows: dict[str, list[dict]]) -> None:
    for split, split_rows in rows.items():
        if split_rows:
            write_manifest(out_dir / folder / f"{split}.csv", split_rows)


def _speech_tasks(out_dir: Path, seed: int, sizes: CorpusSizes) -> list[tuple]:
    tasks = []
    for split in SPLITS:
        plans = [plan_utterance(_seed_words(seed, "speech", split), split, i)
                 for i in range(getattr(sizes.utterances, split))]
        tasks += [(split, (out_dir, split), group) for group in speech_groups(plans)]
    return tasks


def _room_tasks(out_dir: Path, seed: int, sizes: CorpusSizes) -> list[tuple]:
    return [(split, (out_dir, seed, split), chunk) for split in SPLITS
            for chunk in chunks(range(getattr(sizes.rooms, split)), 16)]


def _generate(pool, out_dir: Path, settings: dict) -> dict:
    """The pools, then the fixed sets drawn from them; a stage's manifests are written after all its audio."""
    seed, sizes = settings["seed"], SCALES[settings["scale"]]
    _write_manifests(out_dir, "speech", _run_stage(pool, speak_group, _speech_tasks(out_dir, seed, sizes), "speech"))
    recorded = _run_stage(pool, _convert_recorded, _recorded_tasks(out_dir, sizes.recorded_per_speaker),
                          "recorded speech")
    _write_manifests(out_dir, "recorded", recorded)
    _write_manifests(out_dir, "noise", _write_noise(out_dir))
    _write_manifests(out_dir, "rirs", _run_stage(pool, _simulate_rooms, _room_tasks(out_dir, seed, sizes), "rirs"))
    counts = {}
    for split in ("valid", "test"):
        pools = Pools.load(out_dir, split, SAMPLE_RATE)
        write_t60_set(pools, out_dir, split, getattr(sizes.t60_examples, split), _seed_words(seed, "t60", split))
        write_mixture_set(pools, out_dir, split, getattr(sizes.mixtures, split), _seed_words(seed, "mixtures", split),
                          TEST_MIXTURE_S)
        counts[split] = {"t60_examples": getattr(sizes.t60_examples, split),
                         "mixtures": getattr(sizes.mixtures, split)}
    for split in SPLITS:
        speakers = {row["voice"]: row["kind"] for folder in ("speech", "recorded")
                    if (out_dir / folder / f"{split}.csv").is_file()
                    for row in read_manifest(out_dir / folder / f"{split}.csv", check_files=False)}
        counts.setdefault(split, {}).update(
            tts_voices=sum(k == "tts" for k in speakers.values()),
            recorded_speakers=sum(k == "recorded" for k in speakers.values()),
            recorded_utterances=len(recorded.get(split, [])), rooms=getattr(sizes.rooms, split))
    return counts


def make_default_corpus(out_dir="data/default", scale: str = "small", seed: int = 0, workers: int | None = None,
                        overwrite: bool = False) -> dict:
    """Make the default corpus's pools and fixed sets in `out_dir` and return its corpus.json record.

    `scale` is a key of SCALES; `workers` processes (default: all CPUs) never change the output. An
    existing complete corpus with the same settings is kept as is (skipped) unless `overwrite`; anything
    else already in `out_dir` raises FileExistsError unless `overwrite`, which regenerates in any case.
    """
    out_dir = Path(out_dir)
    settings = _settings(scale, seed)
    if not overwrite and _is_made(out_dir, settings):
        return json.loads((out_dir / "corpus.json").read_text())
    clear_output(out_dir, OUTPUT_NAMES, overwrite, "an older or unfinished corpus")
    require_engines()
    with process_pool(workers or os.cpu_count() or 1) as pool:
        counts = _generate(pool, out_dir, settings)
    versions = {**software_versions(np, scipy, pyroomacoustics, soundfile), **engine_versions()}
    record = {**settings, "counts": counts, "versions": versions}
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
    """Counts per split and the measured-T60 histogram of each split's rooms, as text."""
    out_dir = Path(out_dir)
    record = json.loads((out_dir / "corpus.json").read_text())
    lines = [f"default corpus in {out_dir}: scale {record['scale']}, seed {record['seed']}"]
    for split in SPLITS:
        counts = record["counts"][split]
        t60_s = [float(row["t60_s"]) for row in read_manifest(out_dir / "rirs" / f"{split}.csv", check_files=False)]
        fixed = (f", fixed sets: {counts['t60_examples']} T60 items, {counts['mixtures']} mixtures in "
                 f"lrs2mix/{MIXTURE_SPLITS[split]}" if split != "train" else " (training items are drawn on the fly)")
        lines.append(f"{split}: {counts['tts_voices']} synthetic voices, {counts['recorded_speakers']} recorded "
                     f"speakers ({counts['recorded_utterances']} utterances), {counts['rooms']} rooms "
                     f"(T60 {min(t60_s):.3f}-{max(t60_s):.3f} s){fixed}")
        lines.append(t60_histogram(t60_s))
    return "\n".join(lines)
