"""Signal-level losses for separation: SI-SNR, SNR and permutation-invariant training (PIT)."""
from itertools import permutations
from typing import Callable

import torch
from scipy.optimize import linear_sum_assignment
from torch import nn

# Largest source count searched exhaustively; above it the Hungarian algorithm is used.
MAX_SOURCES_EXHAUSTIVE = 3


def _power_ratio_db(signal: torch.Tensor, noise: torch.Tensor, eps: float) -> torch.Tensor:
    """10 log10 of the energy ratio over the last axis; eps keeps silence finite (no log(0))."""
    ratio = signal.pow(2).sum(-1) / (noise.pow(2).sum(-1) + eps)
    return 10 * torch.log10(ratio + eps)


def si_snr(
    estimate: torch.Tensor, reference: torch.Tensor, eps: float = 1e-8, zero_mean: bool = True
) -> torch.Tensor:
    """Scale-invariant SNR in dB: the estimate is split into its projection on the reference and the rest."""
    # estimate, reference: (..., samples), broadcastable -> (...)
    if zero_mean:
        estimate = estimate - estimate.mean(-1, keepdim=True)
        reference = reference - reference.mean(-1, keepdim=True)
    scale = (estimate * reference).sum(-1, keepdim=True) / (reference.pow(2).sum(-1, keepdim=True) + eps)
    target = scale * reference
    return _power_ratio_db(target, estimate - target, eps)


def snr(estimate: torch.Tensor, reference: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Plain SNR in dB of the estimate against the reference (no rescaling, no mean removal)."""
    # estimate, reference: (..., samples), broadcastable -> (...)
    return _power_ratio_db(reference, estimate - reference, eps)


def pairwise_neg_si_snr(estimates: torch.Tensor, references: torch.Tensor) -> torch.Tensor:
    """Negative SI-SNR (dB) of every estimate against every reference, by broadcasting."""
    # estimates: (batch, n_est, samples), references: (batch, n_ref, samples) -> (batch, n_est, n_ref)
    return -si_snr(estimates[:, :, None, :], references[:, None, :, :])


def _exhaustive_permutation(loss_matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Try every permutation at once by gathering the loss matrix along all of them."""
    # loss_matrix: (batch, n, n) -> (batch,), (batch, n)
    n_src = loss_matrix.shape[-1]
    perms = torch.tensor(list(permutations(range(n_src))), device=loss_matrix.device)  # (n_perms, n)
    perm_losses = loss_matrix[:, perms, torch.arange(n_src, device=loss_matrix.device)].mean(-1)
    best_loss, best_index = perm_losses.min(dim=1)  # perm_losses: (batch, n_perms)
    return best_loss, perms[best_index]


def _hungarian_permutation(loss_matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Solve the assignment per batch item with scipy, then gather the losses so gradients flow."""
    # loss_matrix: (batch, n, n) -> (batch,), (batch, n)
    costs = loss_matrix.detach().transpose(1, 2).cpu().double().numpy()  # (batch, n_ref, n_est)
    perm = torch.stack([torch.as_tensor(linear_sum_assignment(cost)[1]) for cost in costs])
    perm = perm.to(loss_matrix.device)
    best_loss = loss_matrix.gather(1, perm[:, None, :]).squeeze(1).mean(-1)
    return best_loss, perm


def best_permutation(loss_matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per batch item, the permutation minimising the mean loss over sources.

    `perm[b, j]` is the index of the estimate assigned to reference j.
    """
    # loss_matrix: (batch, n_est, n_ref) -> per-item loss (batch,), perm (batch, n_ref)
    if loss_matrix.ndim != 3 or loss_matrix.shape[1] != loss_matrix.shape[2]:
        raise ValueError(
            f"loss_matrix must be (batch, n_src, n_src) with as many estimates as references, "
            f"got shape {tuple(loss_matrix.shape)}"
        )
    if loss_matrix.shape[-1] <= MAX_SOURCES_EXHAUSTIVE:
        return _exhaustive_permutation(loss_matrix)
    return _hungarian_permutation(loss_matrix)


def pit_loss(
    loss_matrix: torch.Tensor, drop_below_db: float | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch-mean loss under the best permutation, and that permutation (batch, n_src).

    With `drop_below_db` (the TDANet recipe uses -30, i.e. SI-SNR above 30 dB), items whose loss is at
    or below it are left out of the mean; if every item is left out the loss is 0 but still attached to
    the graph (zero gradients), so `backward()` and DDP gradient sync keep working.
    """
    # loss_matrix: (batch, n_est, n_ref) -> scalar, (batch, n_ref)
    item_loss, perm = best_permutation(loss_matrix)
    if drop_below_db is None:
        return item_loss.mean(), perm
    keep = item_loss > drop_below_db
    kept_sum = torch.where(keep, item_loss, torch.zeros_like(item_loss)).sum()
    return kept_sum / keep.sum().clamp(min=1), perm


def reorder_sources(estimates: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """Reorder estimates so that `out[b, j]` matches reference j, using a permutation from `pit_loss`."""
    # estimates: (batch, n_src, samples), perm: (batch, n_src) -> (batch, n_src, samples)
    return estimates.gather(1, perm[:, :, None].expand(-1, -1, estimates.shape[-1]))


class PITLoss(nn.Module):
    """Permutation-invariant wrapper around a pairwise loss (batch, n_est, n_ref), as in Asteroid."""

    def __init__(
        self,
        pairwise_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = pairwise_neg_si_snr,
        drop_below_db: float | None = None,
    ):
        super().__init__()
        self.pairwise_fn = pairwise_fn
        self.drop_below_db = drop_below_db

    def forward(self, estimates: torch.Tensor, references: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # estimates, references: (batch, n_src, samples) -> scalar loss, perm (batch, n_src)
        return pit_loss(self.pairwise_fn(estimates, references), self.drop_below_db)
