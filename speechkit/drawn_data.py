"""Training data drawn on the fly from pools of dry speech, room impulse responses and noise.

A fixed training set shows a network the same few thousand examples again and again; here every item is
drawn when it is needed: a speaker, utterances of that speaker, a room, a noise and its level, a crop.
Every draw comes from `np.random.default_rng([seed, epoch, index])`, so a run is deterministic whatever
the number of DataLoader workers, a resumed run sees exactly the items an uninterrupted one would, and
under torchrun each rank draws other items (the sampler gives each rank other indices).

The pools are the folders that `scripts/0_make_default_data.py` writes (one set of pools per split, with
disjoint speakers and rooms): `speech/{split}.csv` (synthetic voices) and `recorded/{split}.csv` (real
recorded speakers), `rirs/{split}.csv` (RIRs labelled with their measured T60) and `noise/{split}.csv`
(real recorded noise clips). The same draw functions write the fixed validation and test sets, so what a
model is tested on is what it was trained on, with other speakers and rooms.
"""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from scipy.signal import butter, fftconvolve, sosfiltfilt

from .audio import read_audio, resample
from .corpus.noise import COLOUR_EXPONENTS, babble, coloured_noise, mix_at_snr, normalise_and_dither
from .corpus.rooms import T60MeasurementError, augment_rir, measure_t60
from .errors import UserError
from .manifest import read_manifest

SPEECH_KINDS = ("tts", "recorded")
SPEECH_MANIFESTS = {"tts": "speech", "recorded": "recorded"}  # kind -> pool folder
NOISE_KINDS = (*COLOUR_EXPONENTS, "babble", "recorded")


class PoolError(UserError, ValueError):
    """A pool folder that is missing or cannot serve a draw (no speakers, no rooms)."""


@dataclass(frozen=True)
class Speaker:
    name: str
    kind: str  # "tts" or "recorded"
    utterances: tuple[np.ndarray, ...]  # int16 at the pool's rate, to keep the pools small in memory


@dataclass
class Pools:
    """The dry speech, RIRs and noise clips of one split, in memory."""

    sample_rate: int
    speakers: list[Speaker]
    rirs: list[np.ndarray]
    rir_t60_s: np.ndarray
    rir_rooms: list[str]
    noises: list[np.ndarray] = field(default_factory=list)

    @classmethod
    def load(cls, root, split: str, sample_rate: int = 16000, kinds=SPEECH_KINDS,
             recorded_highpass_hz: float | None = None) -> "Pools":
        """The pools of `split` under `root`; `recorded_highpass_hz`: high-pass the recorded speech (see
        `_load_speakers`), None: as the pool files hold it."""
        if recorded_highpass_hz is not None and not 0 < recorded_highpass_hz < sample_rate / 2:
            raise PoolError(f"recorded_highpass_hz={recorded_highpass_hz}: choose a frequency between 0 and "
                            f"{sample_rate / 2:g} Hz (half the sample rate), or null for no filter")
        root = Path(root)
        speakers = [s for kind in kinds for s in _load_speakers(root / SPEECH_MANIFESTS[kind] / f"{split}.csv",
                                                                kind, sample_rate, recorded_highpass_hz)]
        if not speakers:
            raise PoolError(f"{root}: no speech of kinds {', '.join(kinds)} for split {split!r}; "
                            "make the pools with scripts/0_make_default_data.py")
        rows = read_manifest(_existing(root / "rirs" / f"{split}.csv"), required=("path", "t60_s"))
        rirs = [read_audio(row["path"], sample_rate)[0] for row in rows]
        noise_csv = root / "noise" / f"{split}.csv"
        noises = [read_audio(r["path"], sample_rate)[0] for r in read_manifest(noise_csv)] if noise_csv.is_file() else []
        return cls(sample_rate, speakers, rirs, np.array([float(r["t60_s"]) for r in rows]),
                   [r.get("room", r["path"].stem) for r in rows], noises)


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise PoolError(f"pool manifest not found: {path}; make the pools with scripts/0_make_default_data.py")
    return path


def _load_speakers(manifest: Path, kind: str, sample_rate: int, recorded_highpass_hz: float | None) -> list[Speaker]:
    """The speakers of one manifest. With `recorded_highpass_hz`, each recorded utterance is high-passed (4th-order
    Butterworth, zero phase): some recordings' baselines step at every speech onset and offset (KLettres nds,
    about -26 dBFS), which the SDR features read as decays far faster than any room's (docs/results.md)."""
    if not manifest.is_file():
        return []
    highpass = (butter(4, recorded_highpass_hz, "highpass", fs=sample_rate, output="sos")
                if recorded_highpass_hz is not None and kind == "recorded" else None)
    by_speaker: dict[str, list[np.ndarray]] = {}
    for row in read_manifest(manifest, required=("path", "voice")):
        wave = _as_int16(read_audio(row["path"], sample_rate)[0])
        if highpass is not None:
            wave = _as_int16(sosfiltfilt(highpass, wave / 32767))
        by_speaker.setdefault(row["voice"], []).append(wave)
    return [Speaker(name, kind, tuple(waves)) for name, waves in sorted(by_speaker.items())]


