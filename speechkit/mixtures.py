"""LRS2-2Mix-style two-speaker mixtures from any folder of single-speaker utterances with speaker ids.

Layout under `out_dir`: `{tr,cv,tt}/{mix,s1,s2}/ID.wav` (identical names, mix = s1 + s2) and
`{tr,cv,tt}.csv` manifests (paths relative to `out_dir`) naming the source utterances, speakers and level.
Speakers are split disjointly between tr/cv/tt; the two utterances of a mixture are from different
speakers. Every draw comes from np.random.default_rng([seed, stage, split, index]), so a rerun with the
same inputs and seed is byte-identical. Manifests are written only after all audio exists.
"""
import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio import AUDIO_SUFFIXES, AudioError, find_audio_files, read_audio, write_audio
from .corpus.building import clear_output
from .corpus.noise import random_crop
from .errors import UserError
from .manifest import write_manifest
from .progress import progress

SPLITS = ("tr", "cv", "tt")
SOURCE_RMS_DB = -25.0  # level of the quieter-before-scaling source, in dB re full scale
PEAK_LIMIT = 0.9  # mixtures and sources are scaled down together when any peak exceeds this
_SPEAKER_STAGE, _MIXTURE_STAGE = 0, 1


class MixtureError(UserError, ValueError):
    """Utterances, a speaker list or mixture counts that cannot make a set; the message says which and why."""


@dataclass(frozen=True)
class Utterance:
    path: Path
    speaker: str


