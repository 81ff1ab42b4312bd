"""CPU speed kernels for TDANet: drop-in replacements of stock modules of tdanet/model.py, same weights.

Each replacement subclasses the module it stands for and overrides only `forward`, with the same maths:
same parameters, so the same state-dict keys and checkpoints. `use_kernels(model, on)` switches them
on or off in place; TDANet's `kernels` argument (default True) calls it.
- DepthwiseConv1d (each depthwise nn.Conv1d): a hand-written backward; oneDNN's depthwise backward costs
  several times its forward on CPU.
- GatedLocalAttention, GatedTopDownFusion: `local * Up(gate) [+ Up(embedding)]` keeping only the coarse
  gate for backward, where autograd through `resize` stores a full-resolution copy per call.
- OverlapAddDecoder (the decoder's nn.ConvTranspose1d): a matrix product and an overlap-add (F.fold);
  oneDNN's transposed conv pays a setup on its first call for each input length, up to 15 s for 10 s of
  audio (torch 2.13), which a separation of chunked files meets again at every new length.
bench/bench_tdanet.py times a training step and inference with the kernels on and off. On the two CPUs
measured so far (an AMD EPYC and an Intel Xeon with AVX-512, 2 threads) a training step is 1.15-1.44x faster
with them and inference is as fast or faster, so they are on by default; on the Xeon with 1 thread a training
step is faster without them (docs/results.md).
"""
import torch
import torch.nn.functional as F
from torch import nn

from tdanet.model import LocalAttention, TopDownFusion, resize

def use_kernels(model: nn.Module, on: bool) -> bool:
    """Swap the kernels in (True) or back out (False) for every module of `model` they stand for; returns `on`."""
    if not isinstance(on, bool):
        raise ValueError(f"kernels={on!r}: choose True or False")
    for module in model.modules():
        kernel = kernel_for(module)
        if on and kernel is not None:
            module.__class__ = kernel
        elif not on and type(module) in STOCK_OF_KERNEL:
            module.__class__ = STOCK_OF_KERNEL[type(module)]
    return on


def kernel_for(module: nn.Module) -> type | None:
    """The kernel class that can stand in for `module` (an instance of a stock class), or None."""
    kind = type(module)
    if kind is nn.Conv1d and module.groups == module.in_channels == module.out_channels \
            and module.dilation == (1,) and module.padding_mode == "zeros":
        return DepthwiseConv1d
    if kind is nn.ConvTranspose1d and module.groups == 1 and module.bias is None \
            and module.dilation == (1,) and module.output_padding == (0,):
        return OverlapAddDecoder
    return {LocalAttention: GatedLocalAttention, TopDownFusion: GatedTopDownFusion}.get(kind)


class DepthwiseConv1d(nn.Conv1d):
    """A depthwise nn.Conv1d run through DepthwiseConvFunction (same outputs, faster backward on CPU)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (batch, channels, frames) -> (batch, channels, ceil(frames / stride))
        return DepthwiseConvFunction.apply(x, self.weight, self.bias, self.stride[0], self.padding[0])


class OverlapAddDecoder(nn.ConvTranspose1d):
    """nn.ConvTranspose1d (groups 1, no bias) as one matrix product and an overlap-add (F.fold)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (batch, in_channels, frames) -> (batch, out_channels, (frames - 1) * stride + kernel - 2 * padding)
        _, out_channels, kernel_size = self.weight.shape
        stride, padding = self.stride[0], self.padding[0]
        columns = torch.matmul(self.weight.flatten(1).t(), x)  # (batch, out_channels * kernel, frames)
        length = (x.shape[-1] - 1) * stride + kernel_size
        out = F.fold(columns, (1, length), (1, kernel_size), stride=(1, stride))
        return out.view(x.shape[0], out_channels, length)[..., padding:length - padding]


class GatedLocalAttention(LocalAttention):
    """LocalAttention with the gated resize of GatedResize."""

    def forward(self, x_local: torch.Tensor, x_global: torch.Tensor) -> torch.Tensor:
        # x_local: (batch, channels, n), x_global: (batch, channels, m) -> (batch, channels, n)
        gate = torch.sigmoid(self.global_gate(x_global))
        return GatedResize.apply(self.local_embedding(x_local), gate, self.global_embedding(x_global))


