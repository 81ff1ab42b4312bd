"""Real corpora for AWSSDR: the reverberant training sets built from speech, measured RIRs and noise
recordings (the paper's sets 1 and 2), and the ACE challenge single-channel evaluation set.

The training sets are rebuilt exactly from `OUT/prepare.json` (seed and options) and the source folders:
example `index` draws everything from `np.random.default_rng([seed, index])`.
"""
import csv
import io
import json
import platform
import re
import shutil
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import scipy
import soundfile
import torch
from scipy.signal import fftconvolve

from speechkit.audio import read_audio, write_audio
from speechkit.corpus.noise import mix_at_snr, tpdf_dither
from speechkit.corpus.rooms import T60MeasurementError, measure_t60
from speechkit.manifest import write_manifest
from speechkit.progress import progress as progress_bar

from .evaluation import error_statistics
from .dataset import feature_cache_file, save_features
from .features import SDRParams, spectral_decay_rates

SAMPLE_RATE = 16000
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".sph", ".aif", ".aiff")  # TIMIT's NIST .WAV files read as .wav
PEAK_RANGE = (0.3, 0.9)  # the peak level of an example is drawn from this range, as in the default corpus
SPLITS = ("train", "valid")
OUTPUT_NAMES = ("audio", "rirs.csv", "prepare.json", "train.csv", "valid.csv")
EXAMPLE_COLUMNS = ["path", "t60_s", "snr_db", "noise", "rir", "speech", "rir_path", "noise_path", "speech_path"]


class CorpusError(ValueError):
    """Source folders or files that cannot make a corpus; the message names them and says what to do."""


@dataclass
class TrainsetOptions:
    """Everything that decides the content of a prepared training set (stored in prepare.json)."""
    speech_dirs: list[str]
    rir_dir: str
    noise_dir: str
    snr_db: list[float] = field(default_factory=lambda: [0.0, 10.0, 20.0])
    valid_fraction: float = 0.05
    seed: int = 0
    decay_db: float = 30.0
    skip_bad_rirs: bool = False


