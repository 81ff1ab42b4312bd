"""TDANet (Li, Yang, Hu, ICLR 2023): top-down attention network for two-speaker separation.

The paper's network in stock PyTorch modules, to read top to bottom beside the paper's Figure 1:
normalisation and conv helpers, the bottom-up encoder (Fig. 1a), global attention (GA), top-down
modulation, local attention (LA) and the decoder of LAs (Fig. 1c), the block (applied `num_blocks`
times with shared weights) and the full network (encoder, separator, masks, decoder). "Reference §x"
points to ../shared/reference/tdanet/README.md, which spells out every step the authors' code takes.

Elsewhere, so that this file stays the paper:
- tdanet/official.py: the "official-release" variant (the class behind the published checkpoints) as a
  few overrides of these modules, next to the import of the authors' checkpoints.
- tdanet/kernels.py: CPU speed kernels, drop-in replacements of some of these modules with the same
  weights, switched by TDANet's `kernels` argument (on by default).
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

from tdanet.pooling import adaptive_avg_pool1d

VARIANTS = ("paper", "official-release")


def resize(x: torch.Tensor, length: int) -> torch.Tensor:
    """Up(x, length): nearest resizing along time (Fig. 1b); PyTorch's legacy "nearest" is what parity needs."""
    # x: (batch, channels, frames) -> (batch, channels, length)
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

    A one-group group norm computes exactly this."""

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


def depthwise_conv(channels: int, kernel_size: int, stride: int = 1, bias: bool = True) -> nn.Conv1d:
    """Depthwise ("DWConv") nn.Conv1d with "same" padding: frames -> ceil(frames / stride)."""
    return nn.Conv1d(channels, channels, kernel_size, stride=stride, padding=(kernel_size - 1) // 2,
                     groups=channels, bias=bias)


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
    """Bottom-up pyramid (Fig. 1a): X_0 = DWConv + gLN at stride 1, X_i = DWConv + gLN of X_(i-1) at stride 2."""

    def __init__(self, channels: int, depth: int, kernel_size: int = 5):
        super().__init__()
        self.stages = nn.ModuleList(
            ConvNorm(depthwise_conv(channels, kernel_size, stride=1 if i == 0 else 2)) for i in range(depth))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        # x: (batch, channels, frames) -> [X_i: (batch, channels, ceil(frames / 2^i)) for i < depth]
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
    """LayerNorm, + sinusoidal positions, multi-head self-attention over time, then LayerNorm_out(A + Dropout(A))."""

    def __init__(self, channels: int, num_heads: int, dropout: float):
        super().__init__()
        self.num_heads = num_heads
        self.dropout = dropout
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
        a = self.attend(self.in_norm(x) + sinusoidal_positions(x.shape[1], x.shape[2], x.device, x.dtype))
        # The original normalises A + Dropout(A): the attention's input is not added here (reference §3.5, 4)
        return self.out_norm(a + F.dropout(a, self.dropout, self.training)).transpose(1, 2)

    def attend(self, x: torch.Tensor) -> torch.Tensor:
        # x: (batch, frames, channels) -> same; the frames of each item attend to each other
        batch, frames, channels = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        q, k, v = qkv.view(batch, frames, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        return self.out_proj(a.transpose(1, 2).reshape(batch, frames, channels))


class FeedForward(nn.Module):
    """Conv FFN: 1x1 conv + gLN, depthwise conv, ReLU, Dropout, 1x1 conv + gLN, Dropout."""

    def __init__(self, channels: int, hidden_channels: int, dropout: float, kernel_size: int = 5):
        super().__init__()
        self.fc1 = ConvNorm(nn.Conv1d(channels, hidden_channels, 1, bias=False))
        self.dwconv = depthwise_conv(hidden_channels, kernel_size)
        self.fc2 = ConvNorm(nn.Conv1d(hidden_channels, channels, 1, bias=False))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (batch, channels, frames) -> same
        x = self.dropout(F.relu(self.dwconv(self.fc1(x))))
        return self.dropout(self.fc2(x))


class GlobalAttention(nn.Module):
    """GA: a transformer layer on the pooled coarsest scale, G1 = G0 + MHSA(G0), G = G1 + FFN(G1)."""

    def __init__(self, channels: int, num_heads: int, dropout: float, drop_path: float):
        super().__init__()
        self.attention = MultiHeadSelfAttention(channels, num_heads, dropout)
        self.ffn = FeedForward(channels, 2 * channels, dropout)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (batch, channels, coarse frames) -> same
        x = x + self.drop_path(self.attention(x))
        return x + self.drop_path(self.ffn(x))


class TopDownFusion(nn.Module):
    """Global top-down modulation of every scale by G: F_i = sigmoid(Up(G, len X_i)) * X_i."""

    def forward(self, scales: list[torch.Tensor], g: torch.Tensor) -> list[torch.Tensor]:
        # scales: [X_i: (batch, C, n_i)], g: (batch, C, n_last) -> [F_i: (batch, C, n_i)]
        gate = torch.sigmoid(g)
        return [x * resize(gate, x.shape[-1]) for x in scales]


class LocalAttention(nn.Module):
    """LA (Fig. 1c): LA(x_l, x_g) = gLN(conv(x_l)) * Up(sigmoid(gLN(conv(x_g)))) + Up(gLN(conv(x_g))).

    Depthwise convs without bias; those on x_g run at x_g's resolution, resizing to len(x_l) comes after."""

    def __init__(self, channels: int, kernel_size: int):
        super().__init__()
        self.local_embedding = ConvNorm(depthwise_conv(channels, kernel_size, bias=False))
        self.global_gate = ConvNorm(depthwise_conv(channels, kernel_size, bias=False))
        self.global_embedding = ConvNorm(depthwise_conv(channels, kernel_size, bias=False))

    def forward(self, x_local: torch.Tensor, x_global: torch.Tensor) -> torch.Tensor:
        # x_local: (batch, channels, n), x_global: (batch, channels, m) -> (batch, channels, n)
        n = x_local.shape[-1]
        gate = torch.sigmoid(self.global_gate(x_global))
        return self.local_embedding(x_local) * resize(gate, n) + resize(self.global_embedding(x_global), n)


