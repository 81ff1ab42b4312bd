"""The fixed validation and test sets of the default corpus, written once from the drawn-data engine.

Training draws fresh items every step (speechkit.drawn_data); validation and test stay files, so that
numbers compare across runs. They are drawn by the same functions from the valid / test pools (speakers
and rooms never used in training), with the conditions a report needs balanced rather than drawn:
T60 items cycle through clean / 0 / 10 / 20 dB and alternate synthetic and recorded speech; mixtures cycle
through synthetic / recorded / mixed speaker pairs, each anechoic and reverberant.
"""
from pathlib import Path

import numpy as np

from speechkit.audio import write_audio
from speechkit.drawn_data import MixtureDraw, Pools, T60Draw, draw_mixture, draw_t60_item
from speechkit.manifest import write_manifest

TEST_SNRS_DB = (None, 0.0, 10.0, 20.0)  # None: clean
SPEECH_KINDS = ("tts", "recorded")
MIXTURE_TYPES = tuple((kinds, reverberant) for kinds in (("tts", "tts"), ("recorded", "recorded"), ("tts", "recorded"))
                      for reverberant in (False, True))
MIXTURE_SPLITS = {"train": "tr", "valid": "cv", "test": "tt"}


def write_t60_set(pools: Pools, out_dir: Path, split: str, count: int, seed_words: list[int],
                  draw: T60Draw = T60Draw()) -> list[dict]:
    """`count` reverberant utterances in out_dir/t60/{split}/ and the manifest out_dir/t60/{split}.csv."""
    rows = []
    for index in range(count):
        rng = np.random.default_rng([*seed_words, index])
        num_samples = round(rng.uniform(*draw.duration_s) * pools.sample_rate)
        snr_db = TEST_SNRS_DB[index % len(TEST_SNRS_DB)]
        kind = SPEECH_KINDS[index // len(TEST_SNRS_DB) % len(SPEECH_KINDS)]
        wave, t60_s, info = draw_t60_item(pools, rng, num_samples, draw, snr_db=snr_db, kind=kind)
        name = f"{split}_rev{index:05d}"
        write_audio(out_dir / "t60" / split / f"{name}.wav", wave, pools.sample_rate)
        rows.append({"path": f"{split}/{name}.wav", "t60_s": f"{t60_s:.6f}",
                     "snr_db": "" if snr_db is None else f"{snr_db:g}", "noise": info["noise"],
                     "voice": info["voice"], "kind": info["kind"], "room": info["room"],
                     "duration_s": f"{num_samples / pools.sample_rate:.4f}"})
    write_manifest(out_dir / "t60" / f"{split}.csv", rows)
    return rows


def write_mixture_set(pools: Pools, out_dir: Path, split: str, count: int, seed_words: list[int],
                      segment_s: float, draw: MixtureDraw = MixtureDraw()) -> list[dict]:
    """`count` two-speaker mixtures in the LRS2-2Mix layout, out_dir/lrs2mix/{tr,cv,tt}/{mix,s1,s2}/, with
    a manifest out_dir/lrs2mix/{tr,cv,tt}.csv naming each mixture's type."""
    folder = out_dir / "lrs2mix" / MIXTURE_SPLITS[split]
    rows = []
    for index in range(count):
        rng = np.random.default_rng([*seed_words, index])
        kinds, reverberant = MIXTURE_TYPES[index % len(MIXTURE_TYPES)]
        mixture, sources, info = draw_mixture(pools, rng, round(segment_s * pools.sample_rate), draw,
                                              kinds=kinds, reverberant=reverberant)
        name = f"{MIXTURE_SPLITS[split]}_mix{index:05d}"
        for part, wave in (("mix", mixture), ("s1", sources[0]), ("s2", sources[1])):
            write_audio(folder / part / f"{name}.wav", wave, pools.sample_rate)
        relative = MIXTURE_SPLITS[split]  # paths relative to the manifest lrs2mix/{tr,cv,tt}.csv
        rows.append({"mix_path": f"{relative}/mix/{name}.wav", "s1_path": f"{relative}/s1/{name}.wav",
                     "s2_path": f"{relative}/s2/{name}.wav", "type": mixture_type(info),
                     **{k: v for k, v in info.items() if k != "reverberant"},
                     "level_db": f"{info['level_db']:.4f}"})
    write_manifest(out_dir / "lrs2mix" / f"{MIXTURE_SPLITS[split]}.csv", rows)
    return rows


def mixture_type(info: dict) -> str:
    """A mixture's type as reported per line of the results: e.g. 'recorded+tts reverberant'."""
    pair = "+".join(sorted((info["s1_kind"], info["s2_kind"])))
    return f"{pair} {'reverberant' if info['reverberant'] else 'anechoic'}"
