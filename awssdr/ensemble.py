"""Several AWSSDR networks trained side by side on the same items; a T60 estimate is the mean of theirs.

Not in the paper: the `model.members` option (1, the default, is the paper's single network). Each network has
its own initialisation and learns from its own squared error alone, clipped alone, exactly as it would in a run
of its own (the first network retraces the single-network run of the same seed); only the drawn items are
shared, so N networks cost N training steps but one item pipeline. Averaging independently trained networks
removes the part of the error their initialisations do not share (docs/results.md, "An ensemble").
"""
from __future__ import annotations

import torch
from torch import nn

from .model import AWSSDR


class AWSSDREnsemble(nn.Module):
    """`members` AWSSDR networks of the same configuration; forward gives each network's estimate."""

    def __init__(self, members: int, **network_args):
        super().__init__()
        if members < 2:
            raise ValueError(f"members={members}: an ensemble needs 2 or more networks (1 is a plain AWSSDR)")
        self.members = nn.ModuleList(AWSSDR(**network_args) for _ in range(members))
        self.n_mels, self.n_rows = self.members[0].n_mels, self.members[0].n_rows

    def forward(self, sdr: torch.Tensor, mask: torch.Tensor | None = None):
        # sdr: (batch, frames, n_rows), mask: (batch, frames)
        # -> t60_s: (batch, members), weight: (batch, frames, n_mels) the networks' mean, stat: (batch, members, n_mels)
        outputs = [network(sdr, mask) for network in self.members]
        return (torch.cat([t60_s for t60_s, _, _ in outputs], dim=1),
                torch.stack([weight for _, weight, _ in outputs]).mean(dim=0),
                torch.stack([stat for _, _, stat in outputs], dim=1))


def build_network(members: int = 1, **network_args) -> AWSSDR | AWSSDREnsemble:
    """The paper's single network (`members` 1), or an ensemble of `members` of them."""
    return AWSSDR(**network_args) if members == 1 else AWSSDREnsemble(members, **network_args)


def networks(model: nn.Module) -> list[AWSSDR]:
    """The AWSSDR networks of `model`: an ensemble's members, or the model itself."""
    return list(model.members) if isinstance(model, AWSSDREnsemble) else [model]
