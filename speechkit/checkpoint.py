"""The `.dnn` checkpoint: a directory `NAME.dnn/` in the layout of the authors' AWSSDR code.

    latest_weights.pyt   model state_dict (torch.save)      <- all the authors' released .dnn hold
    latest_optim.pyt     optimizer state_dict
    trainer_state.pyt    scheduler state and early-stopping counters, for resuming
    best_weights.pyt     state_dict of the epoch with the best validation score
    config.yaml          the resolved experiment config, for resuming (and loading checkpoints without a spec)
    checkpoint.json      epoch, step, best validation score, history, library versions and processor, and
                         under "model" what rebuilds the network: {"kind", "args" (constructor arguments), ...}

A save writes a complete new directory `NAME.dnn.tmp/` and then swaps it in with renames, so a crash
at any moment leaves either the previous checkpoint or the new one, never a mix or a half-written file.
Loading never falls back to a fresh model: a missing or damaged file is an error. Every loader and test
script picks its weights with one rule, `model_weights_file`.
"""
import json
import os
import platform
import shutil
from pathlib import Path

import torch
import yaml

from .errors import UserError
from .machine import machine

WEIGHTS = "latest_weights.pyt"
OPTIM = "latest_optim.pyt"
TRAINER_STATE = "trainer_state.pyt"
BEST_WEIGHTS = "best_weights.pyt"
CONFIG = "config.yaml"
INFO = "checkpoint.json"
RESUME_FILES = (WEIGHTS, OPTIM, TRAINER_STATE, CONFIG, INFO)


class CheckpointError(UserError, RuntimeError):
    """A checkpoint that is missing or cannot be loaded; the message names the path and what is wrong."""


