"""F.adaptive_avg_pool1d with a backward that CUDA runs in deterministic mode.

Training runs under torch.use_deterministic_algorithms(True), where adaptive_avg_pool2d's own backward
(which adaptive_avg_pool1d uses) throws on CUDA; see speechkit/determinism.py. The values and, on CPU,
the gradients are bitwise those of F.adaptive_avg_pool1d (tests/test_cuda_determinism_guard.py)."""
import torch
import torch.nn.functional as F


def adaptive_avg_pool1d(x: torch.Tensor, length: int) -> torch.Tensor:
    """F.adaptive_avg_pool1d(x, length) for length <= x's frames; see AdaptiveAvgPoolFunction."""
    # x: (batch, channels, frames) -> (batch, channels, length)
    return AdaptiveAvgPoolFunction.apply(x, length)


class AdaptiveAvgPoolFunction(torch.autograd.Function):
    """Each input frame lies in one bin or in two neighbouring ones, so its gradient is the share of its first
    bin plus that of its second: two gathers, added in the order PyTorch's CPU backward adds them."""

    @staticmethod
    def forward(ctx, x, length):
        if length > x.shape[-1]:
            raise ValueError(f"pooling {x.shape[-1]} frames to {length}: the length must not exceed the input's")
        ctx.frames = x.shape[-1]
        return F.adaptive_avg_pool1d(x, length)

    @staticmethod
    def backward(ctx, grad):
        # grad: (batch, channels, length) -> (batch, channels, frames)
        frames, length = ctx.frames, grad.shape[-1]
        bins, frame = torch.arange(length, device=grad.device), torch.arange(frames, device=grad.device)
        width = ((bins + 1) * frames + length - 1) // length - bins * frames // length  # PyTorch's bin edges
        share = F.pad(grad / width.to(grad.dtype), (0, 1))  # a share of 0 for "no second bin"
        first = frame * length // frames
        second = torch.where((first + 1) * frames < (frame + 1) * length, first + 1, length)
        shape = (*grad.shape[:-1], frames)
        return share.gather(-1, first.expand(shape)) + share.gather(-1, second.expand(shape)), None
