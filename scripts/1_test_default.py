"""Test an AWSSDR checkpoint on the default corpus's test split (unseen voices and rooms)."""
from awssdr.recipe import test_main
from speechkit.cli import run

run(test_main, "configs/awssdr/default.yaml")
