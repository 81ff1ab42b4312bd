"""Train AWSSDR on the built-in default corpus (scripts/0_make_default_data.py makes it)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from awssdr.recipe import train_main  # noqa: E402
from speechkit.cli import run  # noqa: E402

run(train_main, "configs/awssdr/default.yaml")