def _as_int16(wave: np.ndarray) -> np.ndarray:
    return np.round(np.clip(wave, -1, 1) * 32767).astype(np.int16)


# ---------------------------------------------------------------- the pieces of a draw
PAUSE_RANGE_S = (0.1, 0.6)


def draw_speech(speaker: Speaker, num_samples: int, rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """`num_samples` of `speaker`: random utterances joined by short pauses, from a random start."""
    parts, total = [], 0
    while total < num_samples + sample_rate:  # one second to spare for the random start
        wave = speaker.utterances[rng.integers(len(speaker.utterances))].astype(np.float32) / 32767
        pause = np.zeros(round(rng.uniform(*PAUSE_RANGE_S) * sample_rate), np.float32)
        parts += [wave, pause]
        total += len(wave) + len(pause)
    joined = np.concatenate(parts)
    start = int(rng.integers(0, min(len(joined) - num_samples, len(parts[0])) + 1))
    return joined[start:start + num_samples]


SPEED_STEP = 20  # speed factors are multiples of 1/20: resampling by 20 / (20 x factor) is exact and short


def draw_speech_at_speed(speaker: Speaker, num_samples: int, rng: np.random.Generator, sample_rate: int,
                         speed: list[float]) -> np.ndarray:
    """`draw_speech` played faster or slower by a factor drawn from the range `speed` (steps of 1/20): tempo,
    pitch and formants move together, as another voice's would (speed perturbation, Ko et al., Interspeech
    2015), which multiplies the few voices of the pools."""
    low, high = (round(factor * SPEED_STEP) for factor in speed)
    steps = int(rng.integers(low, high + 1))
    wave = draw_speech(speaker, -(-num_samples * steps // SPEED_STEP) + 1, rng, sample_rate)
    return resample(wave, steps, SPEED_STEP)[:num_samples]  # samples made at rate `steps`, played at SPEED_STEP


def draw_speaker(pools: Pools, rng: np.random.Generator, recorded_probability: float, kind: str | None = None,
                 exclude: Speaker | None = None, skip_voices: Sequence[str] = ()) -> Speaker:
    """A speaker of `kind`, or of a kind drawn with `recorded_probability` when `kind` is None (the other
    kind when the pool lacks one); never `exclude` nor a speaker whose name starts with one of `skip_voices`."""
    drawn = "recorded" if rng.random() < recorded_probability else "tts"  # drawn even when forced: same streams
    skipped = tuple(skip_voices)
    allowed = [s for s in pools.speakers if s is not exclude and not s.name.startswith(skipped)]
    candidates = [s for s in allowed if s.kind == (kind or drawn)] or allowed
    if not candidates:
        reasons = ([f"starts with one of {list(skipped)}"] if skipped else []) + \
                  ([f"is {exclude.name}, already drawn"] if exclude is not None else [])
        raise PoolError("no speaker left to draw: " + (f"each of the pools' speakers {' or '.join(reasons)}"
                                                       if reasons else "the pools hold no speakers"))
    return candidates[rng.integers(len(candidates))]


def reverberate(dry: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """`dry` convolved with `rir`, truncated to the dry length: the decays to learn from lie between words."""
    return fftconvolve(dry, rir)[:len(dry)].astype(np.float32)


def draw_noise(pools: Pools, kind: str, num_samples: int, rng: np.random.Generator, talking: Speaker) -> np.ndarray:
    """Unit-RMS noise of `kind`: a colour, babble of other speakers of the pool, or a recorded clip."""
    if kind in COLOUR_EXPONENTS:
        return coloured_noise(num_samples, kind, rng, pools.sample_rate)
    if kind == "babble":
        others = [s for s in pools.speakers if s is not talking]
        talkers = [draw_speech(others[i], num_samples, rng, pools.sample_rate)
                   for i in rng.integers(len(others), size=int(rng.integers(3, 7)))]
        return babble(talkers, num_samples, rng)
    clip = pools.noises[rng.integers(len(pools.noises))]
    looped = np.roll(np.resize(clip, max(num_samples, len(clip))), rng.integers(len(clip)))[:num_samples]
    return (looped / max(np.sqrt(np.mean(looped**2)), 1e-8)).astype(np.float32)


def draw_noise_kind(pools: Pools, rng: np.random.Generator) -> str:
    """One of NOISE_KINDS, uniformly ('recorded' only when the pool has recorded noise clips)."""
    kinds = NOISE_KINDS if pools.noises else NOISE_KINDS[:-1]
    return kinds[rng.integers(len(kinds))]


# ---------------------------------------------------------------- T60 items
@dataclass
class T60Draw:
    """How a T60 item is drawn: speech x RIR (+ noise), labelled with the T60 measured on that RIR."""

    duration_s: list[float] = field(default_factory=lambda: [2.5, 6.0])  # per index, fixed across epochs
    recorded_probability: float = 0.5
    clean_probability: float = 0.25
    snr_db: list[float] = field(default_factory=lambda: [0.0, 30.0])  # uniform when not clean
    augment_probability: float = 0.5  # reshape the RIR's tail and DRR (Bryan 2020), label measured again
    peak: list[float] = field(default_factory=lambda: [0.1, 0.9])
    # Not in the paper: play each item's dry speech faster or slower by a factor drawn from this range (e.g.
    # [0.85, 1.15]; draw_speech_at_speed); None: as recorded (the fixed validation and test sets are)
    speed: list[float] | None = None
    # Voices (name prefixes) whose recordings carry a reverberation of their own, so that a T60 item of theirs
    # would be labelled with the room's T60 alone: Fish Fillets' Czech voices (on their dry recordings the
    # shipped model reads about 1.1 s and the authors' TrainSet2.dnn 1.4 s, against 0.1-0.4 s on every
    # other voice; docs/results.md). T60 items never use them; mixtures do.
    reverberant_voices: list[str] = field(default_factory=lambda: ["fillets-cs:"])

    def __post_init__(self):
        if self.speed is not None and not (len(self.speed) == 2 and 1 / SPEED_STEP <= self.speed[0] <= self.speed[1]):
            raise ValueError(f"speed must be [low, high] with {1 / SPEED_STEP:g} <= low <= high, got {self.speed}")
        if not all(isinstance(voice, str) for voice in self.reverberant_voices):
            raise ValueError(f"reverberant_voices must be a list of voice-name prefixes (quote them in YAML: "
                             f"[\"fillets-cs:\"]), got {self.reverberant_voices}")


def draw_rir(pools: Pools, rng: np.random.Generator, augment_probability: float) -> tuple[np.ndarray, float, str]:
    """A pool RIR, reshaped with `augment_probability`; returns (rir, measured T60 in s, room name)."""
    index = int(rng.integers(len(pools.rirs)))
    rir, t60_s = pools.rirs[index], float(pools.rir_t60_s[index])
    if rng.random() < augment_probability:
        try:
            reshaped = augment_rir(rir, rng, pools.sample_rate)
            if reshaped is not None:
                rir, t60_s = reshaped, measure_t60(reshaped, pools.sample_rate)
        except T60MeasurementError:
            pass  # an unusable reshaping: keep the original RIR and its label
    return rir, t60_s, pools.rir_rooms[index]


def draw_t60_item(pools: Pools, rng: np.random.Generator, num_samples: int, draw: T60Draw,
                  snr_db: float | None | str = "draw", kind: str | None = None) -> tuple[np.ndarray, float, dict]:
    """(reverberant wave, measured T60 in s, what was drawn); `snr_db` None is clean, `kind` forces a
    speech kind (the fixed test sets balance these instead of drawing them)."""
    speaker = draw_speaker(pools, rng, draw.recorded_probability, kind, skip_voices=draw.reverberant_voices)
    dry = (draw_speech(speaker, num_samples, rng, pools.sample_rate) if draw.speed is None else
           draw_speech_at_speed(speaker, num_samples, rng, pools.sample_rate, draw.speed))
    rir, t60_s, room = draw_rir(pools, rng, draw.augment_probability)
    wave = reverberate(dry, rir)
    if snr_db == "draw":
        snr_db = None if rng.random() < draw.clean_probability else float(rng.uniform(*draw.snr_db))
    noise_kind = "none"
    if snr_db is not None:
        noise_kind = draw_noise_kind(pools, rng)
        wave = mix_at_snr(wave, draw_noise(pools, noise_kind, num_samples, rng, speaker), snr_db)
    info = {"voice": speaker.name, "kind": speaker.kind, "room": room, "snr_db": snr_db, "noise": noise_kind}
    return normalise_and_dither(wave, draw.peak, rng), t60_s, info


# ---------------------------------------------------------------- two-speaker mixtures
@dataclass
class MixtureDraw:
    """How a two-speaker mixture is drawn (dynamic mixing)."""

    recorded_probability: float = 0.5  # per speaker
    level_db: list[float] = field(default_factory=lambda: [-5.0, 5.0])  # of the first speaker over the second
    reverberant_probability: float = 0.5  # both sources in one room, each with its own RIR
    noise_probability: float = 0.0
    snr_db: list[float] = field(default_factory=lambda: [10.0, 30.0])
    peak: list[float] = field(default_factory=lambda: [0.3, 0.9])


def _room_pair(pools: Pools, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two RIRs of one room (two source positions) when the pool has them, else two of similar T60."""
    index = int(rng.integers(len(pools.rirs)))
    same_room = [i for i, room in enumerate(pools.rir_rooms) if room == pools.rir_rooms[index] and i != index]
    if not same_room:
        same_room = list(np.argsort(np.abs(pools.rir_t60_s - pools.rir_t60_s[index]))[1:4])
    return pools.rirs[index], pools.rirs[int(same_room[rng.integers(len(same_room))])]


def draw_mixture(pools: Pools, rng: np.random.Generator, num_samples: int, draw: MixtureDraw,
                 kinds: tuple[str | None, str | None] = (None, None),
                 reverberant: bool | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """(mixture (samples,), sources (2, samples), what was drawn): two different speakers, their
    reverberant images as the targets when reverberant, mix = s1 + s2 (+ noise). `kinds` and
    `reverberant` force what is otherwise drawn (the fixed test sets balance them)."""
    first = draw_speaker(pools, rng, draw.recorded_probability, kinds[0])
    second = draw_speaker(pools, rng, draw.recorded_probability, kinds[1], exclude=first)
    sources = np.stack([draw_speech(s, num_samples, rng, pools.sample_rate) for s in (first, second)])
    if reverberant is None:
        reverberant = bool(rng.random() < draw.reverberant_probability)
    if reverberant:
        sources = np.stack([reverberate(s, rir) for s, rir in zip(sources, _room_pair(pools, rng))])
    sources /= np.maximum(np.sqrt(np.mean(sources**2, axis=1, keepdims=True)), 1e-8)
    level_db = float(rng.uniform(*draw.level_db))
    sources[0] *= 10 ** (level_db / 20)
    mixture = sources.sum(0)
    if rng.random() < draw.noise_probability:
        noise = draw_noise(pools, draw_noise_kind(pools, rng), num_samples, rng, first)
        mixture = mix_at_snr(mixture, noise, float(rng.uniform(*draw.snr_db)))
    scale = rng.uniform(*draw.peak) / max(np.max(np.abs(np.concatenate([mixture[None], sources]))), 1e-8)
    info = {"s1_voice": first.name, "s2_voice": second.name, "s1_kind": first.kind, "s2_kind": second.kind,
            "level_db": level_db, "reverberant": reverberant}
    return (mixture * scale).astype(np.float32), (sources * scale).astype(np.float32), info


# ---------------------------------------------------------------- the dataset
class DrawnMixtures:
    """Makes training item `index` from an rng: a drawn two-speaker mixture and its sources, as tensors."""

    def __init__(self, pools: Pools, draw: MixtureDraw, num_samples: int):
        self.pools, self.draw, self.num_samples = pools, draw, num_samples

    def __call__(self, rng: np.random.Generator, index: int):
        mixture, sources, _ = draw_mixture(self.pools, rng, self.num_samples, self.draw)
        return torch.from_numpy(mixture), torch.from_numpy(sources)


def drawn_mixture_set(pools_dir, draw: MixtureDraw, sample_rate: int, segment_s: float, items_per_epoch: int,
                      seed: int) -> "DrawnSet":
    """Training mixtures drawn on the fly (dynamic mixing) from the train pools of `pools_dir`."""
    num_samples = round(segment_s * sample_rate)
    pools = Pools.load(pools_dir, "train", sample_rate)
    return DrawnSet(DrawnMixtures(pools, draw, num_samples), items_per_epoch, [num_samples] * items_per_epoch, seed)


class DrawnSet(torch.utils.data.Dataset):
    """`size` items per epoch, item `index` of epoch `epoch` made by `make(rng, index)` with
    rng = default_rng([seed, epoch, index]); `lengths` feed the trainer's length buckets."""

    def __init__(self, make: Callable[[np.random.Generator, int], object], size: int, lengths: list[int], seed: int):
        if size < 1:
            raise ValueError(f"a drawn training set needs at least one item per epoch, got {size}")
        self.make, self.size, self.lengths, self.seed = make, size, lengths, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int):
        return self.make(np.random.default_rng([self.seed, self.epoch, index]), index)


def item_lengths(size: int, duration_s: list[float], sample_rate: int, seed: int) -> list[int]:
    """Sample counts per item index, uniform in `duration_s`, fixed for a seed (not redrawn per epoch)."""
    rng = np.random.default_rng([seed, 1 << 20])
    return [round(s * sample_rate) for s in rng.uniform(*duration_s, size=size)]
