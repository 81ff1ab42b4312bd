"""Real corpora for AWSSDR: the reverberant training sets built from speech, measured RIRs and noise
recordings (the paper's sets 1 and 2), and the ACE challenge single-channel evaluation set.

The training sets are rebuilt exactly from `OUT/prepare.json` (seed and options) and the source folders:
the plan (which speech file and RIR each example uses) comes from the seed and the file counts, and
example `index` draws its noise, SNR and level from `np.random.default_rng([seed, index])`.
"""
import csv
import io
import json
import re
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import scipy
import scipy.io
import soundfile
import torch
from scipy.signal import fftconvolve

from speechkit.audio import AUDIO_SUFFIXES, find_audio_files, read_audio, resample, write_audio
from speechkit.corpus.building import chunks, clear_output, process_pool, run_chunks, software_versions
from speechkit.corpus.noise import mix_at_snr, normalise_and_dither, random_crop
from speechkit.corpus.rooms import T60MeasurementError, measure_t60
from speechkit.errors import UserError
from speechkit.manifest import write_manifest
from speechkit.progress import progress as progress_bar

from .dataset import feature_cache_file, save_features
from .features import SDRParams, spectral_decay_rates

SAMPLE_RATE = 16000
RIR_SUFFIXES = AUDIO_SUFFIXES + (".mat",)  # .mat: the Aachen AIR database's own format
CHUNK = 64  # examples per task when several worker processes prepare a set
PEAK_RANGE = (0.3, 0.9)  # the peak level of an example is drawn from this range, as in the default corpus
SPLITS = ("train", "valid")
OUTPUT_NAMES = ("audio", "rirs.csv", "prepare.json", "train.csv", "valid.csv")
EXAMPLE_COLUMNS = ["path", "t60_s", "snr_db", "noise", "rir", "speech", "rir_path", "noise_path", "speech_path"]


class CorpusError(UserError, ValueError):
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
    # None: one example per speech file, with a drawn RIR. N: N examples per RIR with drawn speech files,
    # every file used about equally often (the paper's sets: 538 RIRs x 54 = 29,052 and x 108 = 58,104).
    examples_per_rir: int | None = None


# ---------------------------------------------------------------- source files
def audio_files(folder, suffixes=AUDIO_SUFFIXES) -> list[Path]:
    """Audio files anywhere under `folder` in a machine-independent order; an error when there are none."""
    try:
        files = find_audio_files(folder, suffixes)
    except FileNotFoundError as err:
        raise CorpusError(str(err)) from err
    if not files:
        raise CorpusError(f"{folder}: no audio files ({', '.join(suffixes)}) found in this folder tree")
    return files


def read_rir(path: Path) -> tuple[np.ndarray, int]:
    """First channel of an RIR file as float64, with its rate: any audio file, or an Aachen AIR `.mat`
    file (variables `h_air` and `air_info.fs`)."""
    if path.suffix.lower() != ".mat":
        rir, rate = read_audio(path, channel=0)
        return rir.astype(np.float64), rate
    try:
        variables = scipy.io.loadmat(path)
        rate = int(np.asarray(variables["air_info"]["fs"][0, 0]).item())
        h_air = np.atleast_2d(np.asarray(variables["h_air"], dtype=np.float64))
    except (KeyError, IndexError, ValueError, TypeError, OSError) as err:
        raise CorpusError(f"{path}: not an AIR-format .mat RIR (needs h_air and air_info.fs): {err!r}") from err
    rir = h_air[0] if h_air.shape[0] <= h_air.shape[1] else h_air[:, 0]  # (channels, samples) or the transpose
    if not len(rir) or not np.isfinite(rir).all():
        raise CorpusError(f"{path}: h_air is empty or holds non-finite values")
    return np.ascontiguousarray(rir), rate


def label_rirs(rir_dir, decay_db: float, skip_bad: bool, progress: bool = True) -> tuple[list[dict], list[dict]]:
    """Fullband T60 of every RIR, measured once at its own rate (first channel); returns (labelled, skipped).

    An RIR whose Schroeder decay does not cover the fit range is an error naming the file, or with
    `skip_bad` a warning and an entry in `skipped`."""
    labelled, skipped = [], []
    for path in progress_bar(audio_files(rir_dir, RIR_SUFFIXES), "measuring RIR T60s", enabled=progress):
        try:
            labelled.append({"path": path.resolve(), "t60_s": measure_t60(*read_rir(path), decay_db)})
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