def find_utterances(root, speakers_csv=None) -> list[Utterance]:
    """Audio files under `root`, sorted by path. Speaker id = the parent folder's name, or with
    `speakers_csv` (columns path,speaker; paths relative to `root`) the listed files and their speakers."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"utterance folder not found: {root}")
    if speakers_csv is not None:
        return _listed_utterances(root, Path(speakers_csv))
    paths = find_audio_files(root)
    if not paths:
        raise FileNotFoundError(f"{root}: no audio files ({', '.join(AUDIO_SUFFIXES)}) found in it or below it")
    loose = [p for p in paths if p.parent == root]
    if loose:
        raise MixtureError(f"{loose[0]}: file directly in {root}, so it has no speaker folder; put each "
                         "speaker's files in ROOT/<speaker>/ or give the speakers with a CSV (--speakers)")
    return [Utterance(p, p.parent.name) for p in paths]


def _listed_utterances(root: Path, speakers_csv: Path) -> list[Utterance]:
    if not speakers_csv.is_file():
        raise FileNotFoundError(f"speaker list not found: {speakers_csv}")
    with open(speakers_csv, newline="") as f:
        reader = csv.DictReader(f)
        missing = {"path", "speaker"} - set(reader.fieldnames or [])
        if missing:
            raise MixtureError(f"{speakers_csv}: missing column(s) {', '.join(sorted(missing))}; "
                             "expected columns path,speaker")
        rows = list(reader)
    if not rows:
        raise MixtureError(f"{speakers_csv}: no rows")
    utterances = []
    for line, row in enumerate(rows, start=2):
        path = root / row["path"]
        if not path.is_file():
            raise FileNotFoundError(f"{speakers_csv}: line {line}: file not found: {path}")
        if not row["speaker"]:
            raise MixtureError(f"{speakers_csv}: line {line}: empty speaker id for {path}")
        utterances.append(Utterance(path, row["speaker"]))
    return sorted(utterances, key=lambda u: u.path)


def split_speakers(speakers, counts: tuple[int, int, int], seed: int) -> dict[str, list[str]]:
    """Disjoint speaker sets for tr/cv/tt, sized in proportion to the mixture counts (at least 2 each),
    from a seeded shuffle of the sorted speaker ids."""
    speakers = sorted(set(speakers))
    if len(speakers) < 2 * len(SPLITS):
        raise MixtureError(f"{len(speakers)} speaker(s) found; need at least 2 per split ({2 * len(SPLITS)} "
                         f"for {'/'.join(SPLITS)}) so that each mixture has two different speakers")
    shares = len(speakers) * np.asarray(counts, dtype=float) / sum(counts)
    sizes = [max(2, int(round(share))) for share in shares]
    while sum(sizes) > len(speakers):  # rounding up or the minimum of 2 took too many: shrink the largest
        sizes[int(np.argmax(sizes))] -= 1
    while sum(sizes) < len(speakers):  # give the rest to the split furthest below its share
        sizes[int(np.argmax(shares - sizes))] += 1
    order = np.random.default_rng([seed, _SPEAKER_STAGE]).permutation(len(speakers))
    shuffled = [speakers[i] for i in order]
    bounds = np.cumsum([0, *sizes])
    return {split: sorted(shuffled[bounds[i]:bounds[i + 1]]) for i, split in enumerate(SPLITS)}


def _load_source(utterance: Utterance, sample_rate: int) -> np.ndarray:
    """The utterance at `sample_rate`, scaled to SOURCE_RMS_DB over its whole length."""
    wave = read_audio(utterance.path, sample_rate)[0]
    rms = np.sqrt(np.mean(wave.astype(np.float64) ** 2))
    if rms == 0:
        raise AudioError(f"{utterance.path}: the file is silent (all samples zero)")
    return (wave * (10 ** (SOURCE_RMS_DB / 20) / rms)).astype(np.float32)


def _pick_pair(utterances: list[Utterance], rng: np.random.Generator) -> tuple[Utterance, Utterance]:
    """Two utterances drawn uniformly from `utterances`, the second redrawn until its speaker differs."""
    first = second = utterances[int(rng.integers(len(utterances)))]
    while second.speaker == first.speaker:
        second = utterances[int(rng.integers(len(utterances)))]
    return first, second


def _make_mixture(first: Utterance, second: Utterance, sample_rate: int, segment: int | None, level_db: float,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """(s1, s2, relative level in dB): crops of `segment` samples, or with None both cut to the shorter
    utterance from its start (Libri2Mix "min" mode); s1 is `level` dB above s2 before peak scaling."""
    s1, s2 = _load_source(first, sample_rate), _load_source(second, sample_rate)
    if segment is None:
        length = min(len(s1), len(s2))
        s1, s2 = s1[:length], s2[:length]
    else:
        s1, s2 = random_crop(s1, segment, rng), random_crop(s2, segment, rng)
    level = float(rng.uniform(-level_db, level_db))
    s1 = s1 * np.float32(10 ** (level / 20))
    peak = np.max(np.abs([s1, s2, s1 + s2]))
    scale = np.float32(min(1.0, PEAK_LIMIT / peak)) if peak > 0 else np.float32(1)
    return s1 * scale, s2 * scale, level


def make_mixtures(utterances: list[Utterance], out_dir, counts: tuple[int, int, int] = (20000, 5000, 3000),
                  sample_rate: int = 16000, segment_s: float | None = 2.0, level_db: float = 5.0, seed: int = 0,
                  overwrite: bool = False, show_progress: bool = True) -> dict[str, dict]:
    """Write `counts` (tr, cv, tt) mixtures into `out_dir`; returns {split: {"mixtures", "speakers"}}.

    `segment_s` None uses each pair at the shorter utterance's full length.
    """
    out_dir = Path(out_dir).resolve()  # manifest paths are made relative to it
    if len(counts) != len(SPLITS) or min(counts) < 1:
        raise MixtureError(f"counts must be {len(SPLITS)} positive mixture counts ({'/'.join(SPLITS)}), got {counts}")
    if not utterances:
        raise MixtureError("no utterances to mix")
    speakers = split_speakers([u.speaker for u in utterances], counts, seed)
    clear_output(out_dir, [f"{split}.csv" for split in SPLITS] + list(SPLITS), overwrite, "the mixtures")
    segment = None if segment_s is None else round(segment_s * sample_rate)
    rows = {}
    with progress(total=sum(counts), desc="mixtures", unit="mix", enabled=show_progress) as bar:
        for split_index, (split, count) in enumerate(zip(SPLITS, counts)):
            members = set(speakers[split])
            pool = [u for u in utterances if u.speaker in members]
            rows[split] = []
            for index in range(count):
                rng = np.random.default_rng([seed, _MIXTURE_STAGE, split_index, index])
                first, second = _pick_pair(pool, rng)
                s1, s2, level = _make_mixture(first, second, sample_rate, segment, level_db, rng)
                name = f"{split}_{index:0{len(str(count - 1))}d}.wav"
                for part, wave in (("mix", s1 + s2), ("s1", s1), ("s2", s2)):
                    write_audio(out_dir / split / part / name, wave, sample_rate)
                rows[split].append({"id": Path(name).stem, **{f"{p}_path": out_dir / split / p / name
                                                             for p in ("mix", "s1", "s2")},
                                    "s1_speaker": first.speaker, "s2_speaker": second.speaker,
                                    "s1_utterance_path": first.path.resolve(),
                                    "s2_utterance_path": second.path.resolve(), "level_db": f"{level:.4f}"})
                bar.update()
    for split in SPLITS:
        write_manifest(out_dir / f"{split}.csv", rows[split])
    return {split: {"mixtures": len(rows[split]), "speakers": len(speakers[split])} for split in SPLITS}
