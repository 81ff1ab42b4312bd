"""Test an AWSSDR checkpoint on the default corpus's test split (unseen voices and rooms)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from awssdr.recipe import test_main  # noqa: E402
from speechkit.cli import run  # noqa: E402

run(test_main, "configs/awssdr/default.yaml")
