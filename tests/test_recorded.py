"""Recorded speech from Debian packages: finders, the Dutch hold-out, speaker-disjoint splits, loading."""
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechkit.audio import AudioError
from speechkit.corpus import recorded
from speechkit.corpus.recorded import (RECORDED_SPLITS, RecordedUtterance, UnusableRecordingError,
                                       describe_recorded_speech, find_noise_clips, find_recorded_speech,
                                       iter_usable_recordings, load_recorded, split_of_speaker)

RATE = 16000


def tone_burst(rate: int, tone_s: float = 0.5, pad_s: float = 0.2, freq_hz: float = 500.0) -> np.ndarray:
    """`tone_s` of a tone between `pad_s` of digital silence on each side."""
    t = np.arange(round(tone_s * rate)) / rate
    pad = np.zeros(round(pad_s * rate))
    return np.concatenate([pad, 0.5 * np.sin(2 * np.pi * freq_hz * t), pad]).astype(np.float32)


def write_ogg(path: Path, rate: int = 22050) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, tone_burst(rate), rate, format="OGG", subtype="VORBIS")
    return path


def write_raw_int16(path: Path, wave: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(np.round(wave * 32767).astype("<i2").tobytes())
    return path


def utterance(path: Path, rate: int, source: str = "codec2-examples") -> RecordedUtterance:
    num_samples = path.stat().st_size // 2 if path.suffix == ".raw" else sf.info(path).frames
    return RecordedUtterance(path, "codec2:kristoff", source, rate, num_samples)


@pytest.fixture(scope="module")
def installed() -> list[RecordedUtterance]:
    found = find_recorded_speech()
    if not found:
        pytest.skip(f"no recorded speech packages installed under /usr/share ({recorded.APT_INSTALL})")
    return found


# ---------------------------------------------------------------- splits
def test_splits_are_speaker_disjoint_and_all_hold_speakers():
    listed = [speaker for speakers in RECORDED_SPLITS.values() for speaker in speakers]
    assert len(listed) == len(set(listed))
    assert set(RECORDED_SPLITS) == {"train", "valid", "test"}
    assert all(RECORDED_SPLITS[split] for split in RECORDED_SPLITS)
    assert split_of_speaker("fillets-cs:v") == "test" and split_of_speaker("asterisk:carlo") == "valid"
    with pytest.raises(ValueError, match="'klettres:xx' has no split: add it to RECORDED_SPLITS"):
        split_of_speaker("klettres:xx")


def test_every_installed_speaker_has_a_split_and_valid_and_test_are_real(installed):
    splits = {utt.speaker: split_of_speaker(utt.speaker) for utt in installed}
    for split in ("valid", "test"):
        speakers = [speaker for speaker, s in splits.items() if s == split]
        minutes = sum(utt.duration_s for utt in installed if splits[utt.speaker] == split) / 60
        assert len(speakers) >= 3 and minutes > 10, (split, speakers, minutes)


def test_installed_files_never_come_from_dutch_folders(installed):
    assert not [utt.path for utt in installed if "nl" in utt.path.parts]
    fillets = [utt for utt in installed if utt.source == "fillets-ng-data-cs"]
    assert all(utt.path.parent.name == "cs" for utt in fillets)


# ---------------------------------------------------------------- finders on fake trees
def test_dutch_folders_are_never_read(tmp_path, monkeypatch):
    sound = tmp_path / recorded.FILLETS_SOUND
    kept = [write_ogg(sound / "bar/cs/bar-m-ahoj.ogg"), write_ogg(sound / "bar/cs/bar-v-hele.ogg"),
            write_ogg(tmp_path / "klettres/de/alpha/a.ogg")]
    write_ogg(sound / "bar/cs/bar-hs-minor.ogg")                  # a minor character
    for dutch in ("bar/nl/bar-m-hallo.ogg", "baz/nl/cs/baz-v-x.ogg"):
        (sound / dutch).parent.mkdir(parents=True)
        (sound / dutch).write_bytes(b"held out: must never be opened")
    (tmp_path / "klettres/nl/alpha").mkdir(parents=True)
    (tmp_path / "klettres/nl/alpha/a.ogg").write_bytes(b"held out")
    (sound / "bar/cs/bar-m-link.ogg").symlink_to(sound / "bar/nl/bar-m-hallo.ogg")
    opened = []
    real_info = sf.info
    monkeypatch.setattr(recorded.sf, "info", lambda path: opened.append(Path(path)) or real_info(path))

    found = find_recorded_speech(tmp_path)
    assert [utt.path for utt in found] == sorted(kept, key=Path.as_posix)
    assert [utt.speaker for utt in found] == ["fillets-cs:m", "fillets-cs:v", "klettres:de"]
    assert not [path for path in opened if "nl" in path.parts or path.is_symlink()]


def test_asterisk_es_is_the_en_speaker_and_beeps_are_left_out(tmp_path):
    sounds = tmp_path / recorded.ASTERISK_SOUNDS
    for name in ("en_US_f_Allison/hello.wav", "es_MX_f_Allison/hola.wav", "en_US_f_Allison/beep.wav",
                 "en_US_f_Allison/silence/1.wav"):
        (sounds / name).parent.mkdir(parents=True, exist_ok=True)
        sf.write(sounds / name, tone_burst(8000), 8000)
    found = find_recorded_speech(tmp_path)
    assert [(utt.path.name, utt.speaker, utt.source, utt.sample_rate) for utt in found] == [
        ("hello.wav", "asterisk:allison", "asterisk-core-sounds-en-wav", 8000),
        ("hola.wav", "asterisk:allison", "asterisk-core-sounds-es-wav", 8000)]


def test_nothing_installed_finds_nothing(tmp_path):
    assert find_recorded_speech(tmp_path) == [] and find_noise_clips(tmp_path) == []
    assert "apt-get install fillets-ng-data-cs" in describe_recorded_speech([])


def test_noise_clips_are_the_listed_ambiences(tmp_path):
    for name in ("sonic-pi/samples/ambi_drone.flac", "sonic-pi/samples/ambi_choir.flac", "sounds/alsa/Noise.wav"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).touch()
    assert find_noise_clips(tmp_path) == [tmp_path / "sonic-pi/samples/ambi_drone.flac",
                                          tmp_path / "sounds/alsa/Noise.wav"]


# ---------------------------------------------------------------- loading
def test_raw_file_is_read_at_the_package_rate(tmp_path):
    write_raw_int16(tmp_path / recorded.CODEC2 / "raw/kristoff.raw", tone_burst(8000) + 0.05)  # with a DC offset
    [found] = find_recorded_speech(tmp_path)
    assert (found.speaker, found.sample_rate, found.num_samples) == ("codec2:kristoff", 8000, 7200)
    wave = load_recorded(found, RATE)
    assert wave.dtype == np.float32
    # 0.5 s of tone plus the 30 ms trimming margins; the 500 Hz tone keeps its pitch at 16 kHz (2 Hz bins)
    assert abs(len(wave) / RATE - 0.56) < 0.02
    assert np.argmax(np.abs(np.fft.rfft(wave[:RATE // 2]))) == 250
    assert abs(wave.mean()) < 0.01


def test_stereo_overshooting_file_is_averaged_and_scaled_to_full_scale(tmp_path):
    # like klettres/tn: one silent channel, the other decoding to 40 times full scale
    wave = tone_burst(44100)
    path = tmp_path / "i.wav"
    sf.write(path, np.stack([np.zeros_like(wave), 40 * wave], axis=1), 44100, subtype="FLOAT")
    loaded = load_recorded(utterance(path, 44100, "klettres-data"), RATE)
    assert 0.9 < np.abs(loaded).max() <= 1.0


def test_unusable_files_are_clear_errors_and_skipped_with_a_reason(tmp_path):
    short = utterance(write_raw_int16(tmp_path / "short.raw", tone_burst(8000, tone_s=0.1)), 8000)
    silent = utterance(write_raw_int16(tmp_path / "silent.raw", np.zeros(8000)), 8000)
    (tmp_path / "odd.raw").write_bytes(b"abc")
    odd = RecordedUtterance(tmp_path / "odd.raw", "codec2:kristoff", "codec2-examples", 8000, 1)
    (tmp_path / "text.wav").write_text("not audio")
    text = RecordedUtterance(tmp_path / "text.wav", "codec2:kristoff", "codec2-examples", 8000, 1)
    with pytest.raises(UnusableRecordingError, match=r"short.raw: 0\.\d\d s of speech .* under the 0.3 s"):
        load_recorded(short)
    with pytest.raises(UnusableRecordingError, match="silent.raw: silent"):
        load_recorded(silent)
    with pytest.raises(AudioError, match="odd.raw: 3 bytes"):
        load_recorded(odd)
    good = utterance(write_raw_int16(tmp_path / "good.raw", tone_burst(8000)), 8000)
    skipped = []
    usable = list(iter_usable_recordings([short, good, silent, odd, text], RATE, skipped))
    assert [utt for utt, _ in usable] == [good]
    assert [utt for utt, _ in skipped] == [short, silent, odd, text]
    assert "text.wav: cannot read as audio" in skipped[-1][1]


def test_a_file_of_each_installed_source_loads_as_speech(installed):
    first_of_source = {}
    for utt in installed:
        first_of_source.setdefault(utt.source, utt)
    for utt in first_of_source.values():
        wave = load_recorded(utt, RATE)
        assert wave.dtype == np.float32 and len(wave) >= recorded.MIN_SPEECH_S * RATE, utt
        assert np.isfinite(wave).all() and 0 < np.abs(wave).max() <= 1, utt


def test_summary_lists_splits_sources_and_speakers(tmp_path):
    write_ogg(tmp_path / recorded.FILLETS_SOUND / "bar/cs/bar-v-hele.ogg")
    write_raw_int16(tmp_path / recorded.CODEC2 / "raw/g3plx.raw", np.zeros(8000 * 60))
    text = describe_recorded_speech(find_recorded_speech(tmp_path))
    lines = [line.split() for line in text.splitlines()]
    assert ["valid", "1", "1.0"] in lines and ["test", "1", "0.0"] in lines
    assert ["codec2-examples", "1", "1.0"] in lines
    assert ["fillets-cs:v", "test", "1", "0.0"] in lines
