"""Real recorded speech and noise from Debian packages, with speaker-disjoint train / valid / test splits.

Speech: Fish Fillets NG's Czech dialogue (the two main characters), Asterisk's IVR prompts (four voices),
KLettres' spoken letters (about one speaker per language), codec2's test recordings and pocketsphinx's test
utterances. Noise: Sonic Pi's ambience and machine loops and alsa-utils' Noise.wav. Facts about the packages:
../shared/reference/data/SOURCES.md. Dutch material (the `nl` folders of fillets-ng and klettres) is held out
of the project for evaluation elsewhere: the finders never enter those folders, and only read fillets files
under a `cs` folder.
"""
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import soundfile as sf

from speechkit.audio import AudioError, read_audio, resample
from speechkit.corpus.synthesis import SAMPLE_RATE, trim_silence

DEBIAN_SHARE = Path("/usr/share")
APT_INSTALL = ("sudo apt-get install fillets-ng-data-cs asterisk-core-sounds-en-wav asterisk-core-sounds-es-wav "
               "asterisk-core-sounds-fr-wav asterisk-core-sounds-it-wav asterisk-core-sounds-ru-wav klettres-data "
               "codec2-examples pocketsphinx-testdata")
MIN_SPEECH_S = 0.3                # shorter than this after silence trimming: skipped
SILENT_PEAK = 1e-4                # a peak below -80 dBFS (after DC removal) is a silent file
HELD_OUT_FOLDERS = ("nl",)        # never entered, let alone read

FILLETS_SOUND = "games/fillets-ng/sound"
FILLETS_LANGUAGE = "cs"           # the only language folder read: /<level>/cs/<level>-<character>-<line>.ogg
# The second '-'-separated field of a file name names the character; minor characters may carry effects.
# Two-field names (hanoi, hole, linux, nowall, rush, fdto: 'm-line', 'line-m') are left out: their voices sit
# ~20% lower in F0 than the main recordings (m ~210 vs ~265 Hz, v ~105 vs ~137 Hz), so they may be other actors.
FILLETS_SPEAKERS = {"m": "fillets-cs:m", "v": "fillets-cs:v"}   # small fish, big fish

ASTERISK_SOUNDS = "asterisk/sounds"
# voice folder -> (Debian package, speaker): es_MX is recorded by the en_US speaker (Allison).
ASTERISK_VOICES = {
    "en_US_f_Allison": ("asterisk-core-sounds-en-wav", "asterisk:allison"),
    "es_MX_f_Allison": ("asterisk-core-sounds-es-wav", "asterisk:allison"),
    "fr_CA_f_June": ("asterisk-core-sounds-fr-wav", "asterisk:june"),
    "it_IT_m_Carlo": ("asterisk-core-sounds-it-wav", "asterisk:carlo"),
    "ru_RU_f_IvrvoiceRU": ("asterisk-core-sounds-ru-wav", "asterisk:ivrvoice-ru"),
}
ASTERISK_NON_SPEECH_FOLDERS = ("silence",)
# tones, and tt-monkeys (monkeys screeching)
ASTERISK_NON_SPEECH = ("beep.wav", "beeperr.wav", "ascending-2tone.wav", "descending-2tone.wav", "tt-monkeys.wav")

KLETTRES = "klettres"             # /<language>/{alpha,syllab}/*.ogg, speaker 'klettres:<language>' (not nl)

CODEC2 = "codec2"
# One file per recording, speaker by call sign or file stem. Left out: modem and test signals (700d_end_over,
# testframes_700d, test_datac1_006, sine1k_*, wav/david4, wav/vk2tpm_004), codec outputs (f2400, m2400),
# concatenations of other files (wav/all; hts = hts1 + hts2 + 12 s of two more talkers), cut-downs (hts1a,
# hts2a, ve9qrp_10s), the off-air HF recording ve9qrp (channel noise), and the wav/ copies of raw/ files.
CODEC2_FILES = {
    "raw/big_dog.raw": "codec2:big_dog",
    "raw/cq_ref.raw": "codec2:cq_ref",
    "raw/cross.raw": "codec2:cross",
    "raw/forig.raw": "codec2:forig",
    "raw/g3plx.raw": "codec2:g3plx",
    "raw/hts1.raw": "codec2:hts1",
    "raw/hts2.raw": "codec2:hts2",
    "raw/kristoff.raw": "codec2:kristoff",
    "raw/mmt1.raw": "codec2:mmt1",
    "raw/morig.raw": "codec2:morig",
    "raw/speech_orig_16k.wav": "codec2:speech_orig_16k",
    "raw/vk5qi.raw": "codec2:vk5qi",
    "wav/wia_16kHz.wav": "codec2:wia_16khz",
}

