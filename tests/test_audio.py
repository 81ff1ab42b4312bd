"""Audio I/O: mono float32, resampling, and clear errors on files that cannot be used."""
import numpy as np
import pytest
import soundfile as sf

from speechkit.audio import AudioError, read_audio, resample, write_audio


def test_reads_mono_float32_and_resamples(tmp_path):
    t = np.arange(8000) / 8000
    write_audio(tmp_path / "a.wav", 0.5 * np.sin(2 * np.pi * 440 * t), 8000, subtype="FLOAT")
    wave, rate = read_audio(tmp_path / "a.wav")
    assert rate == 8000 and wave.dtype == np.float32 and wave.shape == (8000,)
    up, rate = read_audio(tmp_path / "a.wav", sample_rate=16000)
    assert rate == 16000 and up.shape == (16000,) and up.dtype == np.float32
    # a 440 Hz tone keeps its frequency: the spectrum peak stays at bin 440 (1 Hz resolution)
    assert np.argmax(np.abs(np.fft.rfft(up))) == 440


def test_resample_round_trip_is_close():
    t = np.arange(4000) / 4000
    wave = sum(np.sin(2 * np.pi * f * t + f) for f in (100, 450, 1200)).astype(np.float32)  # well below 2 kHz
    back = resample(resample(wave, 4000, 16000), 16000, 4000)
    assert np.abs(back - wave)[100:-100].max() < 1e-2 * np.abs(wave).max()


def test_multichannel_needs_a_channel(tmp_path):
    sf.write(tmp_path / "st.wav", np.stack([np.full(100, 0.1), np.full(100, -0.2)], 1), 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="2 channels; choose one"):
        read_audio(tmp_path / "st.wav")
    wave, _ = read_audio(tmp_path / "st.wav", channel=1)
    assert np.allclose(wave, -0.2)
    with pytest.raises(AudioError, match="channel 2 requested"):
        read_audio(tmp_path / "st.wav", channel=2)


def test_bad_files_are_clear_errors(tmp_path):
    (tmp_path / "text.wav").write_text("not audio")
    with pytest.raises(AudioError, match="text.wav: cannot read as audio"):
        read_audio(tmp_path / "text.wav")
    with pytest.raises(AudioError, match="cannot read as audio"):
        read_audio(tmp_path / "missing.wav")
    sf.write(tmp_path / "empty.wav", np.zeros(0), 16000)
    with pytest.raises(AudioError, match="empty.wav: the file holds no samples"):
        read_audio(tmp_path / "empty.wav")
    sf.write(tmp_path / "nan.wav", np.array([0.0, np.nan, 0.1]), 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="nan.wav: contains NaN"):
        read_audio(tmp_path / "nan.wav")
