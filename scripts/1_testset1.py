"""Test the training-set-1 AWSSDR model on the ACE challenge evaluation set."""
from awssdr.recipe import test_main
from speechkit.cli import run

run(test_main, "configs/awssdr/trainset1.yaml")
