"""Test a TDANet checkpoint on the default corpus's test mixtures (unseen voices)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tdanet.recipe import test_main  # noqa: E402
from speechkit.cli import run  # noqa: E402

run(test_main, "configs/tdanet/default.yaml")
