"""Offline text-to-speech with the Debian engines espeak-ng, flite and festival, and the voice catalogue.

Voices are split between train / valid / test so that no test speaker is heard in training: espeak-ng
voices are accent x variant pairs with disjoint accents AND disjoint variants per split, and the recorded
speakers behind flite and festival (kal, slt) stay in one split across both engines.
"""
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speechkit.audio import read_audio
from speechkit.errors import UserError

SAMPLE_RATE = 16000
ENGINES = ("espeak-ng", "flite", "festival")
APT_INSTALL = ("sudo apt-get install espeak-ng flite festival "
               "festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts")

# espeak-ng variants that add an artificial echo (m2, f2..f5, ...) are left out: it would add
# reverberation to the "dry" speech and corrupt the T60 labels.
ESPEAK_ACCENTS = {
    "train": ("en-us", "en-gb", "en-gb-x-rp", "en-029", "en-gb-x-gbcwmd"),
    "valid": ("en-gb-x-gbclan",),
    "test": ("en-gb-scotland", "en-us-nyc"),
}
ESPEAK_VARIANTS = {
    "train": ("m1", "m3", "m4", "m7", "f1", "klatt", "klatt3", "Andy", "Annie", "belinda", "steph",
              "robert", "david"),
    "valid": ("m5", "klatt2", "aunty", "Gene"),
    "test": ("m6", "m8", "klatt4", "Andrea", "shelby", "Michael"),
}
# flite kal16 and festival kal_diphone are one speaker, as are flite slt and the festival slt HTS voice.
FLITE_VOICES = {"train": ("awb", "rms"), "valid": ("kal16",), "test": ("slt",)}
FESTIVAL_VOICES = {
    "train": ("voice_ked_diphone",),
    "valid": ("voice_kal_diphone",),
    "test": ("voice_cmu_us_slt_arctic_hts",),
}


class SynthesisError(UserError, RuntimeError):
    """A text-to-speech engine is missing or failed; the message says which and how to fix it."""


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker: an engine and that engine's voice name (espeak-ng: 'accent+variant')."""

    engine: str
    name: str

    @property
    def id(self) -> str:
        return f"{self.engine}:{self.name}"


@dataclass(frozen=True)
class Prosody:
    """Per-utterance speaking style: `speed` scales the speaking rate (all engines except festival's HTS
    voice, which ignores it), `pitch` is espeak-ng's 0-99 pitch (50 is its default)."""

    speed: float = 1.0
    pitch: int = 50


def split_voices(split: str) -> dict[str, tuple[Voice, ...]]:
    """The voices of `split` ('train', 'valid' or 'test'), grouped by engine."""
    espeak = tuple(Voice("espeak-ng", f"{accent}+{variant}")
                   for accent in ESPEAK_ACCENTS[split] for variant in ESPEAK_VARIANTS[split])
    return {
        "espeak-ng": espeak,
        "flite": tuple(Voice("flite", name) for name in FLITE_VOICES[split]),
        "festival": tuple(Voice("festival", name) for name in FESTIVAL_VOICES[split]),
    }


def require_engines() -> None:
    """Raise SynthesisError naming the Debian packages when an engine binary or a flite voice is missing
    (flite silently falls back to its default voice for an unknown one)."""
    missing = [engine for engine in ENGINES if shutil.which(engine) is None]
    if missing:
        raise SynthesisError(f"text-to-speech engine(s) not found on PATH: {', '.join(missing)}. The default "
                             f"corpus synthesizes speech offline with espeak-ng, flite and festival; install "
                             f"them with: {APT_INSTALL}")
    listed = subprocess.run(["flite", "-lv"], capture_output=True, text=True).stdout.split()
    missing = [name for names in FLITE_VOICES.values() for name in names if name not in listed]
    if missing:
        raise SynthesisError(f"flite lacks the voice(s) {', '.join(missing)} (it lists: {' '.join(listed)}); "
                             f"install Debian's flite: {APT_INSTALL}")


def engine_versions() -> dict[str, str]:
    """The last line of each engine's `--version` output (without espeak-ng's data path), for the record."""
    versions = {}
    for engine in ENGINES:
        output = subprocess.run([engine, "--version"], capture_output=True, text=True).stdout
        versions[engine] = output.strip().splitlines()[-1].split("  Data at")[0].strip()
    return versions


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SynthesisError(f"{what} failed (exit {result.returncode}): {result.stderr.strip()[:500]}\n"
                             f"Are the engine and its voices installed? {APT_INSTALL}")


def _read_16k(path: Path, what: str) -> np.ndarray:
    if not path.is_file() or path.stat().st_size <= 44:
        raise SynthesisError(f"{what} wrote no audio to {path}; is its voice installed? ({APT_INSTALL})")
    return read_audio(path, SAMPLE_RATE)[0]


def _espeak(voice: Voice, text: str, prosody: Prosody, path: Path) -> None:
    words_per_minute = round(170 * prosody.speed)
    _run(["espeak-ng", "-v", voice.name, "-p", str(prosody.pitch), "-s", str(words_per_minute),
          "-w", str(path), text], f"espeak-ng voice {voice.name}")


def _flite(voice: Voice, text: str, prosody: Prosody, path: Path) -> None:
    _run(["flite", "-voice", voice.name, "--setf", f"duration_stretch={1 / prosody.speed:.4f}",
          "-t", text, "-o", str(path)], f"flite voice {voice.name}")


def _festival_script(voice: Voice, requests: list[tuple[str, Prosody]], folder: Path) -> str:
    """A Scheme script that synthesizes every request in one festival process (one process per
    sentence would be ~40x slower: festival spends most of its time loading the voice)."""
    lines = [f"({voice.name})"]
    for index, (text, prosody) in enumerate(requests):
        quoted = text.replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f"(Parameter.set 'Duration_Stretch {1 / prosody.speed:.4f})")
        lines.append(f'(utt.save.wave (utt.synth (Utterance Text "{quoted}")) "{folder / f"{index}.wav"}" \'riff)')
    return "\n".join(lines) + "\n"


def synthesize(voice: Voice, requests: list[tuple[str, Prosody]]) -> list[np.ndarray]:
    """Speak each (text, prosody) request with `voice`; returns float32 waves at 16 kHz, in order."""
    with tempfile.TemporaryDirectory(prefix="speechkit-tts-") as folder:
        folder = Path(folder)
        if voice.engine == "festival":
            script = folder / "batch.scm"
            script.write_text(_festival_script(voice, requests, folder))
            _run(["festival", "-b", str(script)], f"festival {voice.name}")
        else:
            speak = {"espeak-ng": _espeak, "flite": _flite}[voice.engine]
            for index, (text, prosody) in enumerate(requests):
                speak(voice, text, prosody, folder / f"{index}.wav")
        return [_read_16k(folder / f"{index}.wav", voice.id) for index in range(len(requests))]


def trim_silence(wave: np.ndarray, sample_rate: int = SAMPLE_RATE, floor_db: float = -40.0,
                 margin_s: float = 0.03) -> np.ndarray:
    """Cut leading and trailing 10 ms frames quieter than `floor_db` below the loudest frame."""
    frame = sample_rate // 100
    frames = wave[: len(wave) // frame * frame].reshape(-1, frame)
    energy_db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    loud = np.flatnonzero(energy_db > energy_db.max() + floor_db)
    margin = int(margin_s * sample_rate)
    start = max(loud[0] * frame - margin, 0)
    stop = min((loud[-1] + 1) * frame + margin, len(wave))
    return wave[start:stop]