POCKETSPHINX = "pocketsphinx/test/data"
# The LibriVox reader, and the CMU test recordings (cards, goforward, numbers, ...: perhaps several people,
# kept as one speaker so that they stay in one split).
POCKETSPHINX_SPEAKERS = {"librivox": "pocketsphinx:librivox"}
POCKETSPHINX_OTHERS = "pocketsphinx:cmu"

# Headerless files: 16-bit signed little-endian mono at the package's rate.
RAW_SAMPLE_RATES = {"codec2-examples": 8000, "pocketsphinx-testdata": 16000}

# Every speaker the finder can return, in exactly one split. Speakers whose identity is uncertain share a
# split (codec2's reference recordings hts1/hts2/morig/forig/big_dog/cross/mmt1, klettres ru/uk, en/en_GB).
RECORDED_SPLITS = {
    "train": (
        "fillets-cs:m", "asterisk:allison", "asterisk:june",
        "klettres:da", "klettres:de", "klettres:en", "klettres:en_GB", "klettres:es", "klettres:fr",
        "klettres:it", "klettres:ml", "klettres:nb", "klettres:nds", "klettres:tn",
        "codec2:big_dog", "codec2:cross", "codec2:forig", "codec2:hts1", "codec2:hts2", "codec2:mmt1",
        "codec2:morig", "codec2:speech_orig_16k", "codec2:wia_16khz",
        "pocketsphinx:cmu", "pocketsphinx:librivox",
    ),
    "valid": ("asterisk:carlo", "klettres:ar", "klettres:cs", "klettres:pt_BR", "codec2:g3plx"),
    "test": (
        "fillets-cs:v", "asterisk:ivrvoice-ru",
        "klettres:he", "klettres:hu", "klettres:lt", "klettres:ru", "klettres:uk",
        "codec2:cq_ref", "codec2:kristoff", "codec2:vk5qi",
    ),
}
SPLIT_OF_SPEAKER = {speaker: split for split, speakers in RECORDED_SPLITS.items() for speaker in speakers}

# Real recorded, roughly stationary noise. Left out of Sonic Pi's ambience: ambi_choir and ambi_piano (music),
# ambi_swoosh and ambi_dark_woosh (one-shot transients).
NOISE_CLIPS = tuple(f"sonic-pi/samples/{name}.flac" for name in (
    "ambi_drone", "ambi_glass_hum", "ambi_glass_rub", "ambi_haunted_hum", "ambi_lunar_land", "ambi_sauna",
    "ambi_soft_buzz", "loop_3d_printer", "loop_industrial", "vinyl_hiss")) + ("sounds/alsa/Noise.wav",)


class UnusableRecordingError(AudioError):
    """A recording that reads but holds no usable speech (silent, or too short once silence is trimmed)."""


@dataclass(frozen=True)
class RecordedUtterance:
    """One recorded file: who speaks, which Debian package it comes from, its own rate and length."""

    path: Path
    speaker: str        # globally unique: '<corpus>:<voice>'
    source: str         # the Debian package
    sample_rate: int    # the file's own rate (headerless .raw: the package's rate)
    num_samples: int    # as stored, before silence trimming

    @property
    def duration_s(self) -> float:
        return self.num_samples / self.sample_rate


def split_of_speaker(speaker: str) -> str:
    """'train', 'valid' or 'test' for a speaker of RECORDED_SPLITS; ValueError for any other."""
    if speaker not in SPLIT_OF_SPEAKER:
        raise ValueError(f"recorded speaker {speaker!r} has no split: add it to RECORDED_SPLITS in {__file__}")
    return SPLIT_OF_SPEAKER[speaker]


