"""Dry synthetic utterances for the speech pools: sentences said by the Debian TTS voices, planned per index.

Each utterance is a few random sentences said by one voice with one prosody, joined by short pauses and
sized to UTTERANCE_RANGE_S. Every draw comes from np.random.default_rng([*seed_words, index]), the seed words
naming the corpus seed, the stage and the split.
"""
from dataclasses import dataclass

import numpy as np

from speechkit.audio import write_audio
from speechkit.corpus.building import chunks
from speechkit.corpus.sentences import random_sentence
from speechkit.corpus.synthesis import SAMPLE_RATE, Prosody, Voice, split_voices, synthesize, trim_silence

UTTERANCE_RANGE_S = (1.5, 6.0)
UTTERANCE_TARGET_S = (2.0, 5.0)  # planned (estimated) duration, inside UTTERANCE_RANGE_S with margin
SECONDS_PER_WORD = 0.29  # all engines speak ~0.29 s per word at speed 1
PAUSE_RANGE_S = (0.15, 0.45)
SPEED_RANGE = (0.88, 1.12)
PITCH_RANGE = (30, 70)
ENGINE_CYCLE = ("espeak-ng", "flite", "espeak-ng", "festival")  # utterance i uses ENGINE_CYCLE[i % 4]
FESTIVAL_BATCH = 24  # utterances per festival process


def utterance_id(split: str, index: int) -> str:
    return f"{split}_utt{index:05d}"


@dataclass(frozen=True)
class UtterancePlan:
    """What one dry utterance says and how: sentences joined by pauses (one per sentence; the last
    is used only if the utterance must be repeated to reach the minimum duration)."""

    id: str
    voice: Voice
    prosody: Prosody
    sentences: tuple[str, ...]
    pauses_s: tuple[float, ...]


def plan_utterance(seed_words: list[int], split: str, index: int) -> UtterancePlan:
    """Voice, prosody and sentences of utterance `index`, sized to land in UTTERANCE_RANGE_S."""
    rng = np.random.default_rng([*seed_words, index])
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


def speak_group(context: tuple, plans: list[UtterancePlan]) -> list[dict]:
    """Synthesize plans sharing one voice (one engine call batch), write the WAVs, return manifest rows."""
    out_dir, split = context  # rows for the speech pool manifest speech/{split}.csv
    requests = [(sentence, plan.prosody) for plan in plans for sentence in plan.sentences]
    pieces = iter(synthesize(plans[0].voice, requests))
    rows = []
    for plan in plans:
        wave, text = fit_duration([trim_silence(next(pieces)) for _ in plan.sentences], plan)
        write_audio(out_dir / "speech" / split / f"{plan.id}.wav", wave, SAMPLE_RATE)
        rows.append({"path": f"{split}/{plan.id}.wav", "voice": plan.voice.id, "kind": "tts", "engine": plan.voice.engine,
                     "text": text, "duration_s": f"{len(wave) / SAMPLE_RATE:.4f}"})
    return rows


def speech_groups(plans: list[UtterancePlan]) -> list[list[UtterancePlan]]:
    """Festival utterances batched per voice (one process per batch, slowest tasks first), then one group
    per espeak-ng/flite utterance."""
    groups = []
    for voice in sorted({plan.voice for plan in plans if plan.voice.engine == "festival"}, key=str):
        groups += chunks([plan for plan in plans if plan.voice == voice], FESTIVAL_BATCH)
    return groups + [[plan] for plan in plans if plan.voice.engine != "festival"]
