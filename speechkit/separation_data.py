"""Speech-separation sets: mixtures with their reference sources, random fixed-length crops for training.

A set is a list of `Mixture`s, read from a split folder that holds a mixture folder and one folder per
source with identical file names — the layout shared by LRS2-2Mix (`mix`, `s1`, `s2`), Libri2Mix and
WHAM! (`mix_clean` or `mix_both`, `s1`, `s2`) and the built-in default corpus.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from .audio import read_audio
from .corpus.noise import random_crop
from .errors import UserError
from .progress import progress


class LayoutError(UserError, ValueError):
    """A corpus directory that does not have the expected layout; the message lists the first problems."""


@dataclass(frozen=True)
class Mixture:
    id: str
    mix: Path
    sources: tuple[Path, ...]
    frames: int  # length in samples at the files' own rate


def split_folder(split_dir, mixture_folder: str = "mix", source_folders=("s1", "s2"),
                 sample_rate: int | None = None) -> list[Mixture]:
    """Mixtures of a split folder such as LRS2-2Mix `tt/`: `mix/`, `s1/`, `s2/` holding the same file names."""
    split_dir = Path(split_dir)
    return paired_folders(split_dir / mixture_folder, [split_dir / s for s in source_folders], sample_rate)


def paired_folders(mix_dir: Path, source_dirs: list[Path], sample_rate: int | None = None,
                   max_problems: int = 5) -> list[Mixture]:
    """Pair `mix_dir/NAME.wav` with `source_dir/NAME.wav` for each source folder, checking that every
    mixture has its sources, that lengths match, and (when given) the sample rate."""
    for folder in (mix_dir, *source_dirs):
        if not folder.is_dir():
            raise LayoutError(f"folder not found: {folder}")
    mixes = sorted(mix_dir.glob("*.wav"))
    if not mixes:
        raise LayoutError(f"{mix_dir}: no .wav files")
    problems, mixtures = [], []
    for mix in progress(mixes, f"checking {mix_dir.parent.name}/{mix_dir.name}"):
        sources = tuple(folder / mix.name for folder in source_dirs)
        problem = _check_mixture(mix, sources, sample_rate)
        if problem:
            problems.append(problem)
            if len(problems) >= max_problems:
                break
        else:
            mixtures.append(Mixture(mix.stem, mix, sources, sf.info(mix).frames))
    if problems:
        raise LayoutError(f"{mix_dir.parent}: {len(problems)}{'+' if len(problems) >= max_problems else ''} "
                          "problem(s):\n  " + "\n  ".join(problems))
    return mixtures


def _check_mixture(mix: Path, sources: tuple[Path, ...], sample_rate: int | None) -> str | None:
    missing = [str(s) for s in sources if not s.is_file()]
    if missing:
        return f"{mix.name}: missing source file(s) {', '.join(missing)}"
    infos = [sf.info(p) for p in (mix, *sources)]
    if len({i.frames for i in infos}) > 1:
        return f"{mix.name}: lengths differ (mixture and sources: {[i.frames for i in infos]} samples)"
    if len({i.samplerate for i in infos}) > 1 or (sample_rate and infos[0].samplerate != sample_rate):
        return (f"{mix.name}: sample rates {[i.samplerate for i in infos]} Hz"
                f"{f', expected {sample_rate} Hz' if sample_rate else ''}")
    return None


class SeparationDataset(torch.utils.data.Dataset):
    """Items are (mixture (samples,), sources (n_src, samples)) float32 tensors at `sample_rate`.

    With `segment_s`, each item is a random crop of that length (zero-padded when shorter), drawn anew
    every epoch from (seed, epoch, index) so that training is reproducible and resumable.
    """

    def __init__(self, mixtures: list[Mixture], sample_rate: int, segment_s: float | None = None, seed: int = 0):
        self.mixtures, self.sample_rate, self.seed = mixtures, sample_rate, seed
        self.segment = None if segment_s is None else int(round(segment_s * sample_rate))
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.mixtures)

    @property
    def lengths(self) -> list[int]:
        return [self.segment or m.frames for m in self.mixtures]

    def __getitem__(self, index: int):
        item = self.mixtures[index]
        waves = [read_audio(p, self.sample_rate)[0] for p in (item.mix, *item.sources)]
        waves = np.stack(waves)
        if self.segment is not None:
            waves = random_crop(waves, self.segment, np.random.default_rng([self.seed, self.epoch, index]))
        waves = torch.from_numpy(waves)
        return waves[0], waves[1:]


def collate(items):
    """Equal-length items -> mixtures (batch, samples), sources (batch, n_src, samples); pads the shorter."""
    length = max(mix.shape[-1] for mix, _ in items)
    pad = lambda x: torch.nn.functional.pad(x, (0, length - x.shape[-1]))  # noqa: E731
    return torch.stack([pad(m) for m, _ in items]), torch.stack([pad(s) for _, s in items])


# Whole-corpus layouts: (rate folders, mode folders, split folders, {mixture folder: its source folders}).
# LRS2-2Mix has no rate/mode levels; Libri2Mix and WHAM! name the sample rate in `wav8k`/`wav16k`.
_TWO_SOURCES = ("s1", "s2")
CORPUS_LAYOUTS = {
    "lrs2mix": ((), (), ("tr", "cv", "tt"), {"mix": _TWO_SOURCES}),
    "libri2mix": (("wav8k", "wav16k"), ("min", "max"), ("train-100", "train-360", "dev", "test"),
                  {"mix_clean": _TWO_SOURCES, "mix_both": _TWO_SOURCES, "mix_single": ("s1",)}),
    "wham": (("wav8k", "wav16k"), ("min", "max"), ("tr", "cv", "tt"),
             {"mix_clean": _TWO_SOURCES, "mix_both": _TWO_SOURCES, "mix_single": ("s1",)}),
}
_RATE_FOLDERS = {"wav8k": 8000, "wav16k": 16000}


def check_corpus(root, layout: str, max_problems: int = 5) -> dict[str, list[Mixture]]:
    """Check a whole LRS2-2Mix, Libri2Mix or WHAM! tree; returns {mixture folder relative to root: mixtures}.

    LRS2-2Mix needs `{tr,cv,tt}/{mix,s1,s2}`. Libri2Mix and WHAM! need `wav8k|wav16k/min|max/SPLIT/` with at
    least one split; each split present needs its sources and at least one mixture folder (mix_clean,
    mix_both, mix_single), and files at the rate its `wav8k`/`wav16k` folder names. The first problems
    (missing folders, a mixture without its sources, length or rate mismatches, empty folders) are
    raised together as one LayoutError.
    """
    if layout not in CORPUS_LAYOUTS:
        raise ValueError(f"unknown corpus layout {layout!r}; choose one of {', '.join(CORPUS_LAYOUTS)}")
    root = Path(root)
    if not root.is_dir():
        raise LayoutError(f"corpus folder not found: {root}")
    rate_names, mode_names, split_names, mixture_sources = CORPUS_LAYOUTS[layout]
    problems, found = [], {}
    for split_dir, sample_rate in _split_dirs(root, rate_names, mode_names, split_names, problems):
        mixture_names = [m for m in mixture_sources if (split_dir / m).is_dir()]
        if not mixture_names:
            problems.append(f"{split_dir}: no mixture folder (expected one of {', '.join(mixture_sources)})")
        for mixture in mixture_names:
            try:
                found[(split_dir / mixture).relative_to(root).as_posix()] = paired_folders(
                    split_dir / mixture, [split_dir / s for s in mixture_sources[mixture]], sample_rate)
            except LayoutError as err:
                problems.append(str(err))
        if len(problems) >= max_problems:
            break
    if problems:
        raise LayoutError(f"{root} is not a valid {layout} corpus:\n" + "\n".join(problems[:max_problems]))
    return found


def _split_dirs(root: Path, rate_names, mode_names, split_names, problems: list[str]) -> list[tuple[Path, int | None]]:
    """The split folders of the tree with the sample rate their path names; missing levels go to `problems`.

    Without rate and mode levels (LRS2-2Mix) every split is required; otherwise at least one of each level.
    """
    if not rate_names:
        missing = [root / s for s in split_names if not (root / s).is_dir()]
        problems += [f"folder not found: {folder}" for folder in missing]
        return [(root / s, None) for s in split_names if (root / s).is_dir()]
    folders = [(root, None)]
    for level, names in (("sample-rate", rate_names), ("mode", mode_names), ("split", split_names)):
        children = []
        for parent, rate in folders:
            present = [parent / n for n in names if (parent / n).is_dir()]
            if not present:
                problems.append(f"{parent}: no {level} folder (expected one of {', '.join(names)})")
            children += [(folder, _RATE_FOLDERS.get(folder.name, rate)) for folder in present]
        folders = children
    return folders
