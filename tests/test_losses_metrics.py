"""Losses (SI-SNR, SNR, PIT) and separation metrics (SI-SNRi, BSS-eval SDR) on hand-checkable inputs."""
import math
from itertools import permutations

import fast_bss_eval
import numpy as np
import pytest
import torch

from speechkit import losses, metrics

# Zero-mean and mutually orthogonal, so SI-SNR of 2*REF + 0.5*NOISE is 10 log10(16 / 1) by hand.
REF = torch.tensor([1.0, -1.0, 1.0, -1.0], dtype=torch.float64)
NOISE = torch.tensor([1.0, 1.0, -1.0, -1.0], dtype=torch.float64)
HAND_SI_SNR_DB = 10 * math.log10(16.0)


def _brute_force(loss_matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Best mean loss and permutation per item, by looping over every permutation."""
    n_src = loss_matrix.shape[-1]
    best_loss, best_perm = [], []
    for matrix in loss_matrix:
        candidates = [(matrix[list(p), range(n_src)].mean(), p) for p in permutations(range(n_src))]
        loss, perm = min(candidates, key=lambda c: c[0])
        best_loss.append(loss)
        best_perm.append(perm)
    return torch.stack(best_loss), torch.tensor(best_perm)


def test_si_snr_matches_hand_computed_value():
    assert losses.si_snr(2 * REF + 0.5 * NOISE, REF).item() == pytest.approx(HAND_SI_SNR_DB, abs=1e-6)


def test_si_snr_is_scale_invariant():
    # equal up to eps = 1e-8 added to the reference energy
    estimate = 2 * REF + 0.5 * NOISE
    assert losses.si_snr(7 * estimate, REF).item() == pytest.approx(HAND_SI_SNR_DB, abs=1e-4)
    assert losses.si_snr(estimate, 0.1 * REF).item() == pytest.approx(HAND_SI_SNR_DB, abs=1e-4)


def test_si_snr_zero_mean_ignores_dc_offset_only_when_enabled():
    estimate = 2 * REF + 0.5 * NOISE + 3.0
    assert losses.si_snr(estimate, REF).item() == pytest.approx(HAND_SI_SNR_DB, abs=1e-6)
    assert losses.si_snr(estimate, REF, zero_mean=False).item() < HAND_SI_SNR_DB - 1.0


def test_si_snr_keeps_leading_shape_and_is_finite_with_gradient_on_silence():
    estimate = torch.zeros(2, 3, 100, requires_grad=True)
    value = losses.si_snr(estimate, torch.zeros(2, 3, 100))
    value.sum().backward()
    assert value.shape == (2, 3)
    assert torch.isfinite(value).all() and torch.isfinite(estimate.grad).all()


def test_snr_matches_hand_computed_value():
    # signal energy 4, error energy 0.25 * 4 = 1
    assert losses.snr(REF + 0.5 * NOISE, REF).item() == pytest.approx(10 * math.log10(4.0), abs=1e-6)


def test_pairwise_matrix_matches_per_pair_calls():
    estimates, references = torch.randn(2, 3, 200), torch.randn(2, 3, 200)
    matrix = losses.pairwise_neg_si_snr(estimates, references)
    assert matrix.shape == (2, 3, 3)
    for b, i, j in np.ndindex(2, 3, 3):
        expected = -losses.si_snr(estimates[b, i], references[b, j]).item()
        assert matrix[b, i, j].item() == pytest.approx(expected, abs=1e-4)


def test_pit_recovers_swapped_sources_with_the_unswapped_loss():
    torch.manual_seed(0)
    references = torch.randn(2, 2, 400)
    estimates = references + 0.1 * torch.randn(2, 2, 400)
    swapped = estimates[:, [1, 0]]
    pit = losses.PITLoss()
    loss_swapped, perm = pit(swapped, references)
    loss_aligned, _ = pit(estimates, references)
    assert perm.tolist() == [[1, 0], [1, 0]]
    assert loss_swapped.item() == pytest.approx(loss_aligned.item(), abs=1e-5)
    assert loss_aligned.item() == pytest.approx(-losses.si_snr(estimates, references).mean().item(), abs=1e-5)
    assert torch.equal(losses.reorder_sources(swapped, perm), estimates)


@pytest.mark.parametrize("n_src", [2, 3, 4, 5])
def test_best_permutation_agrees_with_brute_force(n_src):
    # 2-3 sources go through the vectorised exhaustive search, 4-5 through the Hungarian algorithm.
    loss_matrix = torch.randn(16, n_src, n_src, generator=torch.Generator().manual_seed(n_src))
    expected_loss, expected_perm = _brute_force(loss_matrix)
    loss, perm = losses.best_permutation(loss_matrix)
    assert torch.equal(perm, expected_perm)
    assert torch.allclose(loss, expected_loss)


def test_pit_gradient_reaches_estimates_with_hungarian_search():
    estimates = torch.randn(2, 4, 300, requires_grad=True)
    loss, _ = losses.PITLoss()(estimates, torch.randn(2, 4, 300))
    loss.backward()
    assert estimates.grad.abs().sum() > 0


def test_best_permutation_rejects_non_square_matrix():
    with pytest.raises(ValueError, match="as many estimates as references"):
        losses.best_permutation(torch.zeros(1, 2, 3))


def _diagonal_losses(item_losses: list[float]) -> torch.Tensor:
    """A loss matrix whose identity permutation gives the requested per-item losses (off-diagonal worse)."""
    diagonal = torch.tensor(item_losses)[:, None, None] * torch.eye(2)
    return (diagonal + 100 * (1 - torch.eye(2))).requires_grad_()


def test_drop_threshold_excludes_easy_items_from_mean():
    loss, _ = losses.pit_loss(_diagonal_losses([-40.0, -10.0, -20.0]), drop_below_db=-30.0)
    assert loss.item() == pytest.approx(-15.0)
    loss_all, _ = losses.pit_loss(_diagonal_losses([-40.0, -10.0, -20.0]))
    assert loss_all.item() == pytest.approx(-70.0 / 3)


def test_drop_threshold_on_every_item_gives_zero_loss_that_still_backpropagates():
    loss_matrix = _diagonal_losses([-40.0, -50.0])
    loss, _ = losses.pit_loss(loss_matrix, drop_below_db=-30.0)
    loss.backward()
    assert loss.item() == 0.0
    assert torch.equal(loss_matrix.grad, torch.zeros_like(loss_matrix))


def test_sdr_of_slightly_noisy_estimate_is_close_to_snr():
    rng = np.random.default_rng(0)
    reference = rng.standard_normal(16000)
    noise = rng.standard_normal(16000)
    noise *= np.linalg.norm(reference) / np.linalg.norm(noise) / 10  # 20 dB SNR
    # the 512-tap projection absorbs about 512/16000 of the noise energy, ~0.14 dB
    assert metrics.sdr(reference + noise, reference) == pytest.approx(20.0, abs=0.5)


def test_sdr_projects_estimate_onto_filtered_reference():
    # A delayed, filtered copy of the reference lies in the span of its delays: high SDR (about 40 dB,
    # not infinite: BSS-eval's Toeplitz statistics count the samples the delay pushes off the end). With the
    # arguments swapped the reference would have to be predicted from the estimate's past, which white
    # noise does not allow, so the wrong order scores below 0 dB.
    reference = np.random.default_rng(1).standard_normal(8000)
    estimate = np.convolve(reference, [0.0, 0.0, 0.0, 1.0, 0.5])[: reference.size]
    assert metrics.sdr(estimate, reference) > 35.0
    assert metrics.sdr(reference, estimate) < 0.0
    # fast_bss_eval.sdr itself takes the reference first
    bss_eval_value = fast_bss_eval.sdr(reference[None], estimate[None])[0]
    assert metrics.sdr(estimate, reference) == pytest.approx(bss_eval_value)


def test_sdr_handles_perfect_estimate_and_rejects_silent_reference():
    # fast_bss_eval.sdr can raise on a perfect estimate (infinite SDR); ours returns a huge value or inf
    reference = np.random.default_rng(4).standard_normal(4000)
    assert metrics.sdr(reference, reference) > 100.0
    with pytest.raises(ValueError, match="silent"):
        metrics.sdr(reference, np.zeros(4000))


def test_metrics_accept_numpy_and_torch_and_return_floats():
    estimate, reference = 2 * REF + 0.5 * NOISE, REF
    value = metrics.si_snr(estimate.float(), reference.numpy())
    assert isinstance(value, float)
    assert value == pytest.approx(HAND_SI_SNR_DB, abs=1e-5)


def test_si_snri_is_estimate_minus_mixture_si_snr():
    rng = np.random.default_rng(2)
    reference, interferer = rng.standard_normal((2, 4000))
    mixture = reference + interferer
    estimate = reference + 0.1 * interferer
    expected = metrics.si_snr(estimate, reference) - metrics.si_snr(mixture, reference)
    assert metrics.si_snri(estimate, reference, mixture) == pytest.approx(expected)
    assert expected > 15.0


def test_separation_scores_find_the_permutation_and_average_sources():
    rng = np.random.default_rng(3)
    references = rng.standard_normal((2, 8000))
    mixture = references.sum(0)
    aligned = references + 0.05 * rng.standard_normal((2, 8000))
    scores = metrics.separation_scores(aligned[::-1], references, mixture)
    assert scores["permutation"] == [1, 0]
    assert scores["si_snr"] == pytest.approx(np.mean(metrics.si_snr(aligned, references)))
    assert scores["si_snri"] == pytest.approx(np.mean(metrics.si_snri(aligned, references, mixture)))
    assert scores["sdr"] == pytest.approx(np.mean(metrics.sdr(aligned, references)))
    assert scores["sdri"] == pytest.approx(np.mean(metrics.sdri(aligned, references, mixture)))
    assert scores["sdri"] == pytest.approx(scores["sdr"] - np.mean(metrics.sdr(mixture, references)))


def test_separation_scores_reject_mismatched_shapes():
    with pytest.raises(ValueError, match="mixture"):
        metrics.separation_scores(np.zeros((2, 100)), np.zeros((2, 100)), np.zeros(99))
