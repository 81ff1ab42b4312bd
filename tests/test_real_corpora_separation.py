"""Real separation corpora on tiny fake trees: whole-tree layout checks (LRS2-2Mix, Libri2Mix, WHAM!) and
mixtures made from a folder of single-speaker utterances, read back and trained on for one step."""
import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechkit.mixtures import find_utterances, make_mixtures
from speechkit.separation_data import LayoutError, SeparationDataset, check_corpus, split_folder
from tdanet.config import DataConfig, ModelConfig, TDANetConfig
from tdanet.recipe import train

from .fake_corpora import separation_corpus, speaker_tree, write_wav

REPO = Path(__file__).resolve().parents[1]
TINY_MODEL = {"in_channels": 16, "out_channels": 8, "num_blocks": 2, "upsampling_depth": 3, "num_heads": 2}


def first_split(root: Path, layout: str) -> Path:
    return root / {"lrs2mix": "tr", "libri2mix": "wav8k/min/dev", "wham": "wav8k/min/tt"}[layout]


@pytest.mark.parametrize("layout", ["lrs2mix", "libri2mix", "wham"])
def test_check_corpus_accepts_each_layout(tmp_path, layout):
    found = check_corpus(separation_corpus(tmp_path, layout), layout)
    expected = {"lrs2mix": 3, "libri2mix": 6, "wham": 6}[layout]  # splits x mixture folders
    assert len(found) == expected and all(len(mixtures) == 2 for mixtures in found.values())
    if layout == "libri2mix":
        assert "wav8k/min/dev/mix_clean" in found


@pytest.mark.parametrize("layout", ["lrs2mix", "libri2mix", "wham"])
def test_a_mixture_without_its_source_is_named(tmp_path, layout):
    separation_corpus(tmp_path, layout)
    missing = first_split(tmp_path, layout) / "s2" / "b.wav"
    missing.unlink()
    with pytest.raises(LayoutError, match=f"b.wav: missing source file.*{missing}"):
        check_corpus(tmp_path, layout)


def test_a_length_mismatch_is_named(tmp_path):
    separation_corpus(tmp_path, "wham")
    write_wav(tmp_path / "wav8k/min/cv/s1/a.wav", 8000, seconds=0.2)
    with pytest.raises(LayoutError, match=r"a.wav: lengths differ.*\[2400, 1600, 2400\]"):
        check_corpus(tmp_path, "wham")


def test_a_rate_other_than_the_folder_name_says_is_named(tmp_path):
    separation_corpus(tmp_path, "libri2mix")
    for folder in ("mix_clean", "s1", "s2"):
        write_wav(tmp_path / "wav8k/min/test" / folder / "b.wav", 16000)
    with pytest.raises(LayoutError, match=r"b.wav: sample rates \[16000, 16000, 16000\] Hz, expected 8000 Hz"):
        check_corpus(tmp_path, "libri2mix")


def test_empty_and_missing_folders_are_named(tmp_path):
    separation_corpus(tmp_path, "lrs2mix")
    for wav in (tmp_path / "cv/mix").glob("*.wav"):
        wav.unlink()
    for wav in (tmp_path / "tt/s1").glob("*.wav"):
        wav.unlink()
    (tmp_path / "tt/s1").rmdir()
    with pytest.raises(LayoutError) as err:
        check_corpus(tmp_path, "lrs2mix")
    assert f"{tmp_path / 'cv/mix'}: no .wav files" in str(err.value)
    assert f"folder not found: {tmp_path / 'tt/s1'}" in str(err.value)


def test_a_libri2mix_tree_needs_some_split(tmp_path):
    (tmp_path / "wav16k/max").mkdir(parents=True)
    with pytest.raises(LayoutError, match="wav16k/max: no split folder .*train-100"):
        check_corpus(tmp_path, "libri2mix")


