"""Backward nodes that cannot run on CUDA in deterministic mode, and a walk that finds them in a graph.

Training turns `torch.use_deterministic_algorithms(True)` on (`train.deterministic`, the default). On a
GPU, one of the nodes below in a model's autograd graph then stops training with a RuntimeError at the
first backward pass; on CPU the same graph runs fine. Walking the graph finds them without a GPU
(tests/test_cuda_determinism_guard.py does, for both models).
"""
import torch

# The docstring of torch.use_deterministic_algorithms (torch 2.13), list "The following
# normally-nondeterministic operations will throw a RuntimeError when mode=True", as the names their
# nodes have in a graph (`grad_fn.name()`, checked by building each one). Its other list (operations made
# deterministic in that mode) is allowed. Entries without an autograd node cannot be seen in a graph:
# histc, bincount, and Tensor.resize_ of quantized tensors.
FORBIDDEN_BACKWARD_NODES = {
    "AvgPool3DBackward0": "nn.AvgPool3d",
    "AdaptiveAvgPool2DBackward0": "nn.AdaptiveAvgPool2d; also F.adaptive_avg_pool1d, which runs as 2-D",
    "AdaptiveAvgPool3DBackward0": "nn.AdaptiveAvgPool3d",
    "AdaptiveMaxPool2DBackward0": "nn.AdaptiveMaxPool2d; also F.adaptive_max_pool1d",
    "FractionalMaxPool2DBackward0": "nn.FractionalMaxPool2d",
    "FractionalMaxPool3DBackward0": "nn.FractionalMaxPool3d",
    "MaxUnpool2DBackward0": "nn.MaxUnpool1d, nn.MaxUnpool2d",
    "MaxUnpool3DBackward0": "nn.MaxUnpool3d",
    "UpsampleLinear1DBackward0": 'F.interpolate(mode="linear")',
    "UpsampleBilinear2DBackward0": 'F.interpolate(mode="bilinear")',
    "UpsampleBilinear2DAaBackward0": 'F.interpolate(mode="bilinear", antialias=True)',
    "UpsampleBicubic2DBackward0": 'F.interpolate(mode="bicubic")',
    "UpsampleBicubic2DAaBackward0": 'F.interpolate(mode="bicubic", antialias=True)',
    "UpsampleTrilinear3DBackward0": 'F.interpolate(mode="trilinear")',
    "ReflectionPad1DBackward0": 'nn.ReflectionPad1d, F.pad(mode="reflect")',
    "ReflectionPad2DBackward0": 'nn.ReflectionPad2d, F.pad(mode="reflect")',
    "ReflectionPad3DBackward0": 'nn.ReflectionPad3d, F.pad(mode="reflect")',
    "NllLossBackward0": "nn.NLLLoss; also F.cross_entropy",
    "NllLoss2DBackward0": "nn.NLLLoss on (batch, classes, height, width)",
    "CtcLossBackward0": "nn.CTCLoss",
    "EmbeddingBagBackward0": "nn.EmbeddingBag (throws with mode='max'; the node does not tell the mode)",
    "PutBackward0": "Tensor.put_",
    "MedianBackward1": "torch.median with indices (a dim given)",
    "GridSampler2DBackward0": "F.grid_sample",
    "GridSampler3DBackward0": "F.grid_sample",
    "CumsumBackward0": "torch.cumsum of floating point (its forward throws already)",
    "ScatterReduceBackward0": "Tensor.scatter_reduce (throws with reduce='prod'; the node does not tell which)",
}


def backward_node_names(*outputs: torch.Tensor) -> set[str]:
    """Names of every node in the autograd graphs that produced `outputs`."""
    seen, stack = set(), [output.grad_fn for output in outputs]
    while stack:
        node = stack.pop()
        if node is not None and node not in seen:
            seen.add(node)
            stack.extend(next_node for next_node, _ in node.next_functions)
    return {node.name() for node in seen}


def forbidden_nodes(*outputs: torch.Tensor) -> list[str]:
    """The nodes of `outputs`' graphs that throw on CUDA under deterministic mode, sorted (empty: none)."""
    return sorted(backward_node_names(*outputs) & FORBIDDEN_BACKWARD_NODES.keys())


def forbidden_nodes_of_step(loss: torch.Tensor, parameters) -> list[str]:
    """forbidden_nodes of a training step: of `loss`, and of its gradients computed with create_graph.

    Those gradients record the ops that backward runs, also inside custom autograd Functions, whose
    hand-written backward the loss's own graph does not show. An op there that only throws in its own
    backward (which a training step never runs) is reported too: the check errs on the safe side."""
    parameters = [p for p in parameters if p.requires_grad]
    grads = torch.autograd.grad(loss, parameters, create_graph=True, allow_unused=True)
    return forbidden_nodes(loss, *(grad for grad in grads if grad is not None))
