"""AWSSDR network: attentive pooling of spectral decay rates, then an MLP mapping the pooled vector to T60.

Layer names and indices match the official checkpoints (`est_weight.*`, `estRT.*`, `step`), so the
released weights load with strict=True.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence

POOLINGS = ("attentive", "mean")


class AttentivePooling(nn.Sequential):
    """Weight-estimation conv net over time with a softmax over time per band; pools SDRs by those weights.

    Three per-band (grouped) convolutions widen each band to 8 channels, three full convolutions mix the
    bands back down to one logit per band and frame. Being a Sequential keeps the checkpoint's layer indices.
    With `window_level` (not in the paper) each band's first convolution also sees the band's window levels.
    """

    def __init__(self, n_mels: int = 40, kernel_size: int = 11, window_level: bool = False):
        inputs = 2 * n_mels if window_level else n_mels
        widths = [inputs, 2 * n_mels, 4 * n_mels, 8 * n_mels, 4 * n_mels, 2 * n_mels, n_mels]
        groups = [n_mels, n_mels, n_mels, 1, 1, 1]
        convs = [nn.Conv1d(widths[i], widths[i + 1], kernel_size, padding=kernel_size // 2, groups=g)
                 for i, g in enumerate(groups)]
        hidden = [layer for conv in convs[:-1] for layer in (conv, nn.LeakyReLU(0.01))]
        super().__init__(*hidden, convs[-1], nn.Softmax(dim=2))
        self.n_mels, self.window_level = n_mels, window_level

    def forward(self, features: torch.Tensor, mask: torch.Tensor | None = None):
        # features: (batch, frames, n_rows) SDRs [, levels], mask: (batch, frames)
        # -> weight: (batch, frames, n_mels), stat: (batch, n_mels)
        x = self.inputs(features.transpose(1, 2), mask)
        weight = self[-1](self.logits(x, mask)).transpose(1, 2)  # softmax over time
        return weight, (weight * features[..., :self.n_mels]).sum(dim=1)

    def inputs(self, features: torch.Tensor, mask: torch.Tensor | None = None,
               level_mean: torch.Tensor | None = None) -> torch.Tensor:
        """The network's input channels for features (batch, n_rows, frames): the SDRs; with window levels,
        band by band its SDR and its level less the band's mean level over the valid frames (so that the
        recording's gain does not matter), in the order the per-band first convolution groups them.
        `level_mean` (from `level_mean`) is that mean taken over a whole recording of which these frames are
        a chunk."""
        if not self.window_level:
            return features
        sdr, level = features[:, :self.n_mels], features[:, self.n_mels:]
        if level_mean is None:
            level_mean = self.level_mean(features, mask)
        return torch.stack([sdr, level - level_mean], dim=2).flatten(1, 2)

    def level_mean(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Each band's mean window level over the valid frames: (batch, n_rows, frames) -> (batch, n_mels, 1);
        None without window levels."""
        if not self.window_level:
            return None
        level = features[:, self.n_mels:]
        valid = torch.ones_like(level[:, :1]) if mask is None else mask.unsqueeze(1).to(level.dtype)
        return (level * valid).sum(dim=2, keepdim=True) / valid.sum(dim=2, keepdim=True)

    def logits(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Attention logits before the softmax, from `inputs`. Masked frames are zeroed before every layer,
        as a conv's own zero padding, and get a logit of -inf."""
        # x: (batch, channels, frames), mask: (batch, frames) -> (batch, n_mels, frames)
        valid = None if mask is None else mask.unsqueeze(1)
        for layer in list(self)[:-1]:
            x = layer(x if valid is None else x.masked_fill(~valid, 0.0))
        return x if valid is None else x.masked_fill(~valid, float("-inf"))


class MeanPooling(nn.Module):
    """Equal weights over the valid frames: the ablation baseline for attentive pooling (levels unused)."""

    def __init__(self, n_mels: int = 40):
        super().__init__()
        self.n_mels = n_mels

    def forward(self, features: torch.Tensor, mask: torch.Tensor | None = None):
        # features: (batch, frames, n_rows), mask: (batch, frames)
        # -> weight: (batch, frames, n_mels), stat: (batch, n_mels)
        sdr = features[..., :self.n_mels]
        valid = torch.ones_like(sdr[..., 0]) if mask is None else mask.to(sdr.dtype)
        weight = (valid / valid.sum(dim=1, keepdim=True)).unsqueeze(2).expand_as(sdr)
        return weight, (weight * sdr).sum(dim=1)

    def inputs(self, features: torch.Tensor, mask: torch.Tensor | None = None,
               level_mean: torch.Tensor | None = None) -> torch.Tensor:
        return features[:, :self.n_mels]

    def level_mean(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> None:
        return None  # levels unused

    def logits(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Equal logits (0), -inf on masked frames: a softmax over time gives the mean over valid frames."""
        # x: (batch, n_mels, frames), mask: (batch, frames) -> (batch, n_mels, frames)
        zeros = torch.zeros_like(x)
        return zeros if mask is None else zeros.masked_fill(~mask.unsqueeze(1), float("-inf"))


class T60Mapping(nn.Sequential):
    """MLP from the pooled SDR vector (batch, n_mels) to T60 in seconds (batch, 1), no output activation."""

    def __init__(self, n_mels: int = 40, hidden: int = 512):
        super().__init__(nn.Linear(n_mels, hidden), nn.LeakyReLU(0.01),
                         nn.Linear(hidden, hidden), nn.LeakyReLU(0.01),
                         nn.Linear(hidden, 1))


class AWSSDR(nn.Module):
    """Blind T60 estimator: pools SDRs over time (attentive or mean) and maps the pooled vector to seconds.

    mask_padding=False (default, as the authors) ignores the mask, so zero-padded frames enter the softmax
    and the convolutions; True gives them exactly zero weight, making each estimate independent of its batch.
    window_level=True (not in the paper) takes features with each window's levels below its SDRs
    (SDRParams(window_level=True)) and lets the attention see them; the T60 mapping still sees pooled SDRs.
    """

    def __init__(self, n_mels: int = 40, hidden: int = 512, kernel_size: int = 11, pooling: str = "attentive",
                 mask_padding: bool = False, window_level: bool = False):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling={pooling!r}: expected one of {POOLINGS}")
        self.n_mels, self.n_rows = n_mels, 2 * n_mels if window_level else n_mels
        self.mask_padding = mask_padding
        # The authors' training-batch counter; unused by forward, kept so checkpoints round-trip.
        self.register_buffer("step", torch.zeros(1, dtype=torch.long))
        # Attribute names are the authors' (checkpoint keys): est_weight = pooling, estRT = T60 mapping.
        self.est_weight = (AttentivePooling(n_mels, kernel_size, window_level) if pooling == "attentive"
                           else MeanPooling(n_mels))
        self.estRT = T60Mapping(n_mels, hidden)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Kaiming-normal conv and linear weights, zero biases (the authors' initialisation)."""
        for module in self.modules():
            if isinstance(module, (nn.Conv1d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, sdr: torch.Tensor, mask: torch.Tensor | None = None):
        # sdr: (batch, frames, n_rows) SDRs [, levels], mask: (batch, frames) bool
        # -> t60_s: (batch, 1), weight: (batch, frames, n_mels), stat: (batch, n_mels)
        if sdr.ndim != 3 or sdr.shape[2] != self.n_rows:
            raise ValueError(f"expected SDRs of shape (batch, frames, {self.n_rows}), got {tuple(sdr.shape)}; "
                             "a (n_rows, frames) matrix needs .T[None]")
        if mask is not None and not mask.any(dim=1).all():
            raise ValueError("mask has a batch item with no valid frame")
        weight, stat = self.est_weight(sdr, mask if self.mask_padding else None)
        return self.estRT(stat), weight, stat


def pad_sdr_batch(sdrs) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-pads (n_rows, frames) SDR matrices into a model input (batch, max_frames, n_rows).

    Also returns the (batch, max_frames) bool mask of valid frames.
    """
    frames_first = [torch.as_tensor(sdr).T for sdr in sdrs]
    batch = pad_sequence(frames_first, batch_first=True)
    lengths = torch.tensor([len(sdr) for sdr in frames_first], device=batch.device)
    return batch, torch.arange(batch.shape[1], device=batch.device) < lengths.unsqueeze(1)