def test_check_script_prints_a_summary_or_the_error(tmp_path):
    separation_corpus(tmp_path, "wham")
    script = [sys.executable, "scripts/0_check_corpus.py", "--layout", "wham", str(tmp_path)]
    good = subprocess.run(script, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert good.returncode == 0, good.stderr[-2000:]
    assert "wav8k/min/tt/mix_both: 2 mixtures, 8000 Hz" in good.stdout and "total: 12 mixtures" in good.stdout
    (tmp_path / "wav8k/min/tt/s1/a.wav").unlink()
    bad = subprocess.run(script, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert bad.returncode == 2 and "missing source file" in bad.stderr


# ---------------------------------------------------------------- mixtures from single-speaker utterances
def make_script(root: Path, out: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "scripts/0_make_mixtures.py", str(root), "--out", str(out),
                           "--sample-rate", "8000", "--segment-s", "0.25", "--counts", "4", "2", "2", *options],
                          capture_output=True, text=True, cwd=REPO, timeout=120)


def read_rows(manifest: Path) -> list[dict]:
    with open(manifest, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """Mixtures made twice by the script from one speaker tree: returns the parent of runs `a` and `b`."""
    work = tmp_path_factory.mktemp("mixtures")
    speaker_tree(work / "speakers")
    for run in ("a", "b"):
        result = make_script(work / "speakers", work / run)
        assert result.returncode == 0, result.stderr[-2000:]
    return work


def test_made_mixtures_have_the_lrs2mix_layout_and_mix_is_the_sum(made):
    found = check_corpus(made / "a", "lrs2mix")
    assert [len(found[f"{split}/mix"]) for split in ("tr", "cv", "tt")] == [4, 2, 2]
    for row in read_rows(made / "a" / "tr.csv"):
        mix, s1, s2 = (sf.read(made / "a" / row[f"{part}_path"])[0] for part in ("mix", "s1", "s2"))
        assert len(mix) == 2000 and np.abs(mix - (s1 + s2)).max() <= 2 / 2**15  # two 16-bit roundings
        assert (made / "a" / row["s1_utterance_path"]).is_file() and abs(float(row["level_db"])) <= 5


def test_speakers_are_disjoint_across_splits_and_differ_within_a_mixture(made):
    speakers = {}
    for split in ("tr", "cv", "tt"):
        rows = read_rows(made / "a" / f"{split}.csv")
        assert all(row["s1_speaker"] != row["s2_speaker"] for row in rows)
        speakers[split] = {row[c] for row in rows for c in ("s1_speaker", "s2_speaker")}
    assert not (speakers["tr"] & speakers["cv"] or speakers["tr"] & speakers["tt"] or speakers["cv"] & speakers["tt"])


def test_two_runs_are_byte_identical(made):
    files_a = sorted(p.relative_to(made / "a") for p in (made / "a").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(made / "b") for p in (made / "b").rglob("*") if p.is_file())
    assert files_a == files_b and len(files_a) == 3 * 8 + 3
    assert all((made / "a" / f).read_bytes() == (made / "b" / f).read_bytes() for f in files_a)


def test_a_non_empty_output_folder_needs_overwrite(tmp_path):
    utterances = find_utterances(speaker_tree(tmp_path / "speakers"))
    make_mixtures(utterances, tmp_path / "out", (4, 2, 2), 8000, show_progress=False)
    with pytest.raises(FileExistsError, match="not empty; pass --overwrite"):
        make_mixtures(utterances, tmp_path / "out", (2, 2, 2), 8000, show_progress=False)
    make_mixtures(utterances, tmp_path / "out", (2, 2, 2), 8000, overwrite=True, show_progress=False)
    assert len(read_rows(tmp_path / "out" / "tr.csv")) == 2 and len(list((tmp_path / "out/tr/mix").iterdir())) == 2


def test_full_length_uses_the_shorter_utterance(tmp_path):
    utterances = find_utterances(speaker_tree(tmp_path / "speakers"))
    make_mixtures(utterances, tmp_path / "out", (4, 2, 2), 8000, segment_s=None, show_progress=False)
    for row in read_rows(tmp_path / "out" / "tt.csv"):
        shorter = min(sf.info(tmp_path / "out" / row[c]).frames for c in ("s1_utterance_path", "s2_utterance_path"))
        assert sf.info(tmp_path / "out" / row["mix_path"]).frames == shorter // 2  # 16 kHz -> 8 kHz


def test_bad_inputs_are_clear_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no audio files"):
        find_utterances(tmp_path / "empty")
    few = find_utterances(speaker_tree(tmp_path / "few", speakers=5))
    with pytest.raises(ValueError, match="5 speaker.*at least 2 per split"):
        make_mixtures(few, tmp_path / "out", (4, 2, 2), 8000)
    speaker_tree(tmp_path / "broken", utterances=1)
    (tmp_path / "broken/spk3/u0.wav").write_bytes(b"not audio")
    with pytest.raises(ValueError, match="spk3/u0.wav: cannot read as audio"):
        make_mixtures(find_utterances(tmp_path / "broken"), tmp_path / "out2", (40, 20, 20), 8000,
                      show_progress=False)
    assert not list((tmp_path / "out2").glob("*.csv"))  # a failed run leaves no manifest


def test_speakers_can_come_from_a_csv(tmp_path):
    root = tmp_path / "flat"
    rows = ["path,speaker"]
    for index in range(8):
        write_wav(root / f"clip{index}.wav", 16000, seed=index)
        rows.append(f"clip{index}.wav,talker{index % 6}")
    (tmp_path / "speakers.csv").write_text("\n".join(rows) + "\n")
    utterances = find_utterances(root, tmp_path / "speakers.csv")
    assert [u.speaker for u in utterances[:2]] == ["talker0", "talker1"]
    make_mixtures(utterances, tmp_path / "out", (2, 2, 2), 8000, show_progress=False)
    assert {r["s1_speaker"] for r in read_rows(tmp_path / "out" / "tr.csv")} <= {f"talker{i}" for i in range(6)}


def test_one_training_step_runs_on_made_mixtures(made, tmp_path):
    mixtures = split_folder(made / "b" / "tr", sample_rate=8000)
    mixture, sources = SeparationDataset(mixtures, 8000, segment_s=0.25)[0]
    assert mixture.shape == (2000,) and sources.shape == (2, 2000)
    cfg = TDANetConfig(name="tiny", checkpoint_dir=str(tmp_path), model=ModelConfig(**TINY_MODEL),
                       data=DataConfig(train=str(made / "b" / "tr"), valid=str(made / "b" / "cv"),
                                       test=str(made / "b" / "tt"), sample_rate=8000, segment_s=0.25))
    cfg.train.epochs, cfg.train.batch_size, cfg.train.progress = 1, 4, False
    info = train(cfg)
    assert info["epoch"] == 1 and np.isfinite(info["history"][0]["train_loss"])
