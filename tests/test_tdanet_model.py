"""TDANet network and import of the authors' checkpoints (parity fixtures in ../shared/reference/tdanet)."""
import ast
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck

from tdanet import TDANet
from tdanet.kernels import DepthwiseConvFunction, GatedResize, use_kernels
from tdanet.model import VARIANTS
from tdanet.official import load_official_state_dict

TINY = dict(in_channels=32, out_channels=16, num_blocks=2, upsampling_depth=3)


@pytest.fixture(scope="module")
def tdanet_dir(reference_dir):
    return reference_dir / "tdanet"


@pytest.fixture(scope="module")
def release_state_dict(tdanet_dir):
    """The authors' official-release state dict (gamma/beta names, loc_glo_fus, positional table)."""
    return torch.load(tdanet_dir / "official-release_16k_4ms.state_dict.pt", weights_only=True)


@pytest.mark.parametrize("kernels", [True, False])
@pytest.mark.parametrize("variant", VARIANTS)
def test_outputs_match_reference(tdanet_dir, variant, kernels):
    model = TDANet.from_official(tdanet_dir / f"{variant}_16k_4ms.state_dict.pt", kernels=kernels)
    wave = torch.load(tdanet_dir / "input_16k.pt", weights_only=True)
    expected = torch.load(tdanet_dir / f"{variant}_16k_4ms.out.pt", weights_only=True)
    with torch.no_grad():
        batch, single = model(wave), model(wave[:1])
    assert model.variant == variant and model.kernels == kernels and not model.training
    torch.testing.assert_close(batch, expected["batch"], atol=1e-4, rtol=0)
    torch.testing.assert_close(single, expected["single"], atol=1e-4, rtol=0)
    batch_effect = (batch[0] - single[0]).abs().max().item()
    if variant == "paper":  # items are independent
        assert batch_effect < 1e-5
    else:  # the release's attention mixes the items of a batch
        assert batch_effect > 1e-3


def test_three_checkpoint_formats_give_identical_weights(tmp_path, release_state_dict):
    lightning = {"state_dict": {f"audio_model.{k}": v for k, v in release_state_dict.items()},
                 "training_config": {"optim": {"lr": 1e-3}}, "epoch": 3}
    serialized = {"model_name": "TDANetBest", "state_dict": release_state_dict, "model_args": {"n_src": 2},
                  "infos": {"software_versions": {"torch_version": "2.13.0"}}}
    reference = TDANet.from_official(release_state_dict).state_dict()
    for name, obj in [("bare.pt", release_state_dict), ("lightning.ckpt", lightning), ("best_model.pth", serialized)]:
        torch.save(obj, tmp_path / name)
        for source in (tmp_path / name, str(tmp_path / name), obj):
            model = TDANet.from_official(source)
            assert model.variant == "official-release"
            assert all(torch.equal(v, reference[k]) for k, v in model.state_dict().items())
    assert load_official_state_dict(serialized)[1] == {"num_sources": 2}


def test_unmatched_keys_are_listed(release_state_dict):
    broken = dict(release_state_dict)
    del broken["sm.unet.res_conv.bias"]
    broken["sm.unet.extra_layer.weight"] = torch.zeros(3)
    with pytest.raises(ValueError, match=r"block\.output_conv\.bias.*sm\.unet\.extra_layer\.weight"):
        TDANet.from_official(broken)


def test_explicit_variant_or_shape_mismatch_is_an_error(release_state_dict):
    with pytest.raises(ValueError, match="official-release"):
        TDANet.from_official(release_state_dict, variant="paper")
    with pytest.raises(ValueError, match="in_channels"):
        TDANet.from_official(release_state_dict, in_channels=256)
    model = TDANet.from_official(release_state_dict, variant="official-release", num_blocks=4)
    assert model.num_blocks == 4


def test_non_standard_position_table_is_rejected(release_state_dict):
    broken = dict(release_state_dict)
    broken["sm.unet.globalatt.attn.pos_enc.pe"] = torch.zeros(1, 100, 512)
    with pytest.raises(ValueError, match="sinusoid"):
        load_official_state_dict(broken)


@pytest.mark.parametrize("sample_rate, kernel_ms, paper, release", [
    (16000, 4, 2_330_439, 2_353_479), (16000, 2, 2_316_391, 2_339_431),
    (8000, 4, 2_316_391, 2_339_431), (8000, 2, 2_311_287, 2_334_327)])
def test_parameter_counts(sample_rate, kernel_ms, paper, release):
    for variant, expected in (("paper", paper), ("official-release", release)):
        model = TDANet(variant, sample_rate=sample_rate, enc_kernel_size_ms=kernel_ms)
        assert sum(p.numel() for p in model.parameters()) == expected


@pytest.mark.parametrize("variant", VARIANTS)
def test_output_shapes_for_odd_lengths_and_input_layouts(variant):
    model = TDANet(variant, sample_rate=8000, **TINY).eval()
    with torch.no_grad():
        for length in (777, 1001, 4003):
            assert model(torch.randn(length)).shape == (2, length)
            assert model(torch.randn(3, length)).shape == (3, 2, length)
            assert model(torch.randn(3, 1, length)).shape == (3, 2, length)
    with pytest.raises(ValueError, match="expects"):
        model(torch.randn(2, 2, 100))


