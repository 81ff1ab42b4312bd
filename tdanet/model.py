"""TDANet (Li, Yang, Hu, ICLR 2023): top-down attention network for two-speaker separation.

Read top to bottom like the paper's figure: normalisation and conv helpers, the multi-scale encoder,
global attention, top-down fusion, local attention, the block (applied `num_blocks` times with shared
weights) and the full network (encoder, separator, masks, decoder).

Two variants behind one option (see ../shared/reference/tdanet/README.md, sections 3 and 4):
- "paper": attention over time, sigmoid top-down gating, LA chain starts from the coarsest scale.
- "official-release": the class behind the published checkpoints; attention runs across the batch
  items of each frame (so outputs depend on the batch), top-down fusion is a kernel-1 local attention
  per scale, and the first LA takes the finer neighbour as its global input.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

VARIANTS = ("paper", "official-release")


def resize(x: torch.Tensor, length: int) -> torch.Tensor:
    """Nearest resizing along time; PyTorch's legacy "nearest" (float32 scale) is what parity needs."""
    if x.shape[-1] == length:
        return x
    return F.interpolate(x, size=length, mode="nearest")


def sinusoidal_positions(length: int, channels: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(length, channels) table: channel 2i is sin(p w_i), 2i+1 is cos(p w_i), w_i = 10000^(-2i/channels).

    Computed in float32 like the original's table, for any length (no 10000-frame limit)."""
    position = torch.arange(length, device=device, dtype=torch.float32).unsqueeze(1)
    frequency = torch.exp(
        torch.arange(0, channels, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / channels))
    angle = position * frequency
    return torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(1).to(dtype)


class GlobalLayerNorm(nn.Module):
    """gLN: normalise each item over all channels and frames (eps 1e-8), then per-channel affine.

    A one-group group norm computes exactly this in one fused kernel."""

    def __init__(self, channels: int, eps: float = 1e-8):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (batch, channels, frames) -> same
        return F.group_norm(x, 1, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.weight.numel()}, eps={self.eps}"


class DepthwiseConv1d(nn.Conv1d):
    """Depthwise nn.Conv1d with "same" padding, run through DepthwiseConvFunction (same outputs)."""

    def __init__(self, channels: int, kernel_size: int, stride: int = 1, bias: bool = True):
        super().__init__(channels, channels, kernel_size, stride=stride, padding=(kernel_size - 1) // 2,
                         groups=channels, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (batch, channels, frames) -> (batch, channels, ceil(frames / stride))
        return DepthwiseConvFunction.apply(x, self.weight, self.bias, self.stride[0], self.padding[0])


class ConvNorm(nn.Module):
    """A convolution followed by gLN."""

    def __init__(self, conv: nn.Conv1d):
        super().__init__()
        self.conv = conv
        self.norm = GlobalLayerNorm(conv.out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (batch, in_channels, frames) -> (batch, out_channels, frames / stride)
        return self.norm(self.conv(x))


class MultiScaleEncoder(nn.Module):
    """Bottom-up pyramid: depthwise conv + gLN at stride 1, then `depth - 1` stride-2 stages."""

    def __init__(self, channels: int, depth: int, kernel_size: int = 5):
        super().__init__()
        self.stages = nn.ModuleList(
            ConvNorm(DepthwiseConv1d(channels, kernel_size, stride=1 if i == 0 else 2)) for i in range(depth))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        # x: (batch, channels, frames) -> [(batch, channels, ceil(frames / 2^i)) for i < depth]
        scales = []
        for stage in self.stages:
            x = stage(x)
            scales.append(x)
        return scales


class DropPath(nn.Module):
    """Stochastic depth: drop the whole residual branch per batch item with probability p in training."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (batch, ...) -> same
        if not self.training or self.p == 0.0:
            return x
        keep = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), device=x.device, dtype=x.dtype)
        return x * keep.bernoulli_(1.0 - self.p).div_(1.0 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class MultiHeadSelfAttention(nn.Module):
    """LayerNorm, + sinusoidal positions, multi-head self-attention, then LayerNorm_out(A + Dropout(A)).

    `attend_over="time"` attends over the frames of each item; `"batch"` reproduces the released
    model, whose attention runs over the batch items of each frame."""

    def __init__(self, channels: int, num_heads: int, dropout: float, attend_over: str):
        super().__init__()
        self.num_heads = num_heads
        self.dropout = dropout
        self.attend_over = attend_over
        self.in_norm = nn.LayerNorm(channels)
        self.in_proj_weight = nn.Parameter(torch.empty(3 * channels, channels))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * channels))
        self.out_proj = nn.Linear(channels, channels)
        self.out_norm = nn.LayerNorm(channels)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (batch, channels, frames) -> same
        x = x.transpose(1, 2)
        x = self.in_norm(x) + sinusoidal_positions(x.shape[1], x.shape[2], x.device, x.dtype)
        if self.attend_over == "batch":
            x = x.transpose(0, 1)  # (frames, batch, channels): items attend to each other per frame
        a = self.normalize_output(self.attend(x))
        if self.attend_over == "batch":
            a = a.transpose(0, 1)
        return a.transpose(1, 2)

    def attend(self, x: torch.Tensor) -> torch.Tensor:
        # x: (groups, sequence, channels) -> same
        groups, sequence, channels = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        q, k, v = qkv.view(groups, sequence, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        return self.out_proj(a.transpose(1, 2).reshape(groups, sequence, channels))

    def normalize_output(self, a: torch.Tensor) -> torch.Tensor:
        # a: (..., channels) -> same. The original normalises A + Dropout(A) (no skip of the input).
        if self.training and self.dropout > 0.0:
            return self.out_norm(a + F.dropout(a, self.dropout))
        # In eval that is LayerNorm(2A), which equals LayerNorm(A) with eps / 4 exactly (2 and 4 are
        # powers of two, so every rounding step scales along).
        norm = self.out_norm
        return F.layer_norm(a, norm.normalized_shape, norm.weight, norm.bias, norm.eps / 4)


class FeedForward(nn.Module):
    """Conv FFN: 1x1 conv + gLN, depthwise conv, ReLU, Dropout, 1x1 conv + gLN, Dropout."""

    def __init__(self, channels: int, hidden_channels: int, dropout: float, kernel_size: int = 5):
        super().__init__()
        self.fc1 = ConvNorm(nn.Conv1d(channels, hidden_channels, 1, bias=False))
        self.dwconv = DepthwiseConv1d(hidden_channels, kernel_size)
        self.fc2 = ConvNorm(nn.Conv1d(hidden_channels, channels, 1, bias=False))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (batch, channels, frames) -> same
        x = self.dropout(F.relu(self.dwconv(self.fc1(x))))
        return self.dropout(self.fc2(x))


class GlobalAttention(nn.Module):
    """GA: transformer layer on the pooled coarsest scale, G1 = G0 + MHSA(G0), G = G1 + FFN(G1)."""

    def __init__(self, channels: int, num_heads: int, dropout: float, drop_path: float, attend_over: str):
        super().__init__()
        self.attention = MultiHeadSelfAttention(channels, num_heads, dropout, attend_over)
        self.ffn = FeedForward(channels, 2 * channels, dropout)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (batch, channels, coarse frames) -> same
        x = x + self.drop_path(self.attention(x))
        return x + self.drop_path(self.ffn(x))


class LocalAttention(nn.Module):
    """LA(x_l, x_g) = gLN(conv(x_l)) * Up(sigmoid(gLN(conv(x_g)))) + Up(gLN(conv(x_g))), depthwise convs.

    The global convs run at x_g's resolution; nearest resizing to len(x_l) comes after."""

    def __init__(self, channels: int, kernel_size: int):
        super().__init__()
        self.local_embedding = ConvNorm(DepthwiseConv1d(channels, kernel_size, bias=False))
        self.global_gate = ConvNorm(DepthwiseConv1d(channels, kernel_size, bias=False))
        self.global_embedding = ConvNorm(DepthwiseConv1d(channels, kernel_size, bias=False))

    def forward(self, x_local: torch.Tensor, x_global: torch.Tensor) -> torch.Tensor:
        # x_local: (batch, channels, n), x_global: (batch, channels, m) -> (batch, channels, n)
        gate = torch.sigmoid(self.global_gate(x_global))
        return GatedResize.apply(self.local_embedding(x_local), gate, self.global_embedding(x_global))


class TopDownFusion(nn.Module):
    """Modulate every scale X_i by the global feature G, giving F_i.

    paper: F_i = sigmoid(Up(G)) * X_i. official-release: F_i = LA_i(X_i, G) with kernel-1 LAs; the
    release builds one for the coarsest scale too but never uses its output, so it is kept only for
    checkpoint compatibility and not computed (its parameters get no gradient, as in the original)."""

    def __init__(self, variant: str, channels: int, depth: int):
        super().__init__()
        self.variant = variant
        if variant == "official-release":
            self.fusions = nn.ModuleList(LocalAttention(channels, kernel_size=1) for _ in range(depth))

    def forward(self, scales: list[torch.Tensor], g: torch.Tensor) -> list[torch.Tensor]:
        # scales: [(batch, C, n_i)], g: (batch, C, n_last) -> paper: [F_0..F_last]; release: [F_0..F_last-1]
        if self.variant == "paper":
            gate = torch.sigmoid(g)
            return [GatedResize.apply(x, gate, None) for x in scales]
        return [fusion(x, g) for fusion, x in zip(self.fusions[:-1], scales[:-1], strict=True)]


class TDANetBlock(nn.Module):
    """One separator block: projection, multi-scale encoder, GA, top-down fusion, LA decoder, residual."""

    def __init__(self, variant: str, channels: int, hidden_channels: int, depth: int, num_heads: int,
                 dropout: float, drop_path: float):
        super().__init__()
        self.variant = variant
        self.projection = ConvNorm(nn.Conv1d(channels, hidden_channels, 1))
        self.projection_act = nn.PReLU()
        self.multiscale = MultiScaleEncoder(hidden_channels, depth)
        attend_over = "time" if variant == "paper" else "batch"
        self.global_attention = GlobalAttention(hidden_channels, num_heads, dropout, drop_path, attend_over)
        self.top_down = TopDownFusion(variant, hidden_channels, depth)
        self.local_attention = nn.ModuleList(LocalAttention(hidden_channels, 5) for _ in range(depth - 1))
        self.output_conv = nn.Conv1d(hidden_channels, channels, 1)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        # u: (batch, channels, frames) -> same
        scales = self.multiscale(self.projection_act(self.projection(u)))
        coarse = scales[-1].shape[-1]
        g = self.global_attention(sum(AdaptiveAvgPoolFunction.apply(x, coarse) for x in scales))
        fused = self.top_down(scales, g)
        # The first LA's global input: paper, the coarsest F; release, the finer neighbour of its local input.
        x = fused.pop() if self.variant == "paper" else fused[-2]
        for local_attention, x_local in zip(reversed(self.local_attention), reversed(fused), strict=True):
            x = local_attention(x_local, x)
        return u + self.output_conv(x)


class SkipFusion(nn.Module):
    """Input of block applications 2..N: PReLU(c * (m + y) + d), per-channel c, d (the "concat block")."""

    def __init__(self, channels: int):
        super().__init__()
        self.affine = nn.Conv1d(channels, channels, 1, groups=channels)
        self.act = nn.PReLU()

    def forward(self, m: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        # m, y: (batch, channels, frames) -> same
        return self.act(self.affine(m + y))


class OverlapAddDecoder(nn.Module):
    """Transposed conv1d (groups 1, no bias) as one matrix product and an overlap-add (F.fold).

    Same maths and weight layout as nn.ConvTranspose1d; on CPU it avoids oneDNN, whose transposed-conv
    setup takes tens of seconds for inputs of a few minutes (torch 2.13)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, padding: int):
        super().__init__()
        self.stride, self.padding = stride, padding
        self.weight = nn.Parameter(torch.empty(in_channels, out_channels, kernel_size))
        nn.init.xavier_uniform_(self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (batch, in_channels, frames) -> (batch, out_channels, (frames - 1) * stride + kernel - 2 * padding)
        _, out_channels, kernel_size = self.weight.shape
        columns = torch.matmul(self.weight.flatten(1).t(), x)  # (batch, out_channels * kernel, frames)
        length = (x.shape[-1] - 1) * self.stride + kernel_size
        out = F.fold(columns, (1, length), (1, kernel_size), stride=(1, self.stride))
        return out.view(x.shape[0], out_channels, length)[..., self.padding:length - self.padding]

    def extra_repr(self) -> str:
        in_channels, out_channels, kernel_size = self.weight.shape
        return f"{in_channels}, {out_channels}, kernel_size={kernel_size}, stride={self.stride}, padding={self.padding}"


class TDANet(nn.Module):
    """Encoder, gLN + bottleneck, one block applied `num_blocks` times, ReLU masks, transposed-conv decoder.

    `model(wave)`: (batch, samples), (batch, 1, samples) -> (batch, num_sources, samples);
    (samples,) -> (num_sources, samples)."""

    def __init__(self, variant: str = "paper", sample_rate: int = 16000, enc_kernel_size_ms: int = 4,
                 in_channels: int = 512, out_channels: int = 128, num_blocks: int = 16,
                 upsampling_depth: int = 5, num_sources: int = 2, num_heads: int = 8,
                 dropout: float = 0.1, drop_path: float = 0.1):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown TDANet variant {variant!r}; choose one of {VARIANTS}")
        if upsampling_depth < (2 if variant == "paper" else 3):
            raise ValueError(f"upsampling_depth={upsampling_depth} is too small for variant {variant!r}")
        self.variant = variant
        # official-release keeps a top-down module for the coarsest scale that takes no part (loading needs
        # it); the training loop tells DistributedDataParallel to expect parameters without gradients
        self.has_unused_parameters = variant == "official-release"
        self.sample_rate = sample_rate
        self.num_blocks = num_blocks
        self.num_sources = num_sources
        self.kernel_size = enc_kernel_size_ms * sample_rate // 1000
        self.stride = self.kernel_size // 4
        if self.stride < 1:
            raise ValueError(f"encoder kernel of {enc_kernel_size_ms} ms at {sample_rate} Hz is "
                             f"{self.kernel_size} samples; it needs at least 4")
        num_basis = self.kernel_size // 2 + 1
        self.encoder = nn.Conv1d(1, num_basis, self.kernel_size, stride=self.stride,
                                 padding=self.kernel_size // 2, bias=False)
        self.encoder_norm = GlobalLayerNorm(num_basis)
        self.bottleneck = nn.Conv1d(num_basis, out_channels, 1)
        self.block = TDANetBlock(variant, out_channels, in_channels, upsampling_depth, num_heads,
                                 dropout, drop_path)
        self.skip_fusion = SkipFusion(out_channels)
        self.mask_act = nn.PReLU()
        self.mask_conv = nn.Conv1d(out_channels, num_sources * num_basis, 1)
        self.decoder = OverlapAddDecoder(num_sources * num_basis, num_sources, self.kernel_size,
                                         self.stride, self.kernel_size // 2)
        nn.init.xavier_uniform_(self.encoder.weight)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        # wave: (batch, samples) | (batch, 1, samples) -> (batch, sources, samples); (samples,) -> (sources, samples)
        x = self.as_batch(wave)
        k, s, n = self.kernel_size, self.stride, x.shape[-1]
        rest = k - (s + n % k) % k
        mix = self.encoder(F.pad(x, (k - s, rest + k - s)))          # (batch, basis, frames)
        y = self.separate(self.bottleneck(self.encoder_norm(mix)))    # (batch, out_channels, frames)
        masks = F.relu(self.mask_conv(self.mask_act(y)))
        masked = masks.unflatten(1, (self.num_sources, -1)) * mix.unsqueeze(1)
        out = self.decoder(masked.flatten(1, 2))[..., k - s:k - s + n]
        return out[0] if wave.dim() == 1 else out

    def as_batch(self, wave: torch.Tensor) -> torch.Tensor:
        # wave: (samples,) | (batch, samples) | (batch, 1, samples) -> (batch, 1, samples)
        if wave.dim() == 1:
            return wave.view(1, 1, -1)
        if wave.dim() == 2:
            return wave.unsqueeze(1)
        if wave.dim() == 3 and wave.shape[1] == 1:
            return wave
        raise ValueError(f"TDANet expects (samples,), (batch, samples) or (batch, 1, samples); "
                         f"got shape {tuple(wave.shape)}")

    def separate(self, m: torch.Tensor) -> torch.Tensor:
        # m: (batch, out_channels, frames) -> same; the block's weights are shared by all applications
        y = self.block(m)
        for _ in range(self.num_blocks - 1):
            y = self.block(self.skip_fusion(m, y))
        return y

    @classmethod
    def from_official(cls, source, variant: str | None = None, **config) -> "TDANet":
        """Build an eval-mode model from an authors' checkpoint (path or loaded object; see official.py)."""
        from tdanet.official import build_model  # official.py imports this module

        return build_model(cls, source, variant, **config)


# Autograd functions: the same maths as the plain ops, with less time or memory in training, or with a
# backward that CUDA can run in deterministic mode.

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


class AdaptiveAvgPoolFunction(torch.autograd.Function):
    """F.adaptive_avg_pool1d to at most the input's length, with a backward that CUDA runs in deterministic
    mode (adaptive_avg_pool2d's own backward throws there; see speechkit/determinism.py).

    Each input frame lies in one bin or in two neighbouring ones, so its gradient is the share of its first
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


class DepthwiseConvFunction(torch.autograd.Function):
    """Depthwise conv1d with a hand-written backward.

    On CPU oneDNN's depthwise backward costs several times its forward; here the input gradient is a
    transposed depthwise conv and the weight gradient is one dot product per tap over shifted views."""

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
