"""Test a TDANet checkpoint on the default corpus's test mixtures (unseen voices)."""
from tdanet.recipe import test_main
from speechkit.cli import run

run(test_main, "configs/tdanet/default.yaml")
