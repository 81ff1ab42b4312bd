"""The TDANet experiment steps that the numbered scripts run: train a checkpoint, test one on a split."""
from functools import partial
from pathlib import Path

import torch

from speechkit.cli import experiment_parser
from speechkit.config import load_config, to_dict
from speechkit.losses import best_permutation, pairwise_neg_si_snr, pit_loss
from speechkit.drawn_data import drawn_mixture_set
from speechkit.manifest import read_manifest
from speechkit.separation_data import SeparationDataset, collate, split_folder
from speechkit.trainer import Task, fit, training_run

from .config import TDANetConfig
from .evaluation import evaluate_separator
from .inference import build_model, load_separator, model_spec


def pit_si_snr_loss(model, batch, device, drop_below_db=None, bf16=False) -> torch.Tensor:
    """Negative SI-SNR per mixture under the best speaker permutation."""
    mixture, sources = (t.to(device) for t in batch)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16 and device.type == "cuda"):
        estimates = model(mixture)
    matrix = pairwise_neg_si_snr(estimates.float(), sources)
    if model.training and drop_below_db is not None:
        loss, _ = pit_loss(matrix, drop_below_db)  # the mean over the items still below the threshold
        return loss.expand(len(matrix))
    return best_permutation(matrix)[0]


def _split(cfg: TDANetConfig, which: str) -> list:
    folder = getattr(cfg.data, which)
    if folder is None:
        raise ValueError(f"config {cfg.name}: data.{which} (a split folder) is not set")
    return split_folder(folder, cfg.data.mixture_folder, cfg.data.source_folders, cfg.data.sample_rate)


def train(cfg: TDANetConfig) -> dict:
    """Train on random crops of `data.train` (or mixtures drawn from `data.pools`), validating on
    `data.valid` crops, into `checkpoints/<name>.dnn`."""
    if (cfg.data.train is None) == (cfg.data.pools is None):
        raise ValueError(f"config {cfg.name}: set one of data.train (a split folder) and data.pools (drawn mixtures)")
    with training_run(cfg.train) as process:
        train_set = (SeparationDataset(_split(cfg, "train"), cfg.data.sample_rate, cfg.data.segment_s, cfg.train.seed)
                     if cfg.data.pools is None else
                     drawn_mixture_set(cfg.data.pools, cfg.data.draw, cfg.data.sample_rate, cfg.data.segment_s,
                                       cfg.data.items_per_epoch, cfg.train.seed))
        valid_set = SeparationDataset(_split(cfg, "valid"), cfg.data.sample_rate, cfg.data.segment_s,
                                      cfg.train.seed)
        model = build_model(cfg.model, cfg.data.sample_rate, len(cfg.data.source_folders))
        if cfg.compile:
            model.compile()
        loss = partial(pit_si_snr_loss, drop_below_db=cfg.loss.drop_below_db, bf16=cfg.precision == "bf16")
        task = Task(train_set, valid_set, train_set.lengths, valid_set.lengths, collate, loss,
                    partial(_iterate_block, model, cfg) if cfg.shallow_start.epochs else None)
        return fit(model, task, cfg.train, cfg.optim, cfg.dnn_dir, to_dict(cfg), process,
                   model_spec(cfg.model, cfg.data.sample_rate, len(cfg.data.source_folders)))


def _iterate_block(model, cfg: TDANetConfig, epoch: int) -> bool:
    """Set how many times the shared block runs in this epoch (config `shallow_start`); True once it is the
    model's own `num_blocks`, the final form."""
    shallow = epoch <= cfg.shallow_start.epochs
    model.num_blocks = cfg.shallow_start.num_blocks if shallow else cfg.model.num_blocks
    return not shallow


def test(cfg: TDANetConfig, checkpoint=None, out_dir=None, device: str = "auto", **official) -> dict:
    """Separate every full-length mixture of `data.test`; write per_utterance.csv, summary.json, examples."""
    checkpoint = Path(checkpoint) if checkpoint is not None else cfg.dnn_dir
    separator = load_separator(checkpoint, device=device, **official)
    dataset = SeparationDataset(_split(cfg, "test"), separator.sample_rate)
    if out_dir is None:
        out_dir = Path(cfg.checkpoint_dir) / f"{checkpoint.stem}.eval" / Path(cfg.data.test).name
    return evaluate_separator(separator, dataset, out_dir, title=f"{checkpoint.name} on {cfg.data.test}",
                              n_examples=cfg.test.n_examples, progress=cfg.train.progress,
                              types=mixture_types(Path(cfg.data.test)))


def mixture_types(split_dir: Path) -> dict[str, str] | None:
    """Mixture id -> type from the manifest beside a default-corpus split folder (lrs2mix/tt.csv), if any."""
    manifest = split_dir.with_suffix(".csv")
    if not manifest.is_file():
        return None
    rows = read_manifest(manifest, required=("mix_path",), check_files=False)
    return {row["mix_path"].stem: row["type"] for row in rows if "type" in row} or None


def train_main(default_config: str, argv=None) -> None:
    """Entry point of the numbered training scripts."""
    args = experiment_parser(train.__doc__, default_config).parse_args(argv)
    train(load_config(args.config, TDANetConfig, args.overrides))


def test_main(default_config: str, argv=None) -> None:
    """Entry point of the numbered test scripts."""
    parser = experiment_parser(test.__doc__, default_config)
    parser.add_argument("--checkpoint", help="our .dnn directory or an authors' file (default: the config's own)")
    parser.add_argument("--variant", help="for an authors' bare state_dict: paper or official-release")
    parser.add_argument("--sample-rate", type=int, help="for an authors' file: the rate it was trained at")
    parser.add_argument("--out", help="output folder (default: checkpoints/<checkpoint name>.eval/<test split>/)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    official = {k: v for k, v in (("variant", args.variant), ("sample_rate", args.sample_rate)) if v is not None}
    test(load_config(args.config, TDANetConfig, args.overrides), args.checkpoint, args.out, args.device, **official)
