"""Every numbered script the README names, run end to end as its command line runs it, on tiny fake trees
of each corpus (and on the tiny default corpus): preparation, training for one epoch, testing."""
import json
import re

import pytest
import torch

from speechkit.manifest import read_manifest

from .fake_corpora import (ACE_DEV_ROOM_CONFIGS, RIR_T60_S, ace_tree, noise_tree, rir_tree, separation_corpus,
                           short_utterance_tree, speaker_tree, timit_tree)
from .script_runner import REPO_ROOT, SCRIPTS_RUN, run_script

TINY_AWSSDR = {"train.epochs": 1, "train.progress": False, "model.hidden": 32}
TINY_TDANET = {"train.epochs": 1, "train.batch_size": 2, "train.progress": False, "model.in_channels": 16,
               "model.out_channels": 8, "model.num_blocks": 2, "model.upsampling_depth": 3, "model.num_heads": 2}


def overrides(settings: dict) -> list[str]:
    return [arg for key, value in settings.items() for arg in ("--set", f"{key}={value}")]


# ---------------------------------------------------------------- AWSSDR: training sets 1 and 2, ACE
@pytest.fixture(scope="module")
def t60_sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("t60_sources")
    timit_tree(root / "TIMIT")
    short_utterance_tree(root / "speech_commands")
    rir_tree(root / "rirs")
    noise_tree(root / "noise")
    ace_tree(root / "ACE" / "Eval" / "Speech" / "Single")
    ace_tree(root / "ACE" / "Dev" / "Speech" / "Single", ACE_DEV_ROOM_CONFIGS)
    return root


def prepare_set(sources, out, *speech: str, extra=()) -> None:
    run_script("0_prepare_trainset.py", "--speech", *(sources / s for s in speech), "--rirs", sources / "rirs",
               "--noise", sources / "noise", "--out", out, "--valid-fraction", 0.25, "--workers", 1, *extra)


def test_training_set_1_and_ace_eval(t60_sources, tmp_path, capsys):
    prepare_set(t60_sources, tmp_path / "trainset1", "TIMIT/TRAIN")
    rows = read_manifest(tmp_path / "trainset1" / "train.csv") + read_manifest(tmp_path / "trainset1" / "valid.csv")
    assert len(rows) == 6 and all(row["speech"].endswith(".WAV") for row in rows)  # the TIMIT files, no .PHN
    assert {round(float(r["t60_s"]), 1) for r in read_manifest(tmp_path / "trainset1" / "rirs.csv")} == {
        round(t, 1) for t in RIR_T60_S.values()}

    run_script("0_prepare_ace.py", "--ace", t60_sources / "ACE/Eval/Speech/Single", "--out", tmp_path / "ace")
    work = {"data.train": tmp_path / "trainset1/train.csv", "data.valid": tmp_path / "trainset1/valid.csv",
            "data.test": tmp_path / "ace/eval.csv", "data.cache_dir": tmp_path / "cache",
            "checkpoint_dir": tmp_path, **TINY_AWSSDR}
    run_script("1_trainset1.py", *overrides(work))
    assert json.loads((tmp_path / "awssdr_trainset1.dnn" / "checkpoint.json").read_text())["epoch"] == 1
    capsys.readouterr()
    run_script("1_testset1.py", *overrides(work))
    table = capsys.readouterr().out
    for subset in ("all", "SNR -1 dB", "Lecture_Room_2", "Office_2", "Babble", "Fan -1 dB"):
        assert re.search(rf"^{re.escape(subset)}\s+\d+\s", table, re.MULTILINE), (subset, table)
    summary = json.loads((tmp_path / "awssdr_trainset1.eval" / "eval" / "summary.json").read_text())
    assert summary["overall"]["n"] == 12 and set(summary["per_room"]) == {
        "Lecture_Room_1", "Lecture_Room_2", "Meeting_Room_1", "Office_2"}


