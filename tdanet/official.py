"""The official-release variant of TDANet, and import of the authors' checkpoints (both variants).

The class behind the published checkpoints differs from the paper's network in three places (reference
README, section 4); `use_release_quirks` turns a paper TDANet (tdanet/model.py) into it:
- its attention layer is not batch-first: for each frame, the batch items attend to each other;
- top-down modulation is a kernel-1 local attention per scale instead of sigmoid(Up(G)) * X_i;
- its LA decoder starts from the finer neighbour of the first local input instead of the coarsest F.

Accepted checkpoint sources (a path or the object `torch.load` returns), see the reference README, section 10:
- a bare state dict;
- a Lightning checkpoint: {"state_dict": {"audio_model.<key>": tensor, ...}, "training_config": ..., ...};
- the authors' serialized dict: {"model_name", "state_dict", "model_args", "infos"}.
Their key names are mapped to ours, their positional-encoding table is dropped (we compute positions
for any length) after checking that it is the standard sinusoid, and the architecture is read off the
tensor shapes where it can be.
"""
import pickle
import re
from pathlib import Path

import torch
from torch import nn

from tdanet.model import LocalAttention, MultiHeadSelfAttention, sinusoidal_positions


class BatchAxisAttention(MultiHeadSelfAttention):
    """The release's attention: its layer is not batch-first, so it reads (batch, frames, channels) as
    (sequence, batch, channels) and, for each frame, the batch items attend to each other. Outputs depend
    on the batch; with batch 1 each frame attends only to itself."""

    def attend(self, x: torch.Tensor) -> torch.Tensor:
        # x: (batch, frames, channels) -> same
        return super().attend(x.transpose(0, 1)).transpose(0, 1)


class ReleaseTopDownFusion(nn.Module):
    """F_i = LA_i(X_i, G), a kernel-1 local attention per scale (`loc_glo_fus.i`), for the paper's
    F_i = sigmoid(Up(G)) * X_i.

    The release's LA decoder starts from F_(last-2), the finer neighbour of its first local input F_(last-1),
    where the paper's starts from F_last. So this returns [F_0, .., F_(last-1), F_(last-2)]: the block takes
    the last entry as the decoder's start. The release also builds an LA for the coarsest scale and never uses
    its output; it is kept for checkpoint loading and not computed (its parameters get no gradient, as in the
    original)."""

    def __init__(self, channels: int, depth: int):
        super().__init__()
        self.fusions = nn.ModuleList(LocalAttention(channels, kernel_size=1) for _ in range(depth))

    def forward(self, scales: list[torch.Tensor], g: torch.Tensor) -> list[torch.Tensor]:
        # scales: [X_i: (batch, C, n_i)], g: (batch, C, n_last) -> [F_0, .., F_(last-1), F_(last-2)]
        fused = [fusion(x, g) for fusion, x in zip(self.fusions[:-1], scales[:-1], strict=True)]
        return fused + [fused[-2]]


def use_release_quirks(model) -> None:
    """Turn a newly built paper TDANet into the official-release variant (TDANet(variant=...) calls this)."""
    block = model.block
    depth = len(block.multiscale.stages)
    if depth < 3:
        raise ValueError(f"upsampling_depth={depth} is too small for variant 'official-release' (needs 3)")
    block.global_attention.attention.__class__ = BatchAxisAttention  # same parameters; only `attend` differs
    block.top_down = ReleaseTopDownFusion(block.output_conv.in_channels, depth)
    # the coarsest scale's fusion takes no part: the training loop tells DistributedDataParallel to expect
    # parameters without gradients
    model.has_unused_parameters = True


POSITION_TABLE_KEY = "sm.unet.globalatt.attn.pos_enc.pe"
LIGHTNING_PREFIX = "audio_model."

