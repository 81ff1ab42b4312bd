"""Test a TDANet checkpoint on the LRS2-2Mix test set (tt)."""
from tdanet.recipe import test_main
from speechkit.cli import run

run(test_main, "configs/tdanet/lrs2mix.yaml")