# ---------------------------------------------------------------- source files
def audio_files(folder) -> list[Path]:
    """Audio files anywhere under `folder`, sorted by relative path (so the order is the same on every machine)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CorpusError(f"not a folder: {folder}")
    files = sorted((p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES),
                   key=lambda p: p.relative_to(folder).as_posix())
    if not files:
        raise CorpusError(f"{folder}: no audio files ({', '.join(AUDIO_SUFFIXES)}) found in this folder tree")
    return files


def label_rirs(rir_dir, decay_db: float, skip_bad: bool, progress: bool = True) -> tuple[list[dict], list[dict]]:
    """Fullband T60 of every RIR, measured once at its own rate (first channel); returns (labelled, skipped).

    An RIR whose Schroeder decay does not cover the fit range is an error naming the file, or with
    `skip_bad` a warning and an entry in `skipped`."""
    labelled, skipped = [], []
    for path in progress_bar(audio_files(rir_dir), "measuring RIR T60s", enabled=progress):
        rir, rate = read_audio(path, channel=0)
        try:
            labelled.append({"path": path.resolve(), "t60_s": measure_t60(rir.astype(np.float64), rate, decay_db)})
        except T60MeasurementError as err:
            if not skip_bad:
                raise CorpusError(f"{path}: cannot measure its T60 over {decay_db:g} dB: {err}. Remove the file, "
                                  f"use --decay-db 20, or pass --skip-bad-rirs to leave such RIRs out") from err
            warnings.warn(f"skipping RIR {path}: {err}")
            skipped.append({"path": str(path.resolve()), "reason": str(err)})
    if not labelled:
        raise CorpusError(f"{rir_dir}: no RIR with a measurable T60")
    return labelled, skipped


def held_out(count: int, valid_fraction: float, seed_words: list[int]) -> np.ndarray:
    """A boolean mask of the `valid_fraction` of `count` items (at least one, never all) held out for validation."""
    if count < 2:
        raise CorpusError(f"need at least 2 items to hold some out for validation, got {count}")
    n_valid = min(max(1, round(valid_fraction * count)), count - 1)
    mask = np.zeros(count, dtype=bool)
    mask[np.random.default_rng(seed_words).permutation(count)[:n_valid]] = True
    return mask


def split_rirs(count: int, valid_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """RIR indices per split: validation RIRs are never used in training."""
    valid = held_out(count, valid_fraction, [seed])
    return {"train": np.flatnonzero(~valid), "valid": np.flatnonzero(valid)}


# ---------------------------------------------------------------- one example
class Sources:
    """Source files and RIR labels, with each RIR and noise recording read (at 16 kHz) once."""

    def __init__(self, options: TrainsetOptions, rirs: list[dict]):
        found = [(Path(folder), p) for folder in options.speech_dirs for p in audio_files(folder)]
        self.speech = [p.resolve() for _, p in found]
        self.speech_names = [p.relative_to(folder).as_posix() for folder, p in found]  # TIMIT names repeat per speaker
        self.noise = [p.resolve() for p in audio_files(options.noise_dir)]
        self.rirs = rirs
        self._waves: dict[Path, np.ndarray] = {}

    def wave(self, path: Path) -> np.ndarray:
        if path not in self._waves:
            self._waves[path] = read_audio(path, sample_rate=SAMPLE_RATE, channel=0)[0].astype(np.float64)
        return self._waves[path]


def noise_segment(noise: np.ndarray, num_samples: int, rng: np.random.Generator) -> np.ndarray:
    """A random stretch of `num_samples` of a recording, looped when the recording is shorter."""
    if len(noise) < num_samples:
        noise = np.tile(noise, num_samples // len(noise) + 1)
    start = int(rng.integers(len(noise) - num_samples + 1))
    return noise[start:start + num_samples]


def make_example(sources: Sources, options: TrainsetOptions, index: int, rir_pool: np.ndarray):
    """Example `index`: speech file `index` convolved with a drawn RIR (full tail kept), plus a noise segment
    at a drawn SNR, at a drawn peak level, with 1-LSB TPDF dither. Returns (wave, row without `path`)."""
    rng = np.random.default_rng([options.seed, index])
    rir = sources.rirs[int(rng.choice(rir_pool))]
    noise_path = sources.noise[int(rng.integers(len(sources.noise)))]
    snr_db = float(options.snr_db[int(rng.integers(len(options.snr_db)))])
    wet = fftconvolve(sources.wave(sources.speech[index]), sources.wave(rir["path"]))
    wave = mix_at_snr(wet, noise_segment(sources.wave(noise_path), len(wet), rng), snr_db).astype(np.float64)
    wave *= rng.uniform(*PEAK_RANGE) / np.max(np.abs(wave))
    wave += tpdf_dither(len(wave), rng)
    row = {"t60_s": rir["t60_s"], "snr_db": f"{snr_db:g}", "noise": noise_path.stem, "rir": rir["path"].name,
           "speech": sources.speech_names[index], "rir_path": rir["path"], "noise_path": noise_path,
           "speech_path": sources.speech[index]}
    return wave.astype(np.float32), row


def pcm16_features(wave: np.ndarray, params: SDRParams) -> torch.Tensor:
    """The SDRs T60Dataset would compute from `wave` written as a PCM_16 WAV file (same bytes, same floats)."""
    buffer = io.BytesIO()
    soundfile.write(buffer, wave, SAMPLE_RATE, subtype="PCM_16", format="WAV")
    buffer.seek(0)
    stored, _ = soundfile.read(buffer, dtype="float32")
    sdr = spectral_decay_rates(stored.astype("float64"), **asdict(params))
    return torch.from_numpy(sdr).float()


# ---------------------------------------------------------------- the whole set
def prepare_trainset(options: TrainsetOptions, out_dir, features_only: bool = False, cache_dir="data/cache/sdr",
                     params: SDRParams | None = None, overwrite: bool = False, progress: bool = True) -> dict:
    """Build the set in `out_dir` (audio, or only the SDR cache with `features_only`); returns the summary.

    `train.csv`/`valid.csv` are renamed into place last, so an interrupted run leaves no complete-looking set."""
    out_dir = Path(out_dir)
    _clear_output(out_dir, overwrite)
    rirs, skipped = label_rirs(options.rir_dir, options.decay_db, options.skip_bad_rirs, progress)
    sources = Sources(options, rirs)
    pools = split_rirs(len(rirs), options.valid_fraction, options.seed)
    rows = {split: [] for split in SPLITS}
    features = {split: [] for split in SPLITS}
    params = params or SDRParams()
    valid = held_out(len(sources.speech), options.valid_fraction, [options.seed, len(sources.speech)])
    for index in progress_bar(range(len(sources.speech)), f"making {out_dir.name}", enabled=progress):
        split = "valid" if valid[index] else "train"
        wave, row = make_example(sources, options, index, pools[split])
        path = out_dir / "audio" / split / f"{split}_{index:06d}.wav"
        if features_only:
            features[split].append(pcm16_features(wave, params))
        else:
            write_audio(path, wave, SAMPLE_RATE)
        rows[split].append({"path": path.resolve(), **row})
    write_manifest(out_dir / "rirs.csv", rirs, ["path", "t60_s"])
    summary = {"options": asdict(options), "features_only": features_only, "examples": {s: len(rows[s]) for s in SPLITS},
               "rirs": {s: len(pools[s]) for s in SPLITS}, "skipped_rirs": skipped, "versions": _versions()}
    if features_only:
        summary["feature_cache"] = {"dir": str(cache_dir), "params": asdict(params)}
    (out_dir / "prepare.json").write_text(json.dumps(summary, indent=2) + "\n")
    _commit_manifests(out_dir, rows, features if features_only else None, Path(cache_dir), params)
    return summary


def _clear_output(out_dir: Path, overwrite: bool) -> None:
    """Refuse a non-empty `out_dir` unless `overwrite`; then remove only what a preparation writes there."""
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{out_dir} is not empty; pass --overwrite to replace a prepared set there, "
                                  f"or choose another --out")
        for name in OUTPUT_NAMES + tuple(f"{s}.staged.csv" for s in SPLITS):
            target = out_dir / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)


def _commit_manifests(out_dir: Path, rows: dict, features: dict | None, cache_dir: Path, params: SDRParams) -> None:
    """Write each manifest beside its final name (same folder, so the same bytes), save the feature cache
    keyed on those bytes as T60Dataset names it, then rename all manifests into place."""
    staged = {split: out_dir / f"{split}.staged.csv" for split in SPLITS}
    try:
        for split in SPLITS:
            write_manifest(staged[split], rows[split], EXAMPLE_COLUMNS)
            if features is not None:
                save_features(features[split], feature_cache_file(staged[split], params, cache_dir, stem=split))
        for split in SPLITS:
            staged[split].replace(out_dir / f"{split}.csv")
    finally:
        for path in staged.values():
            path.unlink(missing_ok=True)


def _versions() -> dict:
    return {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__,
            "soundfile": soundfile.__version__}


# ---------------------------------------------------------------- ACE challenge
# Fullband T60 per `<Room>_<config>` hard-coded in the authors' evaluation scripts (reference README,
# "ACE challenge ground truth used by the authors").
ACE_T60_S = {
    "eval": {"Lecture_Room_1_1": 0.6570, "Lecture_Room_1_2": 0.6950, "Lecture_Room_2_1": 1.3801,
             "Lecture_Room_2_2": 1.3485, "Meeting_Room_1_1": 0.4671, "Meeting_Room_1_2": 0.4648,
             "Meeting_Room_2_1": 0.4148, "Meeting_Room_2_2": 0.4071, "Office_2_1": 0.4305, "Office_2_2": 0.4217},
    "dev": {"Building_Lobby_1": 0.8667, "Building_Lobby_2": 0.8218, "Office_1_1": 0.3811, "Office_1_2": 0.3244},
}

# Matched against each .wav path relative to --ace (POSIX separators), anywhere in the path:
#   .../<room>/<config>/[more folders/]<anything>_<talker>_<anything>_<noise>_<snr>dB.wav
# room: a folder such as Lecture_Room_1 or Building_Lobby; config: the folder below it, 1 or 2 (the
# microphone configuration); talker: a token like F1 or M3; noise: a word such as Ambient, Babble, Fan;
# snr: a signed number followed by "dB". Example: Speech/Single/Lecture_Room_1/1/Single_508_1_F1_Ambient_10dB.wav.
# The exact ACE naming was not available when this was written; pass --pattern with the same named groups
# if your copy differs.
ACE_PATH_PATTERN = (r"(?:^|/)(?P<room>[A-Za-z][A-Za-z0-9_]*?)/(?P<config>[12])/(?:[^/]+/)*"
                    r"(?:[^/]*_)?(?P<talker>[FM]\d+)_(?:[^/]*_)?(?P<noise>[A-Za-z]+)_(?P<snr>-?\d+(?:\.\d+)?)dB\.wav$")
ACE_GROUPS = ("room", "config", "talker", "noise", "snr")


def ace_labels(split: str, labels_csv=None) -> dict[str, float]:
    """room_config -> T60 (s): the authors' table for `split`, overridden by a CSV with room_config,t60_s."""
    if split not in ACE_T60_S:
        raise CorpusError(f"unknown ACE split {split!r}; expected one of {', '.join(ACE_T60_S)}")
    labels = dict(ACE_T60_S[split])
    if labels_csv is not None:
        with open(labels_csv, newline="") as f:
            reader = csv.DictReader(f)
            if not {"room_config", "t60_s"} <= set(reader.fieldnames or []):
                raise CorpusError(f"{labels_csv}: needs columns room_config,t60_s (has: {reader.fieldnames})")
            labels.update({row["room_config"]: float(row["t60_s"]) for row in reader})
    return labels


