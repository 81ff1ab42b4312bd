"""The built-in default corpus, synthesized offline: TTS speech, simulated rooms, noise and mixtures."""
from speechkit.corpus.default_corpus import (SCALES, CorpusSizes, SplitCounts, describe_corpus,
                                             make_default_corpus, t60_histogram)
from speechkit.corpus.noise import babble, coloured_noise, mix_at_snr
from speechkit.corpus.rooms import Room, T60MeasurementError, make_room, measure_t60, simulate_rir
from speechkit.corpus.sentences import random_sentence
from speechkit.corpus.synthesis import Prosody, SynthesisError, Voice, require_engines, split_voices, synthesize

__all__ = [
    "SCALES", "CorpusSizes", "SplitCounts", "describe_corpus", "make_default_corpus",
    "t60_histogram", "babble", "coloured_noise", "mix_at_snr", "Room", "T60MeasurementError", "make_room",
    "measure_t60", "simulate_rir", "random_sentence", "Prosody", "SynthesisError", "Voice", "require_engines",
    "split_voices", "synthesize",
]