# Their key prefix -> ours; the first match wins, so more specific prefixes come first.
KEY_PREFIXES = (
    ("ln.", "encoder_norm."),
    ("sm.concat_block.0.", "skip_fusion.affine."),
    ("sm.concat_block.1.", "skip_fusion.act."),
    ("mask_net.0.", "mask_act."),
    ("mask_net.1.", "mask_conv."),
    ("sm.unet.proj_1x1.act.", "block.projection_act."),
    ("sm.unet.proj_1x1.", "block.projection."),
    ("sm.unet.spp_dw.", "block.multiscale.stages."),
    ("sm.unet.globalatt.attn.attn_in_norm.", "block.global_attention.attention.in_norm."),
    ("sm.unet.globalatt.attn.attn.", "block.global_attention.attention."),
    ("sm.unet.globalatt.attn.norm.", "block.global_attention.attention.out_norm."),
    ("sm.unet.globalatt.mlp.", "block.global_attention.ffn."),
    ("sm.unet.loc_glo_fus.", "block.top_down.fusions."),
    ("sm.unet.last_layer.", "block.local_attention."),
    ("sm.unet.res_conv.", "block.output_conv."),
)
# The release's hand-written gLN names its affine parameters gamma/beta; the LA gate conv is global_act.
KEY_SUFFIXES = ((".gamma", ".weight"), (".beta", ".bias"))
KEY_PARTS = ((".global_act.", ".global_gate."),)

# Their constructor argument names -> ours ("n_src" is what their best_model.pth files store).
MODEL_ARG_NAMES = {
    "enc_kernel_size": "enc_kernel_size_ms", "n_src": "num_sources", "num_sources": "num_sources",
    "in_channels": "in_channels", "out_channels": "out_channels", "num_blocks": "num_blocks",
    "upsampling_depth": "upsampling_depth", "sample_rate": "sample_rate",
}


def official_key_to_ours(key: str) -> str:
    """Our state-dict name for one of the authors' keys (unknown keys come back unchanged)."""
    for theirs, ours in KEY_PREFIXES:
        if key.startswith(theirs):
            key = ours + key[len(theirs):]
            break
    for theirs, ours in KEY_PARTS:
        key = key.replace(theirs, ours)
    for theirs, ours in KEY_SUFFIXES:
        if key.endswith(theirs):
            key = key[:-len(theirs)] + ours
    return key


def load_official_state_dict(source) -> tuple[dict[str, torch.Tensor], dict | None]:
    """(state dict in our key names without the positional table, their model_args in our names or None)."""
    obj = read_checkpoint(source) if isinstance(source, (str, Path)) else source
    state_dict, model_args = unwrap_checkpoint(obj)
    if POSITION_TABLE_KEY in state_dict:
        check_position_table(state_dict[POSITION_TABLE_KEY])
    mapped = {official_key_to_ours(k): v for k, v in state_dict.items() if k != POSITION_TABLE_KEY}
    return mapped, translate_model_args(model_args)