def test_long_input_has_no_position_limit():
    # 200 s at 8 kHz, 4 ms: 200,002 frames, 12,501 at the coarsest scale (the original stops at 10,000).
    model = TDANet("paper", sample_rate=8000, in_channels=32, out_channels=16, num_blocks=1,
                   upsampling_depth=5).eval()
    with torch.no_grad():
        out = model(torch.randn(200 * 8000))
    assert out.shape == (2, 200 * 8000) and torch.isfinite(out).all()


@pytest.mark.parametrize("variant", VARIANTS)
def test_training_step_reaches_every_used_parameter(variant):
    torch.manual_seed(0)
    model = TDANet(variant, sample_rate=8000, **TINY).train()
    model(torch.randn(2, 1600)).pow(2).mean().backward()
    no_grad = sorted(name for name, p in model.named_parameters() if p.grad is None)
    # The release never uses the top-down fusion of the coarsest scale (kept for checkpoint loading).
    unused = [] if variant == "paper" else [n for n, _ in model.named_parameters()
                                             if n.startswith("block.top_down.fusions.2.")]
    assert no_grad == sorted(unused)


def test_dropout_only_in_training():
    torch.manual_seed(0)
    model = TDANet("paper", sample_rate=8000, **TINY)
    wave = torch.randn(2, 1600)
    with torch.no_grad():
        assert not torch.equal(model.train()(wave), model(wave))
        assert torch.equal(model.eval()(wave), model(wave))


@pytest.mark.parametrize("variant", VARIANTS)
def test_kernels_switch_keeps_weights_outputs_and_gradients(variant):
    """The kernels are drop-in: same state dict (checkpoints load either way), same training step."""
    models, results = [], []
    for kernels in (True, False):
        torch.manual_seed(0)
        model = TDANet(variant, sample_rate=8000, **TINY, kernels=kernels).train()
        out = model(torch.randn(2, 1601))
        out.pow(2).mean().backward()
        models.append(model)
        results.append((out, {name: p.grad for name, p in model.named_parameters() if p.grad is not None}))
    (fast, fast_grads), (stock, stock_grads) = results
    assert models[0].state_dict().keys() == models[1].state_dict().keys()
    assert all(torch.equal(v, models[1].state_dict()[k]) for k, v in models[0].state_dict().items())
    torch.testing.assert_close(fast, stock, atol=1e-6, rtol=1e-5)
    assert fast_grads.keys() == stock_grads.keys()
    for name, grad in fast_grads.items():
        torch.testing.assert_close(grad, stock_grads[name], atol=1e-7, rtol=1e-4, msg=name)
    assert use_kernels(models[0], False) is False
    assert not any(type(m).__module__ == "tdanet.kernels" for m in models[0].modules())
    with pytest.raises(ValueError, match="kernels='yes': choose True or False"):
        TDANet(variant, sample_rate=8000, **TINY, kernels="yes")


def test_tdanet_modules_do_not_import_each_other_at_module_level():
    """A module-level import cycle breaks `import` depending on which module is loaded first."""
    package = Path(__file__).resolve().parents[1] / "tdanet"
    imports = {}
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text())
        names = {alias.name for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
        names |= {("tdanet." if node.level else "") + (node.module or "")
                  for node in tree.body if isinstance(node, ast.ImportFrom)}
        imports[f"tdanet.{path.stem}"] = {n for n in names if n.startswith("tdanet.")}
    cycles = sorted((a, b) for a, deps in imports.items() for b in deps if a in imports.get(b, ()))
    assert not cycles, cycles


@pytest.mark.parametrize("length, kernel_size, stride", [(7, 5, 1), (8, 5, 2), (13, 5, 2), (9, 1, 1)])
def test_depthwise_conv_gradients(length, kernel_size, stride):
    x = torch.randn(2, 3, length, dtype=torch.double, requires_grad=True)
    weight = torch.randn(3, 1, kernel_size, dtype=torch.double, requires_grad=True)
    bias = torch.randn(3, dtype=torch.double, requires_grad=True)
    padding = (kernel_size - 1) // 2
    assert gradcheck(lambda *a: DepthwiseConvFunction.apply(*a, stride, padding), (x, weight, bias))
    torch.testing.assert_close(DepthwiseConvFunction.apply(x, weight, bias, stride, padding),
                               F.conv1d(x, weight, bias, stride, padding, groups=3))


@pytest.mark.parametrize("n_local, n_global", [(14, 7), (13, 7), (61, 8), (7, 13), (5, 5)])
def test_gated_resize_gradients(n_local, n_global):
    local = torch.randn(2, 3, n_local, dtype=torch.double, requires_grad=True)
    gate = torch.rand(2, 3, n_global, dtype=torch.double, requires_grad=True)
    embedding = torch.randn(2, 3, n_global, dtype=torch.double, requires_grad=True)
    assert gradcheck(GatedResize.apply, (local, gate, embedding))
    assert gradcheck(lambda x, g: GatedResize.apply(x, g, None), (local, gate))
    expected = local * F.interpolate(gate, n_local) + F.interpolate(embedding, n_local)
    torch.testing.assert_close(GatedResize.apply(local, gate, embedding), expected)