def save_checkpoint(dnn_dir, *, weights: dict, optim: dict, trainer_state: dict, config: dict, info: dict,
                    best_weights: dict | None = None) -> Path:
    """Write all files of a checkpoint atomically (see the module docstring); returns the directory."""
    dnn_dir = Path(dnn_dir)
    tmp, old = _sibling(dnn_dir, ".tmp"), _sibling(dnn_dir, ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    torch.save(weights, tmp / WEIGHTS)
    torch.save(optim, tmp / OPTIM)
    torch.save(trainer_state, tmp / TRAINER_STATE)
    if best_weights is not None:
        torch.save(best_weights, tmp / BEST_WEIGHTS)
    (tmp / CONFIG).write_text(yaml.safe_dump(config, sort_keys=False))
    (tmp / INFO).write_text(json.dumps({**info, "versions": library_versions()}, indent=2) + "\n")
    _fsync_dir(tmp)
    if dnn_dir.exists():
        _carry_over(dnn_dir, tmp)
        shutil.rmtree(old, ignore_errors=True)
        os.replace(dnn_dir, old)
    os.replace(tmp, dnn_dir)
    shutil.rmtree(old, ignore_errors=True)
    return dnn_dir


def model_weights_file(dnn_dir) -> Path:
    """The weights a model is used with (inference, evaluation, every loader and test script): best_weights.pyt
    when present, else latest_weights.pyt.

    The epoch with the best validation score is the usual choice and the TDANet authors' (their
    best_model.pth); it does not depend on how many epochs past the best one a run went on. Our training
    writes best_weights.pyt from its first epoch, so latest_weights.pyt is used for the AWSSDR authors'
    released .dnn, which hold nothing else (the authors delivered their last epoch), and for checkpoints
    written without it."""
    dnn_dir = _existing(dnn_dir)
    best = dnn_dir / BEST_WEIGHTS
    return best if best.is_file() else dnn_dir / WEIGHTS


def load_model_weights(dnn_dir) -> dict:
    """The state_dict `model_weights_file` picks, on the CPU."""
    return _torch_load(model_weights_file(dnn_dir))


def load_weights(dnn_dir, which: str = "latest") -> dict:
    """One named weights file (`which` = "latest" or "best"), on the CPU: for training tools; a model to be
    used is loaded with `load_model_weights`."""
    dnn_dir = _existing(dnn_dir)
    name = {"latest": WEIGHTS, "best": BEST_WEIGHTS}[which]
    return _torch_load(dnn_dir / name)


def read_model_spec(dnn_dir, kind: str) -> dict | None:
    """The model spec checkpoint.json records ({"kind": kind, "args": constructor arguments, ...}), or None
    for a checkpoint without one (written before specs were recorded, or the authors' release).
    A spec of another kind is an error naming both kinds."""
    dnn_dir = _existing(dnn_dir)
    info_file = dnn_dir / INFO
    if not info_file.is_file():
        return None
    try:
        info = json.loads(info_file.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{info_file}: damaged: {err}") from err
    spec = info.get("model") if isinstance(info, dict) else None
    if spec is None:
        return None
    if not isinstance(spec, dict) or not isinstance(spec.get("args"), dict):
        raise CheckpointError(f"{info_file}: \"model\" must be a mapping with \"kind\" and \"args\", got {spec!r}")
    if spec.get("kind") != kind:
        raise CheckpointError(f"{dnn_dir}: its {INFO} records a model of kind {spec.get('kind')!r}, not {kind!r}")
    return spec


def load_training_state(dnn_dir) -> dict:
    """Everything needed to resume training: weights, optim, trainer_state, config, info."""
    dnn_dir = _existing(dnn_dir)
    missing = [name for name in RESUME_FILES if not (dnn_dir / name).is_file()]
    if missing:
        raise CheckpointError(f"{dnn_dir}: cannot resume, missing {', '.join(missing)}"
                              " (an inference-only checkpoint, or not written by this code)")
    try:
        config = yaml.safe_load((dnn_dir / CONFIG).read_text())
        info = json.loads((dnn_dir / INFO).read_text())
    except (yaml.YAMLError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{dnn_dir}: damaged {CONFIG} or {INFO}: {err}") from err
    return {"weights": _torch_load(dnn_dir / WEIGHTS), "optim": _torch_load(dnn_dir / OPTIM),
            "trainer_state": _torch_load(dnn_dir / TRAINER_STATE), "config": config, "info": info}


def can_resume(dnn_dir) -> bool:
    """True when `dnn_dir` (or its pending swap) holds every file needed to resume."""
    try:
        dnn_dir = _existing(dnn_dir)
    except CheckpointError:
        return False
    return all((dnn_dir / name).is_file() for name in RESUME_FILES)


def shipped(dnn_dir: Path, model: str) -> Path:
    """The directory of a model the project ships, or a clear error while it is not shipped yet."""
    if not dnn_dir.is_dir():
        raise CheckpointError(f"no default {model} model is shipped yet ({dnn_dir} is missing); "
                              "give a checkpoint: --checkpoint PATH, or checkpoint=PATH in Python")
    return dnn_dir


def export_for_inference(dnn_dir, out_dir) -> Path:
    """Copy what inference needs from a training checkpoint to `out_dir`: the weights `model_weights_file`
    picks (as best_weights.pyt), config.yaml and checkpoint.json; no optimizer or trainer state. Written
    to a temporary sibling, then renamed into place."""
    dnn_dir, out_dir = _existing(dnn_dir), Path(out_dir)
    tmp = _sibling(out_dir, ".export")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    shutil.copyfile(model_weights_file(dnn_dir), tmp / BEST_WEIGHTS)
    for name in (CONFIG, INFO):
        shutil.copyfile(dnn_dir / name, tmp / name)
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    return out_dir


def library_versions() -> dict:
    """Versions recorded in checkpoint.json so a result can be traced to its software, and the processor
    (`speechkit.machine`): float32 weights are reproducible on one kind of processor, not across kinds."""
    import numpy
    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__,
            **machine()}


def _existing(dnn_dir) -> Path:
    """`dnn_dir`, or finish a swap that a crash interrupted between its two renames."""
    dnn_dir = Path(dnn_dir)
    old = _sibling(dnn_dir, ".old")
    if not dnn_dir.exists() and old.is_dir():
        os.replace(old, dnn_dir)
    if not dnn_dir.is_dir():
        hint = " (a .dnn checkpoint is a directory)" if dnn_dir.is_file() else ""
        raise CheckpointError(f"checkpoint not found: {dnn_dir}{hint}")
    return dnn_dir


def _torch_load(path: Path) -> dict:
    if not path.is_file():
        raise CheckpointError(f"checkpoint file missing: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for truncated or foreign files
        raise CheckpointError(f"cannot load {path}: {err}") from err


def _sibling(dnn_dir: Path, suffix: str) -> Path:
    return dnn_dir.with_name(dnn_dir.name + suffix)


def _carry_over(previous: Path, new: Path) -> None:
    """Keep files that others put in the checkpoint directory (e.g. evaluation outputs)."""
    for entry in previous.iterdir():
        if not (new / entry.name).exists():
            os.replace(entry, new / entry.name)


def _fsync_dir(directory: Path) -> None:
    for path in directory.iterdir():
        with open(path, "rb") as f:
            os.fsync(f.fileno())