def read_checkpoint(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"TDANet checkpoint not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:  # objects beyond tensors and plain containers
        raise ValueError(
            f"{path} holds objects that torch.load(weights_only=True) refuses ({error}). If you trust the "
            f"file, load it with torch.load(..., weights_only=False) and pass the loaded object instead.") from None
    except Exception as error:  # torch raises several types for files that are not PyTorch checkpoints
        raise ValueError(f"{path} is not a PyTorch checkpoint file ({type(error).__name__}: {error})") from error


def unwrap_checkpoint(obj) -> tuple[dict[str, torch.Tensor], dict | None]:
    """Bare state dict, Lightning checkpoint or serialized dict -> (their state dict, model_args or None)."""
    if not isinstance(obj, dict):
        raise TypeError(f"expected a TDANet state dict or checkpoint dict, got {type(obj).__name__}")
    if "state_dict" not in obj:
        if not all(isinstance(v, torch.Tensor) for v in obj.values()):
            raise ValueError("checkpoint is neither a state dict (all tensor values) nor a dict with "
                             f"'state_dict'; its keys are {sorted(obj)[:10]}")
        return obj, None
    state_dict = obj["state_dict"]
    if "model_name" in obj:  # the authors' serialized dict
        return state_dict, obj.get("model_args")
    prefixed = {k[len(LIGHTNING_PREFIX):]: v for k, v in state_dict.items() if k.startswith(LIGHTNING_PREFIX)}
    return (prefixed or state_dict), None


def check_position_table(table: torch.Tensor) -> None:
    """Raise unless the stored table is the standard sinusoid that our model computes."""
    table = table.reshape(-1, table.shape[-1]).float()
    expected = sinusoidal_positions(table.shape[0], table.shape[1], table.device, torch.float32)
    error = (table - expected).abs().max().item()
    if error > 1e-3:
        raise ValueError(f"the checkpoint's positional table {POSITION_TABLE_KEY} differs from the standard "
                         f"sinusoid by {error:.3g}; this model computes the standard one and cannot use it")


def translate_model_args(model_args: dict | None) -> dict | None:
    if model_args is None:
        return None
    unknown = sorted(set(model_args) - set(MODEL_ARG_NAMES))
    if unknown:
        raise ValueError(f"unknown TDANet model_args in checkpoint: {unknown}; known: {sorted(MODEL_ARG_NAMES)}")
    return {MODEL_ARG_NAMES[k]: v for k, v in model_args.items()}


def infer_config(state_dict: dict[str, torch.Tensor], sample_rate: int) -> dict:
    """Constructor arguments that the tensor shapes determine (num_blocks and num_heads are not visible)."""
    try:
        projection = state_dict["block.projection.conv.weight"]
        kernel_size = state_dict["encoder.weight"].shape[-1]
        num_sources = state_dict["decoder.weight"].shape[1]
    except KeyError as error:
        raise ValueError(f"not a TDANet state dict: no {error} after key mapping") from None
    stages = {m.group(1) for k in state_dict if (m := re.match(r"block\.multiscale\.stages\.(\d+)\.", k))}
    kernel_ms = kernel_size * 1000 / sample_rate
    if kernel_ms != int(kernel_ms):
        raise ValueError(f"encoder kernel of {kernel_size} samples is not a whole number of ms at "
                         f"{sample_rate} Hz; pass the sample_rate the checkpoint was trained with")
    variant = "official-release" if any(k.startswith("block.top_down.fusions.") for k in state_dict) else "paper"
    return {"variant": variant, "sample_rate": sample_rate, "enc_kernel_size_ms": int(kernel_ms),
            "in_channels": projection.shape[0], "out_channels": projection.shape[1],
            "upsampling_depth": len(stages), "num_sources": num_sources}


def build_model(cls, source, variant: str | None = None, **config):
    """An eval-mode `cls` (TDANet) holding the weights of an authors' checkpoint.

    Architecture comes from the tensor shapes, then the file's model_args, then `config` (which may
    add what shapes cannot show, e.g. num_blocks); a value contradicting the shapes is an error."""
    state_dict, model_args = load_official_state_dict(source)
    settings = {**(model_args or {}), **config}
    inferred = infer_config(state_dict, settings.get("sample_rate", 16000))
    if variant is not None and variant != inferred["variant"]:
        raise ValueError(f"variant={variant!r} was requested but the checkpoint is a {inferred['variant']!r} "
                         "model (official-release checkpoints have loc_glo_fus keys); omit variant to infer it")
    conflicts = {k: (settings[k], v) for k, v in inferred.items() if k in settings and settings[k] != v}
    if conflicts:
        raise ValueError("arguments contradict the checkpoint's tensor shapes (given, checkpoint): "
                         f"{conflicts}")
    model = cls(**{**settings, **inferred})
    check_keys(state_dict, model.state_dict().keys())
    model.load_state_dict(state_dict)
    return model.eval()


def check_keys(state_dict: dict, expected_keys) -> None:
    """Raise listing every key that is missing from, or unexpected in, the mapped checkpoint."""
    expected = set(expected_keys)
    missing = sorted(expected - set(state_dict))
    unexpected = sorted(set(state_dict) - expected)
    if missing or unexpected:
        raise ValueError(f"checkpoint keys do not match the model after mapping (our names; unmapped keys keep "
                         f"the authors' names): missing {missing}, unexpected {unexpected}")
