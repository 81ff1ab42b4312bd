"""Train TDANet on LRS2-2Mix (--config configs/tdanet/lrs2mix_large.yaml for TDANet Large)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tdanet.recipe import train_main  # noqa: E402
from speechkit.cli import run  # noqa: E402

run(train_main, "configs/tdanet/lrs2mix.yaml")