@dataclass(frozen=True)
class PlannedExample:
    split: str
    speech: int  # index into Sources.speech
    rir: int  # index into the labelled RIRs


def plan_examples(options: TrainsetOptions, n_speech: int, n_rirs: int) -> list[PlannedExample]:
    """Which speech file and RIR every example uses. Validation examples use held-out speech files and
    held-out RIRs only; the plan depends on the seed and the two counts, nothing else."""
    if options.examples_per_rir is not None and options.examples_per_rir < 1:
        raise CorpusError(f"examples_per_rir must be at least 1, got {options.examples_per_rir}")
    rng = np.random.default_rng([options.seed, n_speech, n_rirs])
    valid_rirs = held_out(n_rirs, options.valid_fraction, [options.seed])
    valid_speech = held_out(n_speech, options.valid_fraction, [options.seed, n_speech])
    plan = []
    for split in SPLITS:
        rirs = np.flatnonzero(valid_rirs == (split == "valid"))
        speech = np.flatnonzero(valid_speech == (split == "valid"))
        if options.examples_per_rir is None:
            plan += [PlannedExample(split, int(i), int(rng.choice(rirs))) for i in speech]
            continue
        count = len(rirs) * options.examples_per_rir
        shuffled = np.concatenate([rng.permutation(speech) for _ in range(-(-count // len(speech)))])
        plan += [PlannedExample(split, int(shuffled[k]), int(rirs[k // options.examples_per_rir]))
                 for k in range(count)]
    return plan


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

    def rir(self, path: Path) -> np.ndarray:
        if path not in self._waves:
            rir, rate = read_rir(path)
            self._waves[path] = resample(rir, rate, SAMPLE_RATE)
        return self._waves[path]


def make_example(sources: Sources, options: TrainsetOptions, index: int, planned: PlannedExample):
    """Example `index`: its planned speech file convolved with its planned RIR (full tail kept), plus a noise
    segment at a drawn SNR, at a drawn peak level, with 1-LSB TPDF dither. Returns (wave, row without `path`)."""
    rng = np.random.default_rng([options.seed, index])
    rir = sources.rirs[planned.rir]
    noise_path = sources.noise[int(rng.integers(len(sources.noise)))]
    snr_db = float(options.snr_db[int(rng.integers(len(options.snr_db)))])
    wet = fftconvolve(sources.wave(sources.speech[planned.speech]), sources.rir(rir["path"]))
    noise = random_crop(sources.wave(noise_path), len(wet), rng, loop=True)
    wave = normalise_and_dither(mix_at_snr(wet, noise, snr_db).astype(np.float64), PEAK_RANGE, rng)
    row = {"t60_s": rir["t60_s"], "snr_db": f"{snr_db:g}", "noise": noise_path.stem, "rir": rir["path"].name,
           "speech": sources.speech_names[planned.speech], "rir_path": rir["path"], "noise_path": noise_path,
           "speech_path": sources.speech[planned.speech]}
    return wave, row


def pcm16_features(wave: np.ndarray, params: SDRParams) -> torch.Tensor:
    """The SDRs T60Dataset would compute from `wave` written as a PCM_16 WAV file (same bytes, same floats)."""
    buffer = io.BytesIO()
    soundfile.write(buffer, wave, SAMPLE_RATE, subtype="PCM_16", format="WAV")
    buffer.seek(0)
    stored, _ = soundfile.read(buffer, dtype="float32")
    sdr = spectral_decay_rates(stored.astype("float64"), params)
    return torch.from_numpy(sdr).float()


@dataclass
class ExampleMaker:
    """Makes examples by index: writes each one's audio (or computes its features) and returns its rows.

    One of these lives in every worker process; an example depends only on its planned sources and on
    (seed, index), never on which process made it or in which order."""
    sources: Sources
    options: TrainsetOptions
    out_dir: Path
    plan: list[PlannedExample]
    params: SDRParams
    features_only: bool

    def __call__(self, indices: range) -> list[tuple[str, dict, torch.Tensor | None]]:
        made = []
        for index in indices:
            split = self.plan[index].split
            wave, row = make_example(self.sources, self.options, index, self.plan[index])
            path = self.out_dir / "audio" / split / f"{split}_{index:06d}.wav"
            if self.features_only:
                features = pcm16_features(wave, self.params)
            else:
                features = None
                write_audio(path, wave, SAMPLE_RATE)
            made.append((split, {"path": path.resolve(), **row}, features))
        return made


_worker_maker: ExampleMaker | None = None  # set in each worker process by _start_worker


def _start_worker(maker: ExampleMaker) -> None:
    global _worker_maker
    torch.set_num_threads(1)
    _worker_maker = maker


def _make_in_worker(indices: range) -> list:
    return _worker_maker(indices)


def make_examples(maker: ExampleMaker, count: int, workers: int, desc: str, progress: bool) -> list:
    """(split, row, features) of examples 0..count-1, in index order, made by `workers` processes."""
    with process_pool(workers, _start_worker, (maker,)) as pool:
        tasks = [(chunk,) for chunk in chunks(range(count), CHUNK)]
        results = run_chunks(pool, _make_in_worker if pool is not None else maker, tasks, desc, progress)
    return [made for result in results for made in result]


# ---------------------------------------------------------------- the whole set
def prepare_trainset(options: TrainsetOptions, out_dir, features_only: bool = False, cache_dir="data/cache/sdr",
                     params: SDRParams | None = None, overwrite: bool = False, progress: bool = True,
                     workers: int = 1) -> dict:
    """Build the set in `out_dir` (audio, or only the SDR cache with `features_only`); returns the summary.

    The output is the same for any number of `workers`. `train.csv`/`valid.csv` are renamed into place
    last, so an interrupted or failed run leaves no complete-looking set."""
    out_dir = Path(out_dir)
    clear_output(out_dir, OUTPUT_NAMES + tuple(f"{s}.staged.csv" for s in SPLITS), overwrite, "a prepared set")
    rirs, skipped = label_rirs(options.rir_dir, options.decay_db, options.skip_bad_rirs, progress)
    sources = Sources(options, rirs)
    plan = plan_examples(options, len(sources.speech), len(rirs))
    params = params or SDRParams()
    maker = ExampleMaker(sources, options, out_dir, plan, params, features_only)
    rows = {split: [] for split in SPLITS}
    features = {split: [] for split in SPLITS}
    for split, row, feature in make_examples(maker, len(plan), workers, f"making {out_dir.name}", progress):
        rows[split].append(row)
        features[split].append(feature)
    write_manifest(out_dir / "rirs.csv", rirs, ["path", "t60_s"])
    summary = {"options": asdict(options), "features_only": features_only,
               "examples": {s: len(rows[s]) for s in SPLITS},
               "rirs_used": {s: len({e.rir for e in plan if e.split == s}) for s in SPLITS},
               "skipped_rirs": skipped, "versions": software_versions(np, scipy, soundfile)}
    if features_only:
        summary["feature_cache"] = {"dir": str(cache_dir), "params": asdict(params)}
    (out_dir / "prepare.json").write_text(json.dumps(summary, indent=2) + "\n")
    _commit_manifests(out_dir, rows, features if features_only else None, Path(cache_dir), params)
    return summary


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


# ---------------------------------------------------------------- ACE challenge
# Fullband T60 per `<Room>_<config>` hard-coded in the authors' evaluation scripts (reference README,
# "ACE challenge ground truth used by the authors").
ACE_T60_S = {
    "eval": {"Lecture_Room_1_1": 0.6570, "Lecture_Room_1_2": 0.6950, "Lecture_Room_2_1": 1.3801,
             "Lecture_Room_2_2": 1.3485, "Meeting_Room_1_1": 0.4671, "Meeting_Room_1_2": 0.4648,
             "Meeting_Room_2_1": 0.4148, "Meeting_Room_2_2": 0.4071, "Office_2_1": 0.4305, "Office_2_2": 0.4217},
    "dev": {"Building_Lobby_1": 0.8667, "Building_Lobby_2": 0.8218, "Office_1_1": 0.3811, "Office_1_2": 0.3244},
}

# Matched against each file name. The ACE speech files are named
#   <mic>_<room>_<config>_<talker>_<utterance>_<noise>_<snr>dB.wav
# e.g. Single_Lecture_Room_1_2_M3_s2_Babble_12dB.wav: mic configuration (Single, Chromebook, Mobile, ...),
# room (Lecture_Room_1, Office_2, Building_Lobby, ...), microphone position 1 or 2, talker (F1, M3, ...),
# utterance (s1..s5), noise type (Ambient, Babble, Fan) and SNR in dB. This is the field order the authors'
# evaluation script reads from its utterance ids (talker, utterance, noise, SNR counted from the end) and
# the name other public ACE loaders rebuild from the corpus's CSV columns (Mic config, Room, Room config,
# Talker, Utterance, Noise, SNR); it was not checked against a copy of the corpus here. If your copy is
# named otherwise, pass --pattern with the named groups room, config, talker, noise, snr (mic, utterance
# optional).
ACE_NAME_PATTERN = (r"^(?P<mic>[A-Za-z0-9]+)_(?P<room>[A-Za-z][A-Za-z0-9_]*?)_(?P<config>\d+)_(?P<talker>[^_]+)_"
                    r"(?P<utterance>s\d+)_(?P<noise>[A-Za-z]+)_(?P<snr>[-+]?\d+(?:\.\d+)?)dB\.wav$")
ACE_GROUPS = ("room", "config", "talker", "noise", "snr")
ACE_COLUMNS = ["path", "t60_s", "snr_db", "noise", "room", "config", "room_config", "talker", "utterance", "mic"]


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


def parse_ace_name(name: str, pattern: re.Pattern) -> dict | None:
    """Fields of one ACE speech file from its file name, or None when the pattern does not match."""
    match = pattern.search(name)
    if match is None:
        return None
    fields = match.groupdict()
    return {"room": fields["room"], "config": fields["config"], "room_config": f"{fields['room']}_{fields['config']}",
            "talker": fields["talker"], "utterance": fields.get("utterance") or "", "noise": fields["noise"],
            "snr_db": fields["snr"], "mic": fields.get("mic") or ""}


def prepare_ace(ace_dir, out_dir, split: str = "eval", labels_csv=None, pattern: str = ACE_NAME_PATTERN,
                mic: str = "Single") -> Path:
    """Write `out_dir/<split>.csv` (path, t60_s and the fields of the file name) for the `mic` speech files
    under `ace_dir`; errors list the file names that do not parse and the rooms without a T60."""
    ace_dir, regex = Path(ace_dir), re.compile(pattern)
    missing_groups = [g for g in ACE_GROUPS if g not in regex.groupindex]
    if missing_groups:
        raise CorpusError(f"pattern {pattern!r} lacks the named group(s) {', '.join(missing_groups)}")
    labels = ace_labels(split, labels_csv)
    rows, unparsable, unlabelled, other_mics = [], [], set(), 0
    for path in audio_files(ace_dir, (".wav",)):
        fields = parse_ace_name(path.name, regex)
        if fields is None:
            unparsable.append(str(path.relative_to(ace_dir)))
        elif mic and fields["mic"] and fields["mic"] != mic:
            other_mics += 1
        elif fields["room_config"] not in labels:
            unlabelled.add(fields["room_config"])
        else:
            rows.append({"path": path.resolve(), "t60_s": labels[fields["room_config"]], **fields})
    if unparsable:
        raise CorpusError(f"{ace_dir}: {len(unparsable)} file name(s) do not match the ACE pattern {pattern!r}, "
                          f"e.g. {', '.join(unparsable[:5])}. Point --ace at the speech folder (e.g. "
                          f"Eval/Speech/Single) or pass --pattern with named groups {', '.join(ACE_GROUPS)}")
    if unlabelled:
        raise CorpusError(f"{ace_dir}: no {split} T60 for room_config {', '.join(sorted(unlabelled))}; known: "
                          f"{', '.join(labels)}. Use --split dev/eval or give them in --labels CSV")
    if not rows:
        raise CorpusError(f"{ace_dir}: no {mic!r} microphone files ({other_mics} file(s) of other microphones)")
    out = Path(out_dir) / f"{split}.csv"
    write_manifest(out, rows, ACE_COLUMNS)
    return out
