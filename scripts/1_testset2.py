"""Test the training-set-2 AWSSDR model on the ACE challenge evaluation set."""
from awssdr.recipe import test_main
from speechkit.cli import run

run(test_main, "configs/awssdr/trainset2.yaml")
