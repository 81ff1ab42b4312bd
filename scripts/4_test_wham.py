"""Test a TDANet checkpoint on the WHAM! test set (tt)."""
from tdanet.recipe import test_main
from speechkit.cli import run

run(test_main, "configs/tdanet/wham.yaml")
