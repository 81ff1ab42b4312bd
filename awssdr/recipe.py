"""The AWSSDR experiment steps that the numbered scripts run: train a checkpoint, test one on a manifest."""
from dataclasses import replace
from functools import partial
from pathlib import Path

import torch

from speechkit import checkpoint
from speechkit.cli import experiment_parser
from speechkit.config import load_config, to_dict
from speechkit.machine import training_precision
from speechkit.trainer import Task, fit, training_run

from .config import AWSSDRConfig
from .dataset import T60Dataset, collate, drawn_t60_set
from .evaluation import attention_collapse_check, evaluate_estimator
from .inference import build_model, load_estimator, model_spec


def mse_loss(model, batch, device, bf16: bool = False) -> torch.Tensor:
    """Squared error per utterance; counts batches in the model's `step` buffer as the authors did. `bf16`
    autocasts training steps only: validation runs in float32, as inference does."""
    sdr, mask, t60_s = (t.to(device) for t in batch)
    if model.training:
        _unwrap(model).step += 1
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16 and model.training):
        estimate, _, _ = model(sdr, mask)
    return (estimate.float().squeeze(1) - t60_s) ** 2


def train(cfg: AWSSDRConfig) -> dict:
    """Train on `data.train` (or items drawn from `data.pools`), validating on `data.valid`, writing
    `checkpoints/<name>.dnn` every epoch."""
    if (cfg.data.train is None) == (cfg.data.pools is None):
        raise ValueError(f"config {cfg.name}: set one of data.train (a manifest) and data.pools (drawn items)")
    if cfg.data.valid is None:
        raise ValueError(f"config {cfg.name}: data.valid (a manifest) is needed for training")
    with training_run(cfg.train) as process:
        if cfg.precision == "auto":  # the checkpoint records what it resolved to on this machine
            cfg = replace(cfg, precision=training_precision(cfg.precision, process.device))
            if process.is_main:
                print(f"precision auto: {cfg.precision} on {process.device}")
        show = cfg.train.progress and process.is_main
        train_set = (T60Dataset(cfg.data.train, cfg.features, cfg.data.cache_dir, progress=show)
                     if cfg.data.pools is None else
                     drawn_t60_set(cfg.data.pools, cfg.data.draw, cfg.features, cfg.data.items_per_epoch,
                                   cfg.train.seed, cfg.data.recorded_highpass_hz))
        valid_set = T60Dataset(cfg.data.valid, cfg.features, cfg.data.cache_dir, progress=show)
        model = build_model(cfg.model, cfg.features)
        loss = partial(mse_loss, bf16=cfg.precision == "bf16")
        task = Task(train_set, valid_set, train_set.lengths, valid_set.lengths, collate, loss,
                    check=partial(attention_collapse_check, dataset=valid_set))
        return fit(model, task, cfg.train, cfg.optim, cfg.dnn_dir, to_dict(cfg), process,
                   model_spec(cfg.model, cfg.features))


def test(cfg: AWSSDRConfig, dnn_dir=None, out_dir=None, device: str = "auto") -> dict:
    """Evaluate a checkpoint (ours, or the authors' released .dnn) on `data.test`; returns the summary."""
    if cfg.data.test is None:
        raise ValueError(f"config {cfg.name}: data.test (a manifest) is needed for testing")
    dnn_dir = Path(dnn_dir) if dnn_dir is not None else cfg.dnn_dir
    if not dnn_dir.is_dir():
        raise checkpoint.CheckpointError(f"checkpoint not found: {dnn_dir} (train it first, or pass --checkpoint)")
    estimator = load_estimator(dnn_dir, device=device)
    dataset = T60Dataset(cfg.data.test, estimator.params, cfg.data.cache_dir, progress=cfg.train.progress)
    if out_dir is None:
        out_dir = Path(cfg.checkpoint_dir) / f"{dnn_dir.stem}.eval" / Path(cfg.data.test).stem
    return evaluate_estimator(estimator, dataset, out_dir, title=f"{dnn_dir.name} on {cfg.data.test}")


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return getattr(model, "module", model)


def train_main(default_config: str, argv=None) -> None:
    """Entry point of the numbered training scripts."""
    args = experiment_parser(train.__doc__, default_config).parse_args(argv)
    train(load_config(args.config, AWSSDRConfig, args.overrides))


def test_main(default_config: str, argv=None) -> None:
    """Entry point of the numbered test scripts."""
    parser = experiment_parser(test.__doc__, default_config)
    parser.add_argument("--checkpoint", help="a .dnn directory (default: the config's own checkpoint)")
    parser.add_argument("--out", help="output folder (default: checkpoints/<checkpoint name>.eval/<manifest name>/)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    test(load_config(args.config, AWSSDRConfig, args.overrides), args.checkpoint, args.out, args.device)