class TDANetBlock(nn.Module):
    """One separator block: projection, bottom-up encoder, GA, top-down modulation, LA decoder, residual."""

    def __init__(self, channels: int, hidden_channels: int, depth: int, num_heads: int, dropout: float,
                 drop_path: float):
        super().__init__()
        self.projection = ConvNorm(nn.Conv1d(channels, hidden_channels, 1))
        self.projection_act = nn.PReLU()
        self.multiscale = MultiScaleEncoder(hidden_channels, depth)
        self.global_attention = GlobalAttention(hidden_channels, num_heads, dropout, drop_path)
        self.top_down = TopDownFusion()
        self.local_attention = nn.ModuleList(LocalAttention(hidden_channels, 5) for _ in range(depth - 1))
        self.output_conv = nn.Conv1d(hidden_channels, channels, 1)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        # u: (batch, channels, frames) -> same
        scales = self.multiscale(self.projection_act(self.projection(u)))  # X_0 (finest) .. X_last
        coarse = scales[-1].shape[-1]
        g = self.global_attention(sum(adaptive_avg_pool1d(x, coarse) for x in scales))  # G0 = sum_i pool(X_i)
        fused = self.top_down(scales, g)  # F_0 .. F_last
        x = fused[-1]
        for local_attention, f in zip(reversed(self.local_attention), reversed(fused[:-1]), strict=True):
            x = local_attention(f, x)  # E_i = LA_i(F_i, E_(i+1)), coarse to fine, starting from F_last
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


class TDANet(nn.Module):
    """Encoder, gLN + bottleneck, one block applied `num_blocks` times, ReLU masks, transposed-conv decoder.

    `model(wave)`: (batch, samples), (batch, 1, samples) -> (batch, num_sources, samples);
    (samples,) -> (num_sources, samples).

    `variant`: "paper", or "official-release" (tdanet/official.py). `kernels`: use the CPU speed kernels of
    tdanet/kernels.py (same weights and outputs, faster training at 2+ threads where measured)."""

    def __init__(self, variant: str = "paper", sample_rate: int = 16000, enc_kernel_size_ms: int = 4,
                 in_channels: int = 512, out_channels: int = 128, num_blocks: int = 16,
                 upsampling_depth: int = 5, num_sources: int = 2, num_heads: int = 8,
                 dropout: float = 0.1, drop_path: float = 0.1, kernels: bool = True):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown TDANet variant {variant!r}; choose one of {VARIANTS}")
        if upsampling_depth < 2:
            raise ValueError(f"upsampling_depth={upsampling_depth} is too small; TDANet needs at least 2 scales")
        self.variant = variant
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
        self.block = TDANetBlock(out_channels, in_channels, upsampling_depth, num_heads, dropout, drop_path)
        self.skip_fusion = SkipFusion(out_channels)
        self.mask_act = nn.PReLU()
        self.mask_conv = nn.Conv1d(out_channels, num_sources * num_basis, 1)
        self.decoder = nn.ConvTranspose1d(num_sources * num_basis, num_sources, self.kernel_size,
                                          stride=self.stride, padding=self.kernel_size // 2, bias=False)
        nn.init.xavier_uniform_(self.encoder.weight)
        nn.init.xavier_uniform_(self.decoder.weight)
        if variant == "official-release":
            from tdanet.official import use_release_quirks  # official.py imports this file

            use_release_quirks(self)
        from tdanet.kernels import use_kernels  # kernels.py imports this file

        self.kernels = use_kernels(self, kernels)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        # wave: (batch, samples) | (batch, 1, samples) -> (batch, sources, samples); (samples,) -> (sources, samples)
        x = self.as_batch(wave)
        k, s, n = self.kernel_size, self.stride, x.shape[-1]
        rest = k - (s + n % k) % k  # zero padding of reference §3.1
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
        from tdanet.official import build_model  # official.py imports this file

        return build_model(cls, source, variant, **config)
