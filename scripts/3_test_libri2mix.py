"""Test a TDANet checkpoint on the Libri2Mix test set."""
from tdanet.recipe import test_main
from speechkit.cli import run

run(test_main, "configs/tdanet/libri2mix.yaml")