def parse_ace_path(relative: str, pattern: re.Pattern) -> dict | None:
    """Fields of one ACE speech file from its relative path, or None when the pattern does not match."""
    match = pattern.search(relative)
    if match is None:
        return None
    fields = match.groupdict()
    return {"room": fields["room"], "config": fields["config"], "talker": fields["talker"],
            "noise": fields["noise"], "snr_db": fields["snr"]}


def prepare_ace(ace_dir, out_dir, split: str = "eval", labels_csv=None, pattern: str = ACE_PATH_PATTERN) -> Path:
    """Write `out_dir/<split>.csv` (path, t60_s, snr_db, noise, room, config, talker) for the ACE speech files
    under `ace_dir` whose room_config has a T60; errors list unparsable names and rooms without a label."""
    ace_dir, regex = Path(ace_dir), re.compile(pattern)
    missing_groups = [g for g in ACE_GROUPS if g not in regex.groupindex]
    if missing_groups:
        raise CorpusError(f"pattern {pattern!r} lacks the named group(s) {', '.join(missing_groups)}")
    labels = ace_labels(split, labels_csv)
    files = [p for p in audio_files(ace_dir) if p.suffix.lower() == ".wav"]
    rows, unparsable, unlabelled = [], [], set()
    for path in files:
        fields = parse_ace_path(path.relative_to(ace_dir).as_posix(), regex)
        if fields is None:
            unparsable.append(str(path.relative_to(ace_dir)))
            continue
        room_config = f"{fields['room']}_{fields['config']}"
        if room_config not in labels:
            unlabelled.add(room_config)
            continue
        rows.append({"path": path.resolve(), "t60_s": labels[room_config], **fields})
    if unparsable:
        raise CorpusError(f"{ace_dir}: {len(unparsable)} file name(s) do not match the ACE pattern {pattern!r}, "
                          f"e.g. {', '.join(unparsable[:5])}; pass --pattern with named groups {ACE_GROUPS}")
    if unlabelled:
        raise CorpusError(f"{ace_dir}: no {split} T60 for room_config {', '.join(sorted(unlabelled))}; known: "
                          f"{', '.join(labels)}. Use --split dev/eval or give them in --labels CSV")
    out = Path(out_dir) / f"{split}.csv"
    write_manifest(out, rows, ["path", "t60_s", "snr_db", "noise", "room", "config", "talker"])
    return out


def ace_breakdown(per_utterance_rows: list[dict]) -> dict:
    """Error statistics per room_config, per noise type and per noise type and SNR, from the rows of an
    evaluation's per_utterance.csv (they need t60_s, t60_estimate_s, room, config, noise, snr_db)."""
    truth = np.array([float(r["t60_s"]) for r in per_utterance_rows])
    estimate = np.array([float(r["t60_estimate_s"]) for r in per_utterance_rows])
    keys = {"per_room_config": [f"{r['room']}_{r['config']}" for r in per_utterance_rows],
            "per_noise": [r["noise"] for r in per_utterance_rows],
            "per_noise_snr_db": [f"{r['noise']}_{r['snr_db']}dB" for r in per_utterance_rows]}
    breakdown = {}
    for name, values in keys.items():
        values = np.array(values)
        breakdown[name] = {v: error_statistics(estimate[values == v], truth[values == v]) for v in sorted(set(values))}
    return breakdown
