"""The inference tools on recordings as users have them: digital silence, 44.1 kHz FLAC, stereo, long files,
name clashes, failures that leave nothing behind, one-line errors for user mistakes, and the Python API."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from scipy.signal import fftconvolve

import awssdr
import tdanet
from awssdr import inference as awssdr_inference
from awssdr.config import AWSSDRConfig, ModelConfig as AWSSDRModelConfig
from awssdr.features import SDRParams, masked_spectral_decay_rates, spectral_decay_rates
from awssdr.inference import load_estimator
from speechkit import checkpoint
from speechkit.config import to_dict
from tdanet.config import DataConfig, ModelConfig as TDANetModelConfig, TDANetConfig
from tdanet.inference import build_model as build_tdanet

REPO = Path(__file__).resolve().parents[1]
TINY_TDANET = {"in_channels": 16, "out_channels": 8, "num_blocks": 2, "upsampling_depth": 3, "num_heads": 2}


def run(script: str, *args, cwd=REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "scripts" / script), *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


def random_awssdr(tmp_path_factory, constant_estimate: float | None = None, **features) -> Path:
    """A small randomly initialised AWSSDR checkpoint of ours; with `constant_estimate`, its T60 mapping answers
    that value whatever the input."""
    dnn = tmp_path_factory.mktemp("models") / "awssdr.dnn"
    cfg = AWSSDRConfig(name="awssdr", model=AWSSDRModelConfig(hidden=32), features=SDRParams(**features))
    torch.manual_seed(0)
    model = awssdr_inference.build_model(cfg.model, cfg.features)
    if constant_estimate is not None:
        with torch.no_grad():
            model.estRT[-1].weight.zero_()
            model.estRT[-1].bias.fill_(constant_estimate)
    checkpoint.save_checkpoint(dnn, weights=model.state_dict(), optim={}, trainer_state={}, config=to_dict(cfg),
                               info={"epoch": 0})
    return dnn


@pytest.fixture(scope="module")
def awssdr_dnn(tmp_path_factory) -> Path:
    return random_awssdr(tmp_path_factory)


@pytest.fixture(scope="module")
def tdanet_dnn(tmp_path_factory) -> Path:
    """A tiny randomly initialised TDANet checkpoint of ours."""
    dnn = tmp_path_factory.mktemp("models") / "tdanet.dnn"
    cfg = TDANetConfig(name="tdanet", model=TDANetModelConfig(**TINY_TDANET), data=DataConfig(sample_rate=8000))
    torch.manual_seed(0)
    model = build_tdanet(cfg.model, 8000, 2)
    checkpoint.save_checkpoint(dnn, weights=model.state_dict(), optim={}, trainer_state={}, config=to_dict(cfg),
                               info={"epoch": 0})
    return dnn


def reverberant_speech_like(seconds: float, t60_s: float, rate: int, seed: int) -> np.ndarray:
    """Syllable-like noise bursts (150 ms on, 100-400 ms off) through an exponentially decaying RIR."""
    rng = np.random.default_rng(seed)
    envelope = np.zeros(int(seconds * rate))
    start = 0
    while start < len(envelope):
        envelope[start:start + int(0.15 * rate)] = 1.0
        start += int((0.15 + rng.uniform(0.1, 0.4)) * rate)
    t = np.arange(int(1.5 * t60_s * rate)) / rate
    rir = rng.standard_normal(len(t)) * np.exp(-6.9 * t / t60_s)
    wave = fftconvolve(envelope * rng.standard_normal(len(envelope)), rir)[:len(envelope)]
    return 0.5 * wave / np.abs(wave).max()


# ------------------------------------------------------------------------------------------- T60 estimation
def test_masked_sdrs_equal_the_plain_ones_without_zero_frames_and_mark_the_silent_windows():
    params = SDRParams()
    wave = reverberant_speech_like(3.0, 0.5, 16000, seed=0)
    sdr, valid = masked_spectral_decay_rates(wave, params)
    assert valid.all() and np.array_equal(sdr, spectral_decay_rates(wave))
    gated = wave.copy()
    gated[16000:20000] = 0.0  # 250 ms of digital silence
    sdr, valid = masked_spectral_decay_rates(gated, params)
    window_start = np.arange(len(valid)) * params.fit_hop * params.hop_length
    touches = (window_start + params.min_samples > 16000 + params.n_fft) & (window_start < 20000 - params.n_fft)
    assert not valid[touches].any() and valid[window_start + params.min_samples <= 16000].all()
    assert np.isfinite(sdr).all() and (sdr[:, ~valid] == 0).all()


def test_a_44k_16_bit_flac_with_digital_silence_gets_an_estimate_and_a_silent_file_an_error(awssdr_dnn, tmp_path):
    wave = reverberant_speech_like(3.0, 0.6, 44100, seed=1)
    for start_s in (0.5, 1.7, 2.5):  # gated stretches that quantise to digital zero
        wave[int(start_s * 44100):int((start_s + 0.1) * 44100)] = 0.0
    sf.write(tmp_path / "gated.flac", wave, 44100, subtype="PCM_16")
    sf.write(tmp_path / "zeros.wav", np.zeros(3 * 16000), 16000, subtype="PCM_16")
    with pytest.raises(awssdr.SilentInputError):  # the strict feature path refuses this file...
        spectral_decay_rates(sf.read(tmp_path / "gated.flac")[0][:16000 * 2])
    result = run("estimate_t60.py", "--json", "--checkpoint", awssdr_dnn, tmp_path / "gated.flac", tmp_path / "zeros.wav")
    assert result.returncode == 1  # one file failed
    (estimate,) = [json.loads(line) for line in result.stdout.splitlines()]  # ...the tool estimates it
    assert estimate["path"].endswith("gated.flac") and np.isfinite(estimate["t60_s"])
    assert "zeros.wav: no SDR window is free of zero-energy frames" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_estimate_well_below_zero_is_printed_with_a_warning(tmp_path_factory, tmp_path):
    sf.write(tmp_path / "room.wav", reverberant_speech_like(3.0, 0.6, 16000, seed=1), 16000, subtype="PCM_16")
    for constant, warned in ((-0.5, True), (-0.1, False), (0.25, False)):
        dnn = random_awssdr(tmp_path_factory, constant_estimate=constant)
        result = run("estimate_t60.py", "--json", "--checkpoint", dnn, tmp_path / "room.wav")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["t60_s"] == pytest.approx(constant)  # the value itself, not clipped
        assert ("room.wav: the T60 estimate is -0.50 s, below zero" in result.stderr) is warned


@pytest.mark.parametrize("window_level", [False, True])
def test_long_files_are_read_in_pieces_and_pooled_in_chunks_as_in_one_pass(window_level, tmp_path_factory, tmp_path,
                                                                           monkeypatch):
    awssdr_dnn = random_awssdr(tmp_path_factory, window_level=window_level)
    wave = reverberant_speech_like(20.0, 0.8, 16000, seed=2).astype(np.float32)
    wave[5 * 16000:8 * 16000] = 0.0  # silence longer than a chunk below
    sf.write(tmp_path / "long.wav", wave, 16000, subtype="FLOAT")
    estimator = load_estimator(awssdr_dnn, device="cpu")
    sdr, valid = masked_spectral_decay_rates(wave.astype(np.float64), estimator.params)
    one_pass = estimator(torch.from_numpy(sdr).float(), torch.from_numpy(valid))[0]
    monkeypatch.setattr(awssdr_inference, "PIECE_WINDOWS", 97)
    monkeypatch.setattr(awssdr_inference, "CHUNK_WINDOWS", 101)
    piece_sdr, piece_valid = estimator.file_windows(tmp_path / "long.wav")
    assert torch.equal(piece_valid, torch.from_numpy(valid))
    torch.testing.assert_close(piece_sdr, torch.from_numpy(sdr).float(), atol=1e-5, rtol=0)
    assert estimator.estimate_file(tmp_path / "long.wav") == pytest.approx(one_pass, abs=1e-5)


def test_the_segment_track_follows_a_change_of_room(reference_dir, tmp_path):
    dry_room = reverberant_speech_like(20.0, 0.3, 16000, seed=3)
    hall = reverberant_speech_like(20.0, 1.5, 16000, seed=4)
    sf.write(tmp_path / "two_rooms.wav", np.concatenate([dry_room, hall]), 16000)
    result = run("estimate_t60.py", "--json", "--segment-s", 5, "--checkpoint",
                 reference_dir / "awssdr/official/TrainSet2.dnn", tmp_path / "two_rooms.wav")
    assert result.returncode == 0, result.stderr
    *segments, whole = [json.loads(line) for line in result.stdout.splitlines()]
    assert [s["start_s"] for s in segments] == pytest.approx([5.0 * i for i in range(8)], abs=0.02)
    first, second = [s["t60_s"] for s in segments[:4]], [s["t60_s"] for s in segments[4:]]
    assert max(first) + 0.3 < min(second)  # every hall segment above every dry-room one
    assert min(first) < whole["t60_s"] < max(second)
    text = run("estimate_t60.py", "--segment-s", 5, "--checkpoint", reference_dir / "awssdr/official/TrainSet2.dnn",
               tmp_path / "two_rooms.wav").stdout.splitlines()
    assert text[0].split("\t")[1] == "0.00" and text[-1].split("\t")[1] == "all"


# ------------------------------------------------------------------------------------------ multi-channel
def test_stereo_files_default_to_channel_0_said_once_and_channel_chooses(awssdr_dnn, tdanet_dnn, tmp_path):
    left, right = (reverberant_speech_like(3.0, t60, 8000, seed) for t60, seed in ((0.3, 5), (1.2, 6)))
    for name in ("a", "b"):
        sf.write(tmp_path / f"{name}.wav", np.stack([left, right], axis=1), 8000, subtype="FLOAT")
    sf.write(tmp_path / "left.wav", left, 8000, subtype="FLOAT")
    sf.write(tmp_path / "right.wav", right, 8000, subtype="FLOAT")

    def estimates(*args):
        result = run("estimate_t60.py", "--checkpoint", awssdr_dnn, *args)
        assert result.returncode == 0, result.stderr
        return [float(line.split("\t")[-1]) for line in result.stdout.splitlines()], result.stderr

    (a, b, mono_left, mono_right), stderr = estimates(tmp_path / "a.wav", tmp_path / "b.wav", tmp_path / "left.wav",
                                                      tmp_path / "right.wav")
    assert a == b == mono_left != mono_right
    assert stderr.count("reading channel 0") == 1 and "--channel" in stderr
    (chosen,), stderr = estimates("--channel", 1, tmp_path / "a.wav")
    assert chosen == mono_right and stderr == ""

    result = run("separate.py", "--checkpoint", tdanet_dnn, tmp_path / "a.wav", tmp_path / "left.wav",
                 "--out", tmp_path / "out")
    assert result.returncode == 0 and result.stderr.count("reading channel 0") == 1
    assert np.array_equal(sf.read(tmp_path / "out/a_s1.wav")[0], sf.read(tmp_path / "out/left_s1.wav")[0])
    result = run("separate.py", "--checkpoint", tdanet_dnn, tmp_path / "left.wav", "--channel", 1, "--out", tmp_path)
    assert result.returncode == 1 and "channel 1 requested, but the file has 1 channel" in result.stderr


# ------------------------------------------------------------------------------------------------- outputs
def test_a_failed_separation_leaves_nothing_and_the_other_files_are_separated(tdanet_dnn, tmp_path):
    good = reverberant_speech_like(2.0, 0.3, 8000, seed=7)
    bad = good.copy()
    bad[9000] = np.nan
    sf.write(tmp_path / "good.wav", good, 8000, subtype="FLOAT")
    sf.write(tmp_path / "bad.wav", bad, 8000, subtype="FLOAT")
    sf.write(tmp_path / "bad44.wav", np.repeat(bad, 2), 16000, subtype="FLOAT")  # resampled on the way
    result = run("separate.py", "--checkpoint", tdanet_dnn, tmp_path / "bad.wav", tmp_path / "good.wav",
                 tmp_path / "bad44.wav", "--out", tmp_path / "out")
    assert result.returncode == 1 and "bad.wav: contains NaN" in result.stderr
    assert sorted(p.name for p in (tmp_path / "out").rglob("*")) == ["good_s1.wav", "good_s2.wav"]


def test_output_name_clashes_are_resolved_by_folder_or_refused_before_writing(tdanet_dnn, tmp_path):
    wave = reverberant_speech_like(1.0, 0.3, 8000, seed=8)
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        sf.write(tmp_path / folder / "x.wav", wave, 8000)
    sf.write(tmp_path / "a" / "y.wav", wave, 8000)
    result = run("separate.py", "--checkpoint", tdanet_dnn, tmp_path / "a/x.wav", tmp_path / "b/x.wav",
                 tmp_path / "a/y.wav", "--out", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.wav"))
    assert written == ["a/x_s1.wav", "a/x_s2.wav", "b/x_s1.wav", "b/x_s2.wav", "y_s1.wav", "y_s2.wav"]

    sf.write(tmp_path / "a" / "x.flac", wave, 8000)
    result = run("separate.py", "--checkpoint", tdanet_dnn, tmp_path / "a", "--out", tmp_path / "refused")
    assert result.returncode == 2 and "would both be written as x_s1.wav" in result.stderr
    assert not (tmp_path / "refused").exists()


# ------------------------------------------------------------------------------------- one-line user errors
def user_mistakes(tmp: Path, awssdr_dnn: Path, tdanet_dnn: Path) -> dict[str, tuple[list, str]]:
    """script arguments and the words the one-line error must contain, per mistake."""
    (tmp / "empty.dnn").mkdir()
    sf.write(tmp / "x.wav", reverberant_speech_like(1.0, 0.3, 8000, seed=9), 8000)
    return {
        "estimate: missing checkpoint": (["estimate_t60.py", "--checkpoint", tmp / "nope.dnn", tmp / "x.wav"],
                                         "checkpoint not found"),
        "estimate: empty .dnn": (["estimate_t60.py", "--checkpoint", tmp / "empty.dnn", tmp / "x.wav"],
                                 "latest_weights.pyt"),
        "estimate: WAV as checkpoint": (["estimate_t60.py", "--checkpoint", tmp / "x.wav", tmp / "x.wav"],
                                        "x.wav"),
        "estimate: TDANet checkpoint": (["estimate_t60.py", "--checkpoint", tdanet_dnn, tmp / "x.wav"],
                                        "not an AWSSDR checkpoint"),
        "estimate: missing input": (["estimate_t60.py", "--checkpoint", awssdr_dnn, tmp / "nope.wav"], "nope.wav"),
        "separate: missing checkpoint": (["separate.py", "--checkpoint", tmp / "nope.pth", tmp / "x.wav", "--out", tmp],
                                         "checkpoint not found"),
        "separate: empty .dnn": (["separate.py", "--checkpoint", tmp / "empty.dnn", tmp / "x.wav", "--out", tmp],
                                 "config.yaml"),
        "separate: WAV as checkpoint": (["separate.py", "--checkpoint", tmp / "x.wav", tmp / "x.wav", "--out", tmp],
                                        "not a PyTorch checkpoint file"),
        "separate: AWSSDR checkpoint": (["separate.py", "--checkpoint", awssdr_dnn, tmp / "x.wav", "--out", tmp],
                                        "not a TDANet checkpoint"),
        "train: unknown config key": (["1_train_default.py", "--set", "train.epoks=3"], "train.epoks"),
        "train: wrongly typed --set value": (["2_train_default.py", "--set", "train.epochs=ten"], "train.epochs"),
        "train: bad feature value": (["1_train_default.py", "--set", "features.n_fft=100"], "win_length"),
        "train: missing config": (["2_train_lrs2mix.py", "--config", tmp / "nope.yaml"], "nope.yaml"),
        "test: missing checkpoint": (["1_test_default.py", "--checkpoint", tmp / "nope.dnn"], "nope.dnn"),
        "test: missing test split": (["2_test_default.py", "--checkpoint", tdanet_dnn, "--set", f"data.test={tmp}/tt"],
                                     "tt"),
        "prepare: unreadable corpus": (["0_make_mixtures.py", tmp / "nope", "--out", tmp / "mix"], "nope"),
        "check: missing corpus": (["0_check_corpus.py", "--layout", "libri2mix", tmp / "nope"], "nope"),
    }


def test_user_mistakes_are_one_line_errors_with_exit_code_2(awssdr_dnn, tdanet_dnn, tmp_path):
    for mistake, (args, words) in user_mistakes(tmp_path, awssdr_dnn, tdanet_dnn).items():
        result = run(*args)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2, (mistake, result.returncode, result.stderr[-2000:])
        assert "Traceback" not in result.stderr and len(lines) == 1, (mistake, result.stderr[-2000:])
        assert lines[0].startswith("error: ") and words in lines[0], (mistake, lines[0])


def test_output_piped_into_a_reader_that_stops_early_ends_quietly():
    """`script | head -1`: the closed pipe ends the script without a traceback (speechkit.cli.run)."""
    code = ("from speechkit.cli import run\n"
            "def main():\n"
            "    for i in range(100000):\n"
            "        print('row', i, flush=True)\n"
            "run(main)\n")
    script = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert script.stdout.readline() == b"row 0\n"
    script.stdout.close()  # the reader stops, as head does
    stderr = script.stderr.read().decode()
    assert script.wait(timeout=60) == 1
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr


# --------------------------------------------------------------------------------------------- Python API
def test_python_api_matches_the_command_line_tools(awssdr_dnn, tdanet_dnn, tmp_path):
    wave = reverberant_speech_like(3.0, 0.5, 22050, seed=10).astype(np.float32)
    sf.write(tmp_path / "x.wav", wave, 22050, subtype="FLOAT")
    t60_s = awssdr.estimate_t60(wave, 22050, checkpoint=awssdr_dnn)
    line = run("estimate_t60.py", "--json", "--checkpoint", awssdr_dnn, tmp_path / "x.wav").stdout
    assert t60_s == pytest.approx(json.loads(line)["t60_s"], abs=1e-5)

    sources = tdanet.separate(wave, 22050, checkpoint=tdanet_dnn)
    assert sources.shape == (2, len(wave)) and sources.dtype == np.float32
    assert run("separate.py", "--checkpoint", tdanet_dnn, tmp_path / "x.wav", "--out", tmp_path).returncode == 0
    for i, source in enumerate(sources):
        np.testing.assert_allclose(source, sf.read(tmp_path / f"x_s{i + 1}.wav", dtype="float32")[0], atol=1e-5)
