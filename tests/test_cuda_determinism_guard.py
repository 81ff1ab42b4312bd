"""Training graphs of both models hold no backward that throws on CUDA in deterministic mode.

Training runs with torch.use_deterministic_algorithms(True) by default; a forbidden node (listed, with
its source, in speechkit/determinism.py) would stop GPU training at its first backward pass. These tests
walk the graphs of one CPU training step per graph-changing option (the loss's, and its gradients', which
show what the hand-written backward of a custom autograd Function runs), so no GPU is needed to notice.
"""
import pytest
import torch
import torch.nn.functional as F

from awssdr import AWSSDR, pad_sdr_batch
from awssdr.model import POOLINGS
from awssdr.recipe import mse_loss
from speechkit.determinism import (FORBIDDEN_BACKWARD_NODES, backward_node_names, forbidden_nodes,
                                   forbidden_nodes_of_step)
from tdanet import TDANet
from tdanet.model import VARIANTS
from tdanet.pooling import adaptive_avg_pool1d
from tdanet.recipe import pit_si_snr_loss

TINY_TDANET = dict(sample_rate=8000, in_channels=16, out_channels=8, num_blocks=2, upsampling_depth=3,
                   num_heads=2)
CPU = torch.device("cpu")


def assert_no_forbidden_node(loss: torch.Tensor, model: torch.nn.Module, what: str) -> None:
    found = forbidden_nodes_of_step(loss, model.parameters())
    assert not found, (f"{what}: the training graph holds {', '.join(found)} "
                       f"({'; '.join(FORBIDDEN_BACKWARD_NODES[n] for n in found)}), whose backward throws on "
                       "CUDA under torch.use_deterministic_algorithms(True)")


@pytest.mark.parametrize("drop_below_db", [None, -30.0])
@pytest.mark.parametrize("enc_kernel_size_ms", [4, 2])
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("kernels", [True, False])
def test_tdanet_training_step(kernels, variant, enc_kernel_size_ms, drop_below_db):
    """With TDANet's kernels (custom autograd Functions, tdanet/kernels.py) on and off."""
    torch.manual_seed(0)
    model = TDANet(variant, enc_kernel_size_ms=enc_kernel_size_ms, **TINY_TDANET, kernels=kernels).train()
    batch = torch.randn(2, 800), torch.randn(2, 2, 800)
    loss = pit_si_snr_loss(model, batch, CPU, drop_below_db=drop_below_db).mean()
    names = backward_node_names(loss)
    assert ("GatedResizeBackward" in names) == kernels, sorted(names)
    assert_no_forbidden_node(loss, model, f"TDANet {variant}, {enc_kernel_size_ms} ms, kernels={kernels}, "
                                          f"loss.drop_below_db={drop_below_db}")


@pytest.mark.parametrize("mask_padding", [False, True])
@pytest.mark.parametrize("pooling", POOLINGS)
def test_awssdr_training_step(pooling, mask_padding):
    torch.manual_seed(0)
    model = AWSSDR(n_mels=4, hidden=8, kernel_size=3, pooling=pooling, mask_padding=mask_padding).train()
    sdr, mask = pad_sdr_batch([torch.randn(4, 7), torch.randn(4, 5)])
    loss = mse_loss(model, (sdr, mask, torch.tensor([0.4, 0.9])), CPU).mean()
    assert_no_forbidden_node(loss, model, f"AWSSDR pooling={pooling}, mask_padding={mask_padding}")


@pytest.mark.parametrize("frames, length", [(2001, 126), (1001, 126), (501, 126), (126, 126), (13, 5), (9, 1)])
def test_tdanet_pooling_is_adaptive_avg_pool1d_bitwise(frames, length):
    """TDANet's replacement for F.adaptive_avg_pool1d: the same values, and on CPU the same gradients."""
    x = torch.randn(2, 3, frames, requires_grad=True)
    grad = torch.randn(2, 3, length)
    pooled, expected = adaptive_avg_pool1d(x, length), F.adaptive_avg_pool1d(x, length)
    assert torch.equal(pooled, expected)
    assert torch.equal(torch.autograd.grad(pooled, x, grad)[0], torch.autograd.grad(expected, x, grad)[0])
    with pytest.raises(ValueError, match="must not exceed"):
        adaptive_avg_pool1d(x, frames + 1)


def test_the_walk_finds_a_forbidden_node_behind_other_nodes():
    x = torch.randn(2, 3, 10, requires_grad=True)
    pooled = F.adaptive_avg_pool1d(torch.tanh(x) * 2, 4)
    padded = F.pad(x, (2, 2), mode="reflect")
    loss = pooled.sum() + padded.sum() + x.pow(2).sum()
    assert forbidden_nodes(loss) == ["AdaptiveAvgPool2DBackward0", "ReflectionPad1DBackward0"]
    assert forbidden_nodes(x.pow(2).sum()) == []


class CumsumInBackward(torch.autograd.Function):
    """Identity whose hand-written backward runs torch.cumsum (no real gradient, a stand-in)."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad.cumsum(-1)


def test_the_step_walk_sees_inside_a_custom_backward():
    weight = torch.randn(5, requires_grad=True)
    loss = CumsumInBackward.apply(torch.randn(3, 5) * weight).pow(2).sum()
    assert forbidden_nodes(loss) == []
    assert forbidden_nodes_of_step(loss, [weight]) == ["CumsumBackward0"]


def test_every_forbidden_name_is_a_node_of_this_torch():
    """A misspelt or renamed entry would never match, and the guard would pass without looking."""
    node_classes = set(dir(torch._C._functions))
    assert set(FORBIDDEN_BACKWARD_NODES) <= node_classes, sorted(set(FORBIDDEN_BACKWARD_NODES) - node_classes)