def _walk(folder: Path) -> Iterator[tuple[Path, list[str]]]:
    """(folder, sorted file names) below `folder`, never entering a held-out folder."""
    for current, subfolders, files in os.walk(folder):
        subfolders[:] = sorted(name for name in subfolders if name not in HELD_OUT_FOLDERS)
        yield Path(current), sorted(files)


def _utterance(path: Path, speaker: str, source: str) -> RecordedUtterance:
    if path.suffix == ".raw":
        rate = RAW_SAMPLE_RATES[source]
        return RecordedUtterance(path, speaker, source, rate, path.stat().st_size // 2)
    try:
        info = sf.info(path)
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise AudioError(f"{path}: cannot read the audio header ({err}); is package {source} intact?") from err
    return RecordedUtterance(path, speaker, source, info.samplerate, info.frames)


def _fillets(root: Path) -> Iterator[RecordedUtterance]:
    for folder, files in _walk(root / FILLETS_SOUND):
        if folder.name != FILLETS_LANGUAGE:
            continue
        for name in files:
            path = folder / name
            fields = path.stem.split("-")
            # the resolved parent guards against a link from a `cs` folder into another language
            if (path.suffix == ".ogg" and len(fields) >= 3 and fields[1] in FILLETS_SPEAKERS
                    and path.resolve().parent.name == FILLETS_LANGUAGE):
                yield _utterance(path, FILLETS_SPEAKERS[fields[1]], "fillets-ng-data-cs")


def _asterisk(root: Path) -> Iterator[RecordedUtterance]:
    for voice, (package, speaker) in ASTERISK_VOICES.items():
        voice_folder = root / ASTERISK_SOUNDS / voice
        for folder, files in _walk(voice_folder):
            if set(folder.relative_to(voice_folder).parts) & set(ASTERISK_NON_SPEECH_FOLDERS):
                continue
            for name in files:
                if name.endswith(".wav") and name not in ASTERISK_NON_SPEECH:
                    yield _utterance(folder / name, speaker, package)


def _klettres(root: Path) -> Iterator[RecordedUtterance]:
    klettres = root / KLETTRES
    for folder, files in _walk(klettres):
        for name in files:
            if name.endswith(".ogg") and len(folder.relative_to(klettres).parts) == 2:
                language = folder.parent.name
                yield _utterance(folder / name, f"klettres:{language}", "klettres-data")


def _codec2(root: Path) -> Iterator[RecordedUtterance]:
    for relative, speaker in CODEC2_FILES.items():
        if (root / CODEC2 / relative).is_file():
            yield _utterance(root / CODEC2 / relative, speaker, "codec2-examples")


def _pocketsphinx(root: Path) -> Iterator[RecordedUtterance]:
    data = root / POCKETSPHINX
    for folder, files in _walk(data):
        speaker = POCKETSPHINX_SPEAKERS.get(folder.name, POCKETSPHINX_OTHERS)
        for name in files:
            if name.endswith((".wav", ".raw")):
                yield _utterance(folder / name, speaker, "pocketsphinx-testdata")


def find_recorded_speech(root: Path = DEBIAN_SHARE) -> list[RecordedUtterance]:
    """Every recorded utterance installed under `root` (normally /usr/share), sorted by path; [] when none of
    the packages is installed. Reads file headers only; fillets files only from `cs` folders."""
    root = Path(root)
    found = [utt for finder in (_fillets, _asterisk, _klettres, _codec2, _pocketsphinx) for utt in finder(root)]
    return sorted(found, key=lambda utt: utt.path.as_posix())


def _read_raw_int16(path: Path) -> np.ndarray:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise AudioError(f"{path}: cannot read ({err})") from err
    if not data or len(data) % 2:
        raise AudioError(f"{path}: {len(data)} bytes is not a non-empty run of 16-bit samples")
    return np.frombuffer(data, "<i2").astype(np.float32) / 32768


def _read_mono(utterance: RecordedUtterance) -> np.ndarray:
    """The file at its own rate, channels averaged (some klettres files are stereo, a few with one silent
    channel)."""
    path = utterance.path
    if path.suffix == ".raw":
        return _read_raw_int16(path)
    wave, rate = read_audio(path, channel=0)
    if rate != utterance.sample_rate:
        raise AudioError(f"{path}: stored at {rate} Hz, but listed at {utterance.sample_rate} Hz; "
                         "find the files again with find_recorded_speech")
    channels = sf.info(path).channels
    for channel in range(1, channels):
        wave = wave + read_audio(path, channel=channel)[0]
    return wave / channels


def load_recorded(utterance: RecordedUtterance, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The utterance as mono float32 at `sample_rate`: DC removed, peak at most full scale, leading and
    trailing silence trimmed. AudioError for an unreadable file; UnusableRecordingError (an AudioError) for
    a silent one or one shorter than MIN_SPEECH_S once trimmed."""
    wave = _read_mono(utterance)
    wave = resample(wave - wave.mean(), utterance.sample_rate, sample_rate)
    peak = float(np.abs(wave).max())
    if peak < SILENT_PEAK:
        raise UnusableRecordingError(f"{utterance.path}: silent (peak {peak:.1e} after DC removal)")
    if peak > 1:    # a few klettres Ogg files decode to peaks of 10-60 times full scale
        wave = wave / peak
    min_samples = int(MIN_SPEECH_S * sample_rate)
    if len(wave) >= min_samples:
        wave = trim_silence(wave, sample_rate)
    if len(wave) < min_samples:
        raise UnusableRecordingError(f"{utterance.path}: {len(wave) / sample_rate:.2f} s of speech once "
                                     f"silence is trimmed, under the {MIN_SPEECH_S} s minimum")
    return wave.astype(np.float32, copy=False)


def iter_usable_recordings(utterances: Iterable[RecordedUtterance], sample_rate: int = SAMPLE_RATE,
                           skipped: list | None = None) -> Iterator[tuple[RecordedUtterance, np.ndarray]]:
    """(utterance, load_recorded wave) for each usable utterance; the others are left out and, when
    `skipped` is given, appended to it as (utterance, reason)."""
    for utterance in utterances:
        try:
            wave = load_recorded(utterance, sample_rate)
        except AudioError as err:
            if skipped is not None:
                skipped.append((utterance, str(err)))
            continue
        yield utterance, wave


def _table(title: str, rows: dict[str, list[RecordedUtterance]], split_column: bool = False) -> list[str]:
    lines = [f"{title:<28}{'split  ' if split_column else ''}{'files':>7}{'minutes':>9}"]
    for name, group in rows.items():
        split = f"{split_of_speaker(name):<7}" if split_column else ""
        minutes = sum(utt.duration_s for utt in group) / 60
        lines.append(f"{name:<28}{split}{len(group):>7}{minutes:>9.1f}")
    return lines + [""]


def describe_recorded_speech(utterances: list[RecordedUtterance]) -> str:
    """Files and minutes (as stored, before silence trimming) per split, source and speaker, as text."""
    if not utterances:
        return f"no recorded speech found; install it with: {APT_INSTALL}"
    groups = {key: defaultdict(list) for key in ("split", "source", "speaker")}
    for utt in utterances:
        groups["split"][split_of_speaker(utt.speaker)].append(utt)
        groups["source"][utt.source].append(utt)
        groups["speaker"][utt.speaker].append(utt)
    by_split = {split: groups["split"][split] for split in RECORDED_SPLITS if split in groups["split"]}
    lines = (_table("split", by_split) + _table("source", dict(sorted(groups["source"].items())))
             + _table("speaker", dict(sorted(groups["speaker"].items())), split_column=True))
    return "\n".join(lines).rstrip()


def find_noise_clips(root: Path = DEBIAN_SHARE) -> list[Path]:
    """The installed NOISE_CLIPS under `root` (sonic-pi-samples, alsa-utils), sorted; [] when none is."""
    return sorted(Path(root) / clip for clip in NOISE_CLIPS if (Path(root) / clip).is_file())
