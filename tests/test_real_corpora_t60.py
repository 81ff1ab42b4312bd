"""Real-corpus preparation for AWSSDR on tiny fake trees: RIR labels, manifests, determinism, errors,
the features-only cache, one training run, and the ACE manifest."""
import json
from collections import Counter

import numpy as np
import pytest
import scipy.io
import soundfile as sf
import torch

from awssdr import dataset as awssdr_dataset
from awssdr.config import AWSSDRConfig, DataConfig, ModelConfig
from awssdr.corpora import (ACE_T60_S, CorpusError, TrainsetOptions, plan_examples, prepare_ace, prepare_trainset,
                            read_rir)
from awssdr.dataset import T60Dataset
from awssdr.evaluation import summarise
from awssdr.features import SDRParams
from awssdr.recipe import train
from speechkit.manifest import read_manifest
from speechkit.trainer import TrainConfig

from .fake_corpora import RIR_T60_S, decaying_noise, rir_tree


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root, rng = tmp_path_factory.mktemp("sources"), np.random.default_rng(1)
    for i, (folder, rate) in enumerate([("spk1/s1", 8000), ("spk1/s2", 16000), ("spk2", 16000), ("spk3/x", 8000),
                                        ("spk4", 16000), ("spk5", 8000)]):
        burst = rng.standard_normal(rate // 2) * np.hanning(rate // 2) * 0.3
        (root / "speech" / folder).mkdir(parents=True)
        sf.write(root / "speech" / folder / f"utt{i}.wav", burst.astype(np.float32), rate)
    rir_tree(root / "rirs")
    (root / "bad_rirs").mkdir()
    sf.write(root / "bad_rirs" / "stationary.wav", rng.standard_normal(48000).astype(np.float32) * 0.1, 48000)
    (root / "noise").mkdir()
    for name in ("fan", "babble"):
        sf.write(root / "noise" / f"{name}.wav", rng.standard_normal(16000 * 2).astype(np.float32) * 0.1, 16000)
    return root


def options(sources, rir_dir="rirs", **kwargs) -> TrainsetOptions:
    return TrainsetOptions([str(sources / "speech")], str(sources / rir_dir), str(sources / "noise"),
                           valid_fraction=0.25, **kwargs)


@pytest.fixture(scope="module")
def prepared(sources, tmp_path_factory):
    out = tmp_path_factory.mktemp("prepared") / "set"
    prepare_trainset(options(sources), out, progress=False)
    return out


def test_rir_labels_are_the_known_t60s(prepared, sources):
    labels = {p.relative_to(sources / "rirs").as_posix(): float(r["t60_s"])
              for r in read_manifest(prepared / "rirs.csv", ("path", "t60_s")) for p in [r["path"]]}
    assert labels.keys() == RIR_T60_S.keys()
    for name, t60_s in RIR_T60_S.items():
        assert abs(labels[name] - t60_s) < 0.05, name


def test_manifests_split_by_rir_and_point_at_16k_audio(prepared):
    train_rows = read_manifest(prepared / "train.csv", ("path", "t60_s", "snr_db", "noise", "rir", "speech"))
    valid_rows = read_manifest(prepared / "valid.csv", ("path", "t60_s", "snr_db", "noise", "rir", "speech"))
    assert len(train_rows) + len(valid_rows) == 6 and valid_rows
    assert not {r["rir_path"] for r in train_rows} & {r["rir_path"] for r in valid_rows}
    assert {r["snr_db"] for r in train_rows + valid_rows} <= {"0", "10", "20"}
    info = sf.info(train_rows[0]["path"])
    assert info.samplerate == 16000 and info.subtype == "PCM_16"
    assert json.loads((prepared / "prepare.json").read_text())["options"]["seed"] == 0


def test_examples_per_rir_uses_every_rir_n_times_and_the_speech_evenly():
    opts = TrainsetOptions(["speech"], "rirs", "noise", valid_fraction=0.25, examples_per_rir=5)
    plan = plan_examples(opts, n_speech=8, n_rirs=4)
    assert len(plan) == 20 and Counter(e.rir for e in plan) == {r: 5 for r in range(4)}
    for split in ("train", "valid"):
        rirs = {e.rir for e in plan if e.split == split}
        speech = Counter(e.speech for e in plan if e.split == split)
        assert max(speech.values()) - min(speech.values()) <= 1  # each file used about equally often
        assert not rirs & {e.rir for e in plan if e.split != split}
        assert not speech.keys() & {e.speech for e in plan if e.split != split}
    one_per_file = plan_examples(TrainsetOptions(["speech"], "rirs", "noise", valid_fraction=0.25), 8, 4)
    assert sorted(e.speech for e in one_per_file) == list(range(8))
    with pytest.raises(CorpusError, match="at least 1"):
        plan_examples(TrainsetOptions(["speech"], "rirs", "noise", examples_per_rir=0), 8, 4)


def test_same_seed_gives_byte_identical_sets(prepared, sources, tmp_path):
    again = tmp_path / "set"  # same folder name, so the relative paths in the manifests agree
    prepare_trainset(options(sources), again, progress=False)
    for name in ("train.csv", "valid.csv", "rirs.csv"):
        assert (again / name).read_bytes() == (prepared / name).read_bytes()
    wavs = sorted(p.relative_to(prepared) for p in (prepared / "audio").rglob("*.wav"))
    assert wavs and all((again / w).read_bytes() == (prepared / w).read_bytes() for w in wavs)


def test_worker_processes_do_not_change_the_set(prepared, sources, tmp_path):
    again = tmp_path / "set"
    prepare_trainset(options(sources), again, progress=False, workers=2)
    for name in ("train.csv", "valid.csv", "rirs.csv"):
        assert (again / name).read_bytes() == (prepared / name).read_bytes()
    wavs = sorted(p.relative_to(prepared) for p in (prepared / "audio").rglob("*.wav"))
    assert all((again / w).read_bytes() == (prepared / w).read_bytes() for w in wavs)


def test_air_mat_rirs_read_like_audio_files(tmp_path):
    rir = decaying_noise(0.5, 48000, np.random.default_rng(3))
    scipy.io.savemat(tmp_path / "air_x.mat", {"h_air": rir[None].astype(np.float64), "air_info": {"fs": 48000}})
    wave, rate = read_rir(tmp_path / "air_x.mat")
    assert rate == 48000 and np.array_equal(wave, rir.astype(np.float64))
    scipy.io.savemat(tmp_path / "other.mat", {"x": rir})
    with pytest.raises(CorpusError, match="other.mat.*h_air"):
        read_rir(tmp_path / "other.mat")


def test_bad_rir_is_an_error_naming_it_and_leaves_no_manifest(sources, tmp_path):
    bad_dir = tmp_path / "rirs"
    bad_dir.mkdir()
    for path in [*(sources / "rirs").rglob("*.*"), sources / "bad_rirs" / "stationary.wav"]:
        (bad_dir / path.name).write_bytes(path.read_bytes())
    with pytest.raises(CorpusError, match="stationary.wav"):
        prepare_trainset(options(sources, rir_dir=bad_dir), tmp_path / "out", progress=False)
    assert not list((tmp_path / "out").glob("*.csv"))
    with pytest.warns(UserWarning, match="stationary.wav"):
        summary = prepare_trainset(options(sources, rir_dir=bad_dir, skip_bad_rirs=True), tmp_path / "out",
                                   overwrite=True, progress=False)
    assert [s["path"].endswith("stationary.wav") for s in summary["skipped_rirs"]] == [True]


def test_non_empty_output_is_refused_without_overwrite(prepared, sources):
    with pytest.raises(FileExistsError, match="--overwrite"):
        prepare_trainset(options(sources), prepared, progress=False)


def test_features_only_cache_loads_without_audio_and_trains(sources, tmp_path, monkeypatch):
    out, cache = tmp_path / "set", tmp_path / "cache"
    prepare_trainset(options(sources), out, features_only=True, cache_dir=cache, progress=False)
    assert not (out / "audio").exists() and len(list(cache.glob("*.pt"))) == 2
    monkeypatch.setattr(awssdr_dataset, "features_of_file", lambda *a: pytest.fail("read audio"))
    dataset = T60Dataset(out / "train.csv", SDRParams(), cache, progress=False)
    assert dataset[0][0].dtype.is_floating_point and dataset[0][0].shape[0] == SDRParams().n_mels
    with pytest.raises(FileNotFoundError, match="--features-only.*time_step"):  # other features: no cache
        T60Dataset(out / "train.csv", SDRParams(time_step="hop"), cache, progress=False)
    cfg = AWSSDRConfig(name="tiny", data=DataConfig(str(out / "train.csv"), str(out / "valid.csv"), None, str(cache)),
                       model=ModelConfig(hidden=32), train=TrainConfig(epochs=1, progress=False, device="cpu"),
                       checkpoint_dir=str(tmp_path / "ckpt"))
    train(cfg)
    assert json.loads((tmp_path / "ckpt" / "tiny.dnn" / "checkpoint.json").read_text())["epoch"] == 1


def test_features_only_cache_equals_features_of_the_written_audio(prepared, sources, tmp_path):
    out, cache = tmp_path / prepared.name, tmp_path / "cache"
    prepare_trainset(options(sources), out, features_only=True, cache_dir=cache, progress=False)
    from_audio = T60Dataset(prepared / "valid.csv", SDRParams(), None, progress=False).features
    cached = torch.load(next(cache.glob("valid-*.pt")), weights_only=True)
    assert len(cached) == len(from_audio) and all(torch.equal(a, b) for a, b in zip(cached, from_audio))


ACE_FILES = ["Speech/Single/Lecture_Room_1/1/Single_Lecture_Room_1_1_F1_s1_Ambient_-1dB.wav",
             "Speech/Single/Lecture_Room_1/2/Single_Lecture_Room_1_2_M3_s2_Babble_12dB.wav",
             "Speech/Single/Office_2/1/sub/Single_Office_2_1_F2_s5_Fan_18dB.wav",
             "Speech/Single/Meeting_Room_2/2/Single_Meeting_Room_2_2_M1_s3_Ambient_12dB.wav",
             "Speech/Mobile/Office_2/1/Mobile_Office_2_1_F2_s5_Fan_18dB.wav"]


def write_ace(root, names) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        sf.write(root / name, np.zeros(160, np.float32), 16000)


def test_ace_manifest_has_parsed_fields_and_the_authors_t60s(tmp_path):
    write_ace(tmp_path / "ace", ACE_FILES)
    rows = read_manifest(prepare_ace(tmp_path / "ace", tmp_path / "out"), ("path", "t60_s"))
    by_name = {r["path"].name: r for r in rows}
    assert len(rows) == 4  # the Mobile file is another microphone
    row = by_name["Single_Lecture_Room_1_2_M3_s2_Babble_12dB.wav"]
    assert (row["room"], row["config"], row["talker"], row["utterance"], row["noise"], row["snr_db"]) == (
        "Lecture_Room_1", "2", "M3", "s2", "Babble", "12")
    assert float(row["t60_s"]) == ACE_T60_S["eval"]["Lecture_Room_1_2"]
    assert by_name["Single_Lecture_Room_1_1_F1_s1_Ambient_-1dB.wav"]["snr_db"] == "-1"
    assert float(by_name["Single_Office_2_1_F2_s5_Fan_18dB.wav"]["t60_s"]) == 0.4305
    summary = summarise([{**r, "t60_estimate_s": float(r["t60_s"]) + 0.1} for r in rows])
    assert summary["per_room"]["Lecture_Room_1"]["n"] == 2
    assert summary["per_room"]["Office_2"]["bias_s"] == pytest.approx(0.1)
    assert list(summary["per_noise"]) == ["Ambient", "Babble", "Fan"]
    assert list(summary["per_noise_snr_db"]) == ["Ambient -1", "Ambient 12", "Babble 12", "Fan 18"]


def test_ace_dev_rooms_and_other_microphones(tmp_path):
    write_ace(tmp_path / "ace", ["Single_Building_Lobby_2_M1_s1_Fan_18dB.wav", ACE_FILES[-1]])
    rows = read_manifest(prepare_ace(tmp_path / "ace", tmp_path / "out", split="dev"))
    assert [(r["room_config"], float(r["t60_s"])) for r in rows] == [("Building_Lobby_2", 0.8218)]
    rows = read_manifest(prepare_ace(tmp_path / "ace", tmp_path / "out", split="eval", mic="Mobile",
                                     labels_csv=None))
    assert [r["mic"] for r in rows] == ["Mobile"]
    with pytest.raises(CorpusError, match="no eval T60 for room_config Building_Lobby_2"):
        prepare_ace(tmp_path / "ace", tmp_path / "out", split="eval")


def test_ace_labels_csv_overrides_and_bad_names_are_listed(tmp_path):
    write_ace(tmp_path / "ace", ACE_FILES[:1])
    (tmp_path / "labels.csv").write_text("room_config,t60_s\nLecture_Room_1_1,0.7\n")
    rows = read_manifest(prepare_ace(tmp_path / "ace", tmp_path / "out", labels_csv=tmp_path / "labels.csv"))
    assert float(rows[0]["t60_s"]) == 0.7
    write_ace(tmp_path / "ace", ["Speech/Single/Lecture_Room_1/1/recording.wav"])
    with pytest.raises(CorpusError, match="recording.wav"):
        prepare_ace(tmp_path / "ace", tmp_path / "out")
