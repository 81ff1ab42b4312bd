"""Tiny fake copies of the real corpora, in their own layouts, for the preparation and recipe tests.

The audio is noise (separation corpora) or decaying noise (T60 material): enough for every reader,
checker and training step, small enough to write in milliseconds.
"""
from pathlib import Path

import numpy as np
import scipy.io
import soundfile as sf

SEPARATION_LENGTH_S = 0.3
# Fake RIRs: exponentially decaying noise reaching -60 dB at the given T60 (one AIR-format .mat file).
RIR_T60_S = {"air/air_x.mat": 0.6, "reverb/hall.wav": 0.8, "reverb/office.wav": 0.3, "rwcp/e1/room.flac": 0.5}


def write_wav(path: Path, rate: int, seconds: float = SEPARATION_LENGTH_S, seed: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, 0.1 * np.random.default_rng(seed).standard_normal(round(seconds * rate)), rate)


def decaying_noise(t60_s: float, rate: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(1.2 * t60_s * rate)) / rate
    return (rng.standard_normal(len(t)) * 10 ** (-3 * t / t60_s)).astype(np.float32)  # -60 dB at t60_s


# ---------------------------------------------------------------- separation corpora
def write_split(split_dir: Path, folders: tuple[str, ...], rate: int, names=("a", "b")) -> None:
    for folder in folders:
        for name in names:
            write_wav(split_dir / folder / f"{name}.wav", rate)


def separation_corpus(root: Path, layout: str) -> Path:
    """The smallest tree of each layout: two mixtures per split folder, 8 kHz where the path says wav8k."""
    if layout == "lrs2mix":
        for split in ("tr", "cv", "tt"):
            write_split(root / split, ("mix", "s1", "s2"), 16000)
    elif layout == "libri2mix":  # no train-360 and no mix_single, as in a partial download
        for split in ("train-100", "dev", "test"):
            write_split(root / "wav8k/min" / split, ("mix_clean", "mix_both", "s1", "s2"), 8000)
    else:
        for split in ("tr", "cv", "tt"):
            write_split(root / "wav8k/min" / split, ("mix_clean", "mix_both", "s1", "s2"), 8000)
    return root


def speaker_tree(root: Path, speakers: int = 6, utterances: int = 3) -> Path:
    """ROOT/spkN/uM.wav at 16 kHz, 0.3 to 0.5 s long: single-speaker utterances for 0_make_mixtures."""
    for s in range(speakers):
        for u in range(utterances):
            write_wav(root / f"spk{s}" / f"u{u}.wav", 16000, seconds=0.3 + 0.1 * u, seed=10 * s + u)
    return root


# ---------------------------------------------------------------- AWSSDR training-set sources
def speech_burst(rate: int, rng: np.random.Generator, seconds: float = 0.5) -> np.ndarray:
    n = int(seconds * rate)
    return (rng.standard_normal(n) * np.hanning(n) * 0.3).astype(np.float32)


def timit_tree(root: Path, seed: int = 1) -> Path:
    """TIMIT's layout: TRAIN/DR*/SPEAKER/*.WAV as NIST SPHERE files at 16 kHz, beside transcription files."""
    rng = np.random.default_rng(seed)
    for speaker in ("DR1/FCJF0", "DR1/MDPK0", "DR2/FAEM0"):
        for sentence in ("SA1", "SI648"):
            stem = root / "TRAIN" / speaker / sentence
            stem.parent.mkdir(parents=True, exist_ok=True)
            sf.write(stem.with_suffix(".WAV"), speech_burst(16000, rng), 16000, format="NIST", subtype="PCM_16")
            stem.with_suffix(".PHN").write_text("0 2000 h#\n")
    return root


def short_utterance_tree(root: Path, seed: int = 2) -> Path:
    """Speech Commands' layout: WORD/SPEAKER_nohash_N.wav, one second at 16 kHz (training set 2 adds these)."""
    rng = np.random.default_rng(seed)
    for word in ("yes", "no"):
        (root / word).mkdir(parents=True, exist_ok=True)
        sf.write(root / word / "0a7c2a8d_nohash_0.wav", speech_burst(16000, rng, seconds=1.0), 16000)
    return root


def rir_tree(root: Path, seed: int = 3) -> Path:
    """RIRs at 48 kHz from several collections (RIR_T60_S), one of them in the Aachen AIR .mat format."""
    rng = np.random.default_rng(seed)
    for name, t60_s in RIR_T60_S.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        rir = decaying_noise(t60_s, 48000, rng)
        if path.suffix == ".mat":
            scipy.io.savemat(path, {"h_air": rir[None].astype(np.float64), "air_info": {"fs": 48000}})
        else:
            sf.write(path, rir, 48000, subtype="PCM_24" if path.suffix == ".flac" else "FLOAT")
    return root


def noise_tree(root: Path, seed: int = 4) -> Path:
    """Noise recordings named after their type, as the Aurora-4 noises are, at 16 kHz."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for name in ("babble", "car", "street"):
        sf.write(root / f"{name}.wav", (rng.standard_normal(16000 * 2) * 0.1).astype(np.float32), 16000)
    return root


# ---------------------------------------------------------------- ACE challenge speech
ACE_EVAL_ROOM_CONFIGS = ("Lecture_Room_1_1", "Lecture_Room_2_2", "Meeting_Room_1_1", "Office_2_2")
ACE_DEV_ROOM_CONFIGS = ("Building_Lobby_1", "Office_1_2")


def ace_tree(root: Path, room_configs=ACE_EVAL_ROOM_CONFIGS, seed: int = 5) -> Path:
    """ACE-style single-channel speech: <room>/<config>/Single_<room>_<config>_<talker>_<utt>_<noise>_<snr>dB.wav,
    each a burst of noise convolved with decaying noise, one file per room position, noise type and SNR."""
    rng = np.random.default_rng(seed)
    for index, room_config in enumerate(room_configs):
        room, config = room_config.rsplit("_", 1)
        for noise, snr in (("Ambient", "18"), ("Babble", "12"), ("Fan", "-1")):
            talker = ("F1", "M2")[index % 2]
            wave = np.convolve(speech_burst(16000, rng), decaying_noise(0.3 + 0.2 * index, 16000, rng))
            path = root / room / config / f"Single_{room}_{config}_{talker}_s{index % 5 + 1}_{noise}_{snr}dB.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, 0.5 * wave / np.abs(wave).max(), 16000)
    return root