class GatedTopDownFusion(TopDownFusion):
    """TopDownFusion with the gated resize of GatedResize."""

    def forward(self, scales: list[torch.Tensor], g: torch.Tensor) -> list[torch.Tensor]:
        # scales: [X_i: (batch, C, n_i)], g: (batch, C, n_last) -> [F_i: (batch, C, n_i)]
        gate = torch.sigmoid(g)
        return [GatedResize.apply(x, gate, None) for x in scales]


STOCK_OF_KERNEL = {DepthwiseConv1d: nn.Conv1d, OverlapAddDecoder: nn.ConvTranspose1d,
                   GatedLocalAttention: LocalAttention, GatedTopDownFusion: TopDownFusion}


class GatedResize(torch.autograd.Function):
    """local * resize(gate) [+ resize(embedding)] to len(local), keeping only the small gate for backward.

    Autograd through `resize` would store the resized gate, a full-resolution copy per call."""

    @staticmethod
    def forward(ctx, local, gate, embedding):
        ctx.save_for_backward(local, gate)
        ctx.embedding_shape = None if embedding is None else embedding.shape
        n = local.shape[-1]
        if embedding is None:
            return local * resize(gate, n)
        return torch.addcmul(resize(embedding, n), local, resize(gate, n))

    @staticmethod
    def backward(ctx, grad):
        local, gate = ctx.saved_tensors
        grad_local = grad * resize(gate, grad.shape[-1]) if ctx.needs_input_grad[0] else None
        grad_gate = resize_backward(grad * local, gate.shape) if ctx.needs_input_grad[1] else None
        grad_embedding = None
        if ctx.embedding_shape is not None and ctx.needs_input_grad[2]:
            grad_embedding = resize_backward(grad, ctx.embedding_shape)
        return grad_local, grad_gate, grad_embedding


def resize_backward(grad: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Gradient of `resize` to `grad`'s length, for an input of `shape` (sums the copied frames)."""
    if grad.shape[-1] == shape[-1]:
        return grad
    return torch.ops.aten.upsample_nearest1d_backward(grad, grad.shape[-1:], shape, None)


class DepthwiseConvFunction(torch.autograd.Function):
    """Depthwise conv1d with a hand-written backward.

    The input gradient is a transposed depthwise conv and the weight gradient is one dot product per tap
    over shifted views."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding):
        ctx.save_for_backward(x, weight)
        ctx.stride, ctx.padding, ctx.has_bias = stride, padding, bias is not None
        return F.conv1d(x, weight, bias, stride, padding, groups=x.shape[1])

    @staticmethod
    def backward(ctx, grad):
        x, weight = (t.to(grad.dtype) for t in ctx.saved_tensors)
        stride, padding = ctx.stride, ctx.padding
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            # output_padding gives back the trailing input frames that the strided forward never reached
            reached = (grad.shape[-1] - 1) * stride - 2 * padding + weight.shape[-1]
            grad_x = F.conv_transpose1d(grad, weight, stride=stride, padding=padding,
                                        output_padding=x.shape[-1] - reached, groups=x.shape[1])
        if ctx.needs_input_grad[1]:
            grad_weight = depthwise_weight_grad(x, grad, weight.shape[-1], stride, padding)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad.sum((0, 2))
        return grad_x, grad_weight, grad_bias, None, None


def depthwise_weight_grad(x: torch.Tensor, grad: torch.Tensor, kernel_size: int, stride: int,
                          padding: int) -> torch.Tensor:
    # x: (batch, channels, n_in), grad: (batch, channels, n_out) -> (channels, 1, kernel_size)
    n_in, n_out = x.shape[-1], grad.shape[-1]
    taps = []
    for k in range(kernel_size):
        # output frame t reads input frame t * stride + k - padding; keep the frames inside the input
        first = max(0, -(-(padding - k) // stride))
        last = min(n_out, (n_in - 1 - k + padding) // stride + 1)
        start = first * stride + k - padding
        x_k = x[..., start:start + (last - first - 1) * stride + 1:stride]
        taps.append(torch.linalg.vecdot(grad[..., first:last], x_k).sum(0))
    return torch.stack(taps, dim=-1).unsqueeze(1)