def test_training_set_2_from_features_only_and_ace_dev(t60_sources, tmp_path, capsys):
    for run in ("a", "b"):  # the same set twice, in folders of the same name: the same manifests and features
        prepare_set(t60_sources, tmp_path / run / "trainset2", "TIMIT/TRAIN", "speech_commands", extra=(
            "--examples-per-rir", 3, "--features-only", "--cache-dir", tmp_path / run / "cache", "--workers", 2))
    assert not (tmp_path / "a" / "trainset2" / "audio").exists()
    assert json.loads((tmp_path / "a/trainset2/prepare.json").read_text())["examples"] == {"train": 9, "valid": 3}
    for name in ("train.csv", "valid.csv", "rirs.csv"):
        assert (tmp_path / "a/trainset2" / name).read_bytes() == (tmp_path / "b/trainset2" / name).read_bytes()
    caches = [sorted((tmp_path / run / "cache").glob("*.pt")) for run in ("a", "b")]
    assert [p.name for p in caches[0]] == [p.name for p in caches[1]] and len(caches[0]) == 2
    for a, b in zip(*caches):
        assert all(torch.equal(x, y) for x, y in zip(torch.load(a), torch.load(b)))

    run_script("0_prepare_ace.py", "--ace", t60_sources / "ACE/Dev/Speech/Single", "--split", "dev",
               "--out", tmp_path / "ace")
    work = {"data.train": tmp_path / "a/trainset2/train.csv", "data.valid": tmp_path / "a/trainset2/valid.csv",
            "data.test": tmp_path / "ace/dev.csv", "data.cache_dir": tmp_path / "a/cache",
            "checkpoint_dir": tmp_path, **TINY_AWSSDR}
    run_script("1_trainset2.py", *overrides(work))
    capsys.readouterr()
    run_script("1_testset2.py", *overrides(work))
    assert re.search(r"^Building_Lobby\s+3\s", capsys.readouterr().out, re.MULTILINE)


def test_preparation_errors_name_the_file_and_leave_no_manifest(t60_sources, tmp_path, capsys):
    bad_rirs = tmp_path / "rirs"
    rir_tree(bad_rirs)
    (bad_rirs / "reverb" / "broken.wav").write_bytes(b"not audio")
    with pytest.raises(SystemExit, match="2"):
        run_script("0_prepare_trainset.py", "--speech", t60_sources / "TIMIT", "--rirs", bad_rirs,
                   "--noise", t60_sources / "noise", "--out", tmp_path / "set")
    assert re.match(r"error: .*broken\.wav", capsys.readouterr().err)
    assert not list((tmp_path / "set").glob("*.csv"))
    with pytest.raises(SystemExit, match="2"):
        run_script("0_prepare_ace.py", "--ace", t60_sources / "ACE/Eval", "--split", "dev", "--out", tmp_path)
    assert "no dev T60 for room_config Lecture_Room_1_1" in capsys.readouterr().err


# ---------------------------------------------------------------- TDANet: LRS2-2Mix, Libri2Mix, WHAM!
SEPARATION_RECIPES = {  # layout: (train script, test script, split folders under the corpus root)
    "lrs2mix": ("2_train_lrs2mix.py", "2_test_lrs2mix.py", ("tr", "cv", "tt")),
    "libri2mix": ("3_train_libri2mix.py", "3_test_libri2mix.py", ("wav8k/min/train-100", "wav8k/min/dev",
                                                                  "wav8k/min/test")),
    "wham": ("4_train_wham.py", "4_test_wham.py", ("wav8k/min/tr", "wav8k/min/cv", "wav8k/min/tt")),
}


