"""Test the training-set-1 AWSSDR model on the ACE challenge evaluation set."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from awssdr.recipe import test_main  # noqa: E402
from speechkit.cli import run  # noqa: E402

run(test_main, "configs/awssdr/trainset1.yaml")
