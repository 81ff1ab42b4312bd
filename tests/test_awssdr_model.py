"""AWSSDR network: official checkpoints, parity with the official outputs, padding masks and mean pooling."""
import numpy as np
import pytest
import soundfile as sf
import torch

from awssdr import AWSSDR, pad_sdr_batch, spectral_decay_rates

UTTERANCES = ("utt1", "utt2", "utt3")
CHECKPOINT_STEPS = {"TN.dnn": 183416, "TrainSet2.dnn": 363200}


def load_official(reference_dir, name="TrainSet2.dnn", dtype=torch.float32):
    model = AWSSDR().to(dtype)
    path = reference_dir / "awssdr" / "official" / name / "latest_weights.pyt"
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    return model.eval()


def random_sdr(n_frames, seed):
    return torch.randn(40, n_frames, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("name", sorted(CHECKPOINT_STEPS))
def test_official_checkpoints_load_strictly(reference_dir, name):
    assert int(load_official(reference_dir, name).step) == CHECKPOINT_STEPS[name]


@pytest.mark.parametrize("utt", UTTERANCES)
def test_trainset2_reproduces_official_outputs_in_float64(reference_dir, utt):
    parity = reference_dir / "awssdr" / "parity"
    expected = np.load(parity / f"{utt}.out.npz")
    sdr = torch.from_numpy(np.load(parity / f"{utt}.sdr.npy")).T[None]
    with torch.no_grad():
        t60, weight, stat = load_official(reference_dir, dtype=torch.float64)(sdr)
    np.testing.assert_allclose(t60.item(), expected["t60"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(weight[0].numpy(), expected["weight"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(stat[0].numpy(), expected["stat"], rtol=0, atol=1e-10)


@pytest.mark.parametrize("utt", UTTERANCES)
def test_float32_pipeline_from_wave_matches_official_t60(reference_dir, utt):
    parity = reference_dir / "awssdr" / "parity"
    wave, _ = sf.read(parity / f"{utt}.wav", dtype="float32")
    sdr = spectral_decay_rates(torch.from_numpy(wave))
    with torch.no_grad():
        t60, _, _ = load_official(reference_dir)(sdr.T[None])
    np.testing.assert_allclose(t60.item(), np.load(parity / f"{utt}.out.npz")["t60"], rtol=0, atol=1e-5)


def test_trainable_parameter_count():
    assert sum(p.numel() for p in AWSSDR().parameters() if p.requires_grad) == 1_042_681


def test_initialisation_zeroes_biases():
    assert all(not bias.any() for name, bias in AWSSDR().named_parameters() if name.endswith("bias"))


def test_pad_sdr_batch_pads_with_zeros_and_marks_valid_frames():
    batch, mask = pad_sdr_batch([random_sdr(3, 0), random_sdr(5, 1)])
    assert batch.shape == (2, 5, 40)
    assert mask.tolist() == [[True] * 3 + [False] * 2, [True] * 5]
    torch.testing.assert_close(batch[0, :3], random_sdr(3, 0).T)
    assert not batch[0, 3:].any()


def estimates_alone_and_padded(mask_padding):
    """(t60, weight) of a short utterance run alone, and the same run padded in a batch with a longer one."""
    torch.manual_seed(0)
    model = AWSSDR(mask_padding=mask_padding).double().eval()
    short, long = random_sdr(30, 0), random_sdr(80, 1)
    batch, mask = pad_sdr_batch([short, long])
    with torch.no_grad():
        alone = model(short.T[None])
        padded = model(batch, mask)
    return (alone[0][0], alone[1][0]), (padded[0][0], padded[1][0])


def test_masked_padding_makes_estimate_independent_of_batch():
    (t60_alone, weight_alone), (t60_padded, weight_padded) = estimates_alone_and_padded(mask_padding=True)
    torch.testing.assert_close(t60_padded, t60_alone, rtol=0, atol=1e-12)
    torch.testing.assert_close(weight_padded[:30], weight_alone, rtol=0, atol=1e-12)
    assert not weight_padded[30:].any()


def test_unmasked_padding_changes_estimate_as_upstream():
    (t60_alone, _), (t60_padded, weight_padded) = estimates_alone_and_padded(mask_padding=False)
    assert (t60_padded - t60_alone).abs() > 1e-6
    assert (weight_padded[30:] > 0).all()


def test_mean_pooling_weights_valid_frames_equally():
    model = AWSSDR(pooling="mean", mask_padding=True).double()
    batch, mask = pad_sdr_batch([random_sdr(4, 0), random_sdr(6, 1)])
    _, weight, stat = model(batch, mask)
    torch.testing.assert_close(weight[0, :, 0], torch.tensor([0.25] * 4 + [0.0] * 2, dtype=torch.float64))
    torch.testing.assert_close(stat[0], random_sdr(4, 0).mean(dim=1))


def test_frames_first_input_is_required():
    with pytest.raises(ValueError, match=r"\(batch, frames, 40\)"):
        AWSSDR()(torch.zeros(1, 40, 74))


def test_window_levels_steer_the_attention_whatever_the_recordings_gain_and_padding():
    torch.manual_seed(0)
    model = AWSSDR(mask_padding=True, window_level=True).double()
    features = torch.cat([random_sdr(30, 0), random_sdr(30, 1) - 6.0])  # SDRs, then levels
    louder = features.clone()
    louder[40:] += 2.0  # the same recording 2 nats louder: every level moves, no slope does
    quieter_start = features.clone()
    quieter_start[40:, :10] -= 3.0  # a change of level in time: what the attention is given the levels for
    t60, weight, stat = model(features.T[None])
    torch.testing.assert_close(model(louder.T[None])[0], t60, rtol=0, atol=1e-12)
    assert (model(quieter_start.T[None])[0] - t60).abs() > 1e-6
    torch.testing.assert_close(stat, (weight * features[:40].T[None]).sum(dim=1))  # pools the SDRs only
    batch, mask = pad_sdr_batch([features, torch.cat([random_sdr(50, 2), random_sdr(50, 3)])])
    torch.testing.assert_close(model(batch, mask)[0][0], t60[0], rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match=r"\(batch, frames, 80\)"):
        model(features[:40].T[None])