@pytest.mark.parametrize("layout", list(SEPARATION_RECIPES))
def test_separation_recipe_on_a_fake_tree(layout, tmp_path, capsys):
    train_script, test_script, splits = SEPARATION_RECIPES[layout]
    root = separation_corpus(tmp_path / layout, layout)
    run_script("0_check_corpus.py", "--layout", layout, root)
    assert f"valid {layout} corpus" in capsys.readouterr().out
    work = {"data.train": root / splits[0], "data.valid": root / splits[1], "data.test": root / splits[2],
            "data.segment_s": 0.25, "checkpoint_dir": tmp_path, **TINY_TDANET}
    run_script(train_script, *overrides(work))
    run_script(test_script, *overrides(work))
    assert "SI-SNRi" in capsys.readouterr().out
    name = f"tdanet_{layout}"
    summary = json.loads((tmp_path / f"{name}.eval" / splits[2].split("/")[-1] / "summary.json").read_text())
    assert summary["n"] == 2


def test_made_mixtures_pass_the_lrs2mix_check_and_train(tmp_path, capsys):
    speakers = speaker_tree(tmp_path / "speakers")
    run_script("0_make_mixtures.py", speakers, "--out", tmp_path / "my2mix", "--sample-rate", 16000,
               "--segment-s", 0.25, "--counts", 4, 2, 2)
    run_script("0_check_corpus.py", "--layout", "lrs2mix", tmp_path / "my2mix")
    assert "valid lrs2mix corpus" in capsys.readouterr().out
    run_script("2_train_lrs2mix.py", *overrides({"data.train": tmp_path / "my2mix/tr", "data.valid": tmp_path /
                                                 "my2mix/cv", "data.segment_s": 0.25, "checkpoint_dir": tmp_path,
                                                 **TINY_TDANET}))
    assert (tmp_path / "tdanet_lrs2mix.dnn" / "latest_weights.pyt").is_file()


# ---------------------------------------------------------------- the built-in default corpus
def test_default_corpus_recipes(tiny_corpus, tmp_path, capsys):
    assert json.loads((tiny_corpus / "corpus.json").read_text())["scale"] == "tiny"  # made by its script
    awssdr = {"data.pools": tiny_corpus, "data.items_per_epoch": 8, "data.valid": tiny_corpus / "t60/valid.csv",
              "data.test": tiny_corpus / "t60/test.csv", "data.cache_dir": tmp_path / "cache",
              "checkpoint_dir": tmp_path, **TINY_AWSSDR}
    run_script("1_train_default.py", *overrides(awssdr))
    run_script("1_test_default.py", *overrides(awssdr))
    tdanet = {"data.pools": tiny_corpus, "data.items_per_epoch": 4, "data.valid": tiny_corpus / "lrs2mix/cv",
              "data.test": tiny_corpus / "lrs2mix/tt", "data.segment_s": 0.5, "checkpoint_dir": tmp_path,
              **TINY_TDANET}
    run_script("2_train_default.py", *overrides(tdanet))
    run_script("2_test_default.py", *overrides(tdanet))
    out = capsys.readouterr().out
    assert "MSE s2" in out and "SI-SNRi" in out
    assert re.search(r"^recorded\+recorded reverberant\s+1\s", out, re.MULTILINE), out  # per mixture type
    assert re.search(r"^recorded\s+\d+\s", out, re.MULTILINE), out  # T60 per speech kind


def test_every_numbered_script_in_the_readme_ran_in_this_session():
    """Last in this file: the tests above (and the tiny_corpus fixture) ran every script the README names to a
    successful end; a test skipped (e.g. speech engines missing), deselected or failed leaves its scripts out."""
    named = set(re.findall(r"\b(\d_[a-z0-9_]+\.py)\b", (REPO_ROOT / "README.md").read_text()))
    assert named and all((REPO_ROOT / "scripts" / name).is_file() for name in named), named
    assert named <= SCRIPTS_RUN, (f"not run to a successful end in this session: {sorted(named - SCRIPTS_RUN)}; "
                                  "run the whole file, with the speech engines installed")
    assert {p.name for p in (REPO_ROOT / "scripts").glob("[0-9]_*.py")} <= named, "numbered scripts missing from README"
