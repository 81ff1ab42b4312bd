"""Train TDANet on the default corpus's two-speaker mixtures (LRS2-2Mix layout), demo scale."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tdanet.recipe import train_main  # noqa: E402
from speechkit.cli import run  # noqa: E402

run(train_main, "configs/tdanet/default.yaml")
